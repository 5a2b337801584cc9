import FascicoloLedger
import FascicoloStorage

// The only place in this module that opens the ledger's storage (`LedgerStore`) directly: a
// compacting copy, the counts `stat` shows and the domain rows a restore checks keys against.
// When the ledger offers these through a read snapshot API, only this file changes.

enum LedgerStoreAccess {
    /// Copies the log of `source` into `destination` with LMDB's compacting copy (one consistent
    /// snapshot, safe beside a running daemon); returns the bytes the source used.
    static func compactCopy(from source: String, to destination: String) throws -> Int {
        let store = try LedgerStore.open(directory: source, readOnly: true)
        defer { store.environment.close() }
        let usedBytes = store.environment.usedBytes
        try store.environment.copy(to: destination, compact: true)
        return usedBytes
    }

    /// What the log in `directory` holds that its domain secrets must match (read-only).
    static func domainContents(_ directory: String) throws -> DataDirectory.DomainContents {
        let store = try LedgerStore.open(directory: directory, readOnly: true)
        defer { store.environment.close() }
        var contents = DataDirectory.DomainContents()
        let prefix = Array("person:".utf8)
        contents.hasPersons = try store.environment.read { txn in
            try txn.withCursor(store.streams) { cursor in
                try cursor.seek(atOrAfter: prefix).map { Array($0.key).starts(with: prefix) } ?? false
            }
        }
        (contents.pseudonymKeyCheck, contents.recordsKeyCheck) = try store.environment.read { txn in
            (try txn.get(store.meta, key: Array("pseudonym_key_check".utf8)), try txn.get(store.meta, key: Array("records_key_check".utf8)))
        }
        // A log written before the domain existed has no person_keys table.
        if let table = try? store.environment.openTable("person_keys") {
            contents.sampleKey = try store.environment.read { txn in
                try txn.withCursor(table) { cursor in
                    try cursor.first().map { (Array($0.key), Array($0.value)) }
                }
            }
        }
        return contents
    }

    /// The counts and rows `stat` shows, from one read transaction.
    struct Counts {
        let origin: String
        let entries: UInt64
        let streams: Int
        let checkpoints: Int
        let lastCheckpointNote: String?
        let shreddingDue: Bool
        let recordsKeyGeneration: UInt64
        let mapUsedBytes: Int
        let mapSizeBytes: Int
    }

    static func counts(_ directory: String) throws -> Counts {
        let store = try LedgerStore.open(directory: directory, readOnly: true)
        defer { store.environment.close() }
        let origin = try store.origin()
        let counts = try store.environment.read { txn in
            let last = try txn.withCursor(store.checkpoints) { cursor in
                try cursor.last().map { String(decoding: $0.value, as: UTF8.self) }
            }
            // The meta row PersonKeys.rotationDueRow (Formats.md, "Erasure rotates records.key").
            let due = try txn.get(store.meta, key: Array("records_key_rotation_due".utf8)) != nil
            // records.key's generation: one more at every erasure (Formats.md, "Erasure rotates records.key").
            let generation = try txn.get(store.meta, key: Array("records_key_generation".utf8)).flatMap(BigEndian.uint64) ?? 0
            return (entries: try store.size(in: txn), streams: try txn.count(store.streams),
                    checkpoints: try txn.count(store.checkpoints), last: last, due: due, generation: generation)
        }
        return Counts(origin: origin, entries: counts.entries, streams: counts.streams, checkpoints: counts.checkpoints,
                      lastCheckpointNote: counts.last, shreddingDue: counts.due, recordsKeyGeneration: counts.generation,
                      mapUsedBytes: store.environment.usedBytes, mapSizeBytes: store.environment.mapSizeBytes)
    }
}
