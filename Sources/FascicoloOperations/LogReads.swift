import FascicoloLedger
import FascicoloStorage

/// What the offline operations read from a log, through the ledger's read-only `LedgerReader`
/// (the ledger alone knows its tables and key encodings).
enum LogReads {
    /// Copies the log of `source` into `destination` with LMDB's compacting copy (one consistent
    /// snapshot, safe beside a running daemon); returns the bytes the source used.
    static func compactCopy(from source: String, to destination: String) throws -> Int {
        let log = try LedgerReader.open(directory: source)
        defer { log.close() }
        let usedBytes = log.usedBytes
        try log.copy(to: destination, compact: true)
        return usedBytes
    }

    /// What the log in `directory` holds that its domain secrets must match (read-only).
    static func domainContents(_ directory: String) throws -> DataDirectory.DomainContents {
        let log = try LedgerReader.open(directory: directory)
        defer { log.close() }
        var contents = DataDirectory.DomainContents()
        // A log written before the domain existed has no person_keys table.
        let keys = try log.sideTable(named: "person_keys")
        try log.read { snapshot in
            contents.hasPersons = try snapshot.hasStream(withPrefix: "person:")
            contents.pseudonymKeyCheck = try snapshot.metaValue("pseudonym_key_check")
            contents.recordsKeyCheck = try snapshot.metaValue("records_key_check")
            if let keys {
                try snapshot.forEachRow(in: keys) { key, value in
                    contents.sampleKey = (Array(key), Array(value))
                    return false
                }
            }
        }
        return contents
    }

    /// The counts and rows `stat` shows, from one read snapshot.
    struct Counts {
        let origin: String
        let entries: UInt64
        let streams: Int
        let checkpoints: Int
        let lastCheckpointNote: String?
        /// The log's keys as its rotations give them; nil when the key never changed.
        let keyRotations: KeyChain?
        let shreddingDue: Bool
        let recordsKeyGeneration: UInt64
        let mapUsedBytes: Int
        let mapSizeBytes: Int
    }

    static func counts(_ directory: String) throws -> Counts {
        let log = try LedgerReader.open(directory: directory)
        defer { log.close() }
        let origin = try log.origin()
        return try log.read { snapshot in
            let (checkpoints, last) = try snapshot.checkpoints()
            // The meta row PersonKeys.rotationDueRow (Formats.md, "Erasure rotates records.key").
            let due = try snapshot.metaValue("records_key_rotation_due") != nil
            // records.key's generation: one more at every erasure (Formats.md, "Erasure rotates records.key").
            let generation = try snapshot.metaValue("records_key_generation").flatMap(BigEndian.uint64) ?? 0
            return Counts(
                origin: origin, entries: try snapshot.entryCount(), streams: try snapshot.streamCount(),
                checkpoints: checkpoints, lastCheckpointNote: last, keyRotations: try? snapshot.keyRotations(), shreddingDue: due,
                recordsKeyGeneration: generation,
                mapUsedBytes: log.usedBytes, mapSizeBytes: log.mapSizeBytes)
        }
    }
}
