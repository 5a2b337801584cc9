import FascicoloStorage
import Testing

@testable import FascicoloLedger

@Suite struct LedgerSnapshotTests {
    /// The snapshot answers by position, stream and version; side tables and the domain's `meta`
    /// rows are written with the append that needs them, or in a write of their own.
    @Test func snapshotsReadTheLogAndItsSideTables() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
            defer { ledger.close() }
            let keys = try ledger.sideTable(named: "person_keys")
            _ = try await ledger.append(
                AppendRequest(
                    stream: "person:a", events: [event("1"), event("2")], author: "uid:1/app",
                    attachedWrites: [AttachedWrite(table: keys, key: [1], value: [9])]))
            _ = try await ledger.append(AppendRequest(stream: "other", events: [event("3")], author: "uid:1/app"))
            _ = try await ledger.append(
                AppendRequest(
                    stream: "person:a", events: [event("4")], author: "uid:1/app",
                    attachedWrites: [
                        AttachedWrite(metaRow: "records_key_rotation_due") { log in
                            // Made inside the commit: it sees the rows committed before it.
                            try log.value(in: keys, key: [1]).map { $0 + [UInt8(try log.streamVersion("person:a"))] }
                        }
                    ]))
            try ledger.read { log in
                #expect(try log.entryCount() == 4)
                #expect(try log.entry(at: 2)?.stream == "other")
                #expect(try log.entry(at: 4) == nil)
                #expect(try log.streamVersion("person:a") == 3 && log.streamVersion("person") == 0)
                #expect(try (1...3).map { try log.position(ofStream: Array("person:a".utf8), version: $0) } == [0, 1, 3])
                #expect(try log.position(ofStream: Array("person:a".utf8), version: 4) == nil)
                var streams: [String] = []
                try log.forEachStream(withPrefix: "person:") { name, version in
                    streams.append(String(decoding: name, as: UTF8.self) + "@\(version)")
                    return true
                }
                #expect(streams == ["person:a@3"])
                #expect(try log.hasStream(withPrefix: "oth") && !log.hasStream(withPrefix: "x"))
                var positions: [UInt64] = []
                try log.forEachEntry(from: 1) { view in
                    positions.append(view.position)
                    return view.position < 2
                }
                #expect(positions == [1, 2])
                #expect(try log.value(in: keys, key: [1]) == [9])
                #expect(try log.metaValue("records_key_rotation_due") == [9, 2])
            }
            try ledger.writeSideTables { writer in
                try writer.put(keys, key: [2], value: [8])
                try writer.setMeta("records_key_rotation_due", nil)
            }
            try ledger.read { log in
                var rows: [[UInt8]] = []
                try log.forEachRow(in: keys) { key, value in
                    rows.append(Array(key) + Array(value))
                    return true
                }
                #expect(rows == [[1, 9], [2, 8]])
                #expect(try log.metaValue("records_key_rotation_due") == nil)
            }
        }
    }

    /// A damaged idempotency row is told apart from a failing store by its cause, not its message.
    @Test func damageKeepsItsCause() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
            defer { ledger.close() }
            let request = AppendRequest(stream: "s", events: [event("1")], idempotencyKey: "k-1", author: "uid:1/app")
            _ = try await ledger.append(request)
            try ledger.store.environment.write { txn in
                var row = try #require(try txn.get(ledger.store.idempotency, key: Array("k-1".utf8)))
                row[0] ^= 1
                try txn.put(ledger.store.idempotency, key: Array("k-1".utf8), value: row)
            }
            let error = await #expect(throws: LedgerError.self) { try await ledger.append(request) }
            #expect(error?.isDamaged == true && error?.code == "storage_damaged")
            #expect((error?.cause as? DamagedData)?.table == "idempotency")

            let failing = LedgerError.storage(.init(StorageError(code: .mapFull, operation: "put into \"entries\"")))
            #expect(!failing.isDamaged && failing.code == "storage_failure")
            #expect(LedgerError.storage(.init(StorageError(code: .corrupted, operation: "read"))).isDamaged)
            #expect(
                failing.description
                    == "storage failure: LMDB error \(StorageError.Code.mapFull.rawValue) (\(StorageError.Code.mapFull)) during put into \"entries\""
            )
        }
    }
}
