import FascicoloCrypto
import FascicoloLedger
import FascicoloOperations
import FascicoloTesting
import Glibc
import Testing

/// The log in C2SP tlog-tiles form (issue 20): the paths of the spec, and an export that
/// `tools/tlog-tiles-check.py` — written from the specs alone — reads and verifies.
@Suite struct TilesTests {
    /// The spec's own examples: index 1234067 is `x001/x234/067`; a tree of 70,000 entries is
    /// 273 full level-0 tiles, a partial one of width 112, one full level-1 tile, a partial one of
    /// width 17 and a partial level-2 tile of width 1; a tree of 256 is a full level-0 tile and a
    /// partial level-1 tile of width 1.
    @Test func pathsAndTilesAreTheSpecs() {
        #expect(TileAddress(.hashes(level: 4), index: 1_234_067, width: 8).path == "tile/4/x001/x234/067.p/8")
        #expect(TileAddress(.entries, index: 5).path == "tile/entries/005")
        let all = TileAddress.all(treeSize: 70_000, entries: false)
        func tiles(level: Int) -> [TileAddress] { all.filter { $0.kind == .hashes(level: level) } }
        #expect(tiles(level: 0).count == 274 && tiles(level: 0).filter { !$0.isPartial }.count == 273)
        #expect(tiles(level: 0).last?.width == 112)
        #expect(tiles(level: 1).map(\.width) == [256, 17])
        #expect(tiles(level: 2).map(\.width) == [1] && all.count == 277)
        #expect(TileAddress.all(treeSize: 256, entries: false).map(\.path) == ["tile/0/000", "tile/1/000.p/1"])
        #expect(TileAddress.all(treeSize: 0, entries: true).isEmpty)

        for path in ["tile/4/x001/x234/067.p/8", "tile/0/000", "tile/entries/x001/000", "tile/63/999.p/255"] {
            #expect(TileAddress(path: path)?.path == path, "\(path)")
        }
        // One resource, one path: anything else is not a tile.
        for path in [
            "tile/04/000", "tile/64/000", "tile/0/00", "tile/0/0000", "tile/0/x000/005", "tile/0/001/002", "tile/0/000.p/256",
            "tile/0/000.p/0", "tile/0/000.p/08", "tile/0/000.p", "tile/x/000", "tiles/0/000", "tile/0/", "tile/0/x001",
            "tile/entries/000.p/1/2", "tile/0/-01", "tile/0/x99999999999999999/000",
        ] {
            #expect(TileAddress(path: path) == nil, "\(path)")
        }
        #expect(TileAddress(.hashes(level: 0), index: 1, width: 3).exists(inTreeOf: 259))
        #expect(!TileAddress(.hashes(level: 0), index: 1, width: 4).exists(inTreeOf: 259))
        #expect(TileAddress(.hashes(level: 1), index: 0, width: 1).exists(inTreeOf: 256))
        #expect(!TileAddress(.hashes(level: 1), index: 0).exists(inTreeOf: 65_535))
    }

    /// An export read by the independent checker; exported again after the log grew, only what is
    /// new is written; a changed byte in a tile is found.
    @Test func anExportIsReadAndVerifiedByAnIndependentClient() async throws {
        guard try runProcess("/usr/bin/env", ["python3", "-c", "import nacl"]).status == 0 else {
            Issue.record("pynacl is missing: tools/bootstrap installs it")
            return
        }
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            #expect(mkdir(data, 0o700) == 0)
            var configuration = LedgerConfiguration()
            configuration.unsafeNoSync = true
            let ledger = try Ledger.open(directory: data, configuration: configuration)
            func append(_ count: Int) async throws {
                var left = count
                while left > 0 {
                    let batch = min(left, 100)
                    _ = try await ledger.append(
                        AppendRequest(
                            stream: "case-\(left % 7)",
                            events: (0..<batch).map { NewEvent(type: "X", payload: Array("entry \(left) \($0)".utf8)) },
                            author: "uid:0/test"))
                    left -= batch
                }
            }
            try await append(600)
            _ = try await ledger.signCheckpoint()
            let key = ledger.verifierKey
            let tiles = directory + "/tiles"
            let first = try TilesExport.run(dataDirectory: data, to: tiles, verifierKey: nil, entries: true)
            // 600 entries: 2 full level-0 tiles and one of 88, a level-1 tile of 2; bundles alike.
            #expect(first.treeSize == 600 && first.written == 7 && first.kept == 0)
            #expect(mode(tiles + "/tile/0/000") == 0o644 && mode(tiles + "/checkpoint") == 0o644)
            #expect(mode(tiles + "/tile/entries") == 0o700 && mode(tiles + "/tile/entries/000") == 0o600)
            let checked = try runProcess("/usr/bin/env", ["python3", "tools/tlog-tiles-check.py", key, tiles, "--entries"])
            #expect(checked.status == 0 && checked.output.contains("OK: tree of 600 entries, 600 entries"), "\(checked.output)")

            try await append(300)
            _ = try await ledger.signCheckpoint()
            ledger.close()
            let second = try TilesExport.run(dataDirectory: data, to: tiles, verifierKey: key, entries: false)
            // Level 0: tile 2 is now full, plus a partial of 132; level 1: a partial of 3. The
            // full tiles 0 and 1 were already there.
            #expect(second.treeSize == 900 && second.written == 3 && second.kept == 2)
            let again = try runProcess("/usr/bin/env", ["python3", "tools/tlog-tiles-check.py", key, tiles])
            #expect(again.status == 0 && again.output.contains("OK: tree of 900 entries"), "\(again.output)")

            // One byte changed in a hash tile: the root no longer folds.
            let path = tiles + "/tile/0/001"
            var bytes = try #require(readFile(path))
            bytes[100] ^= 0x01
            try writeFile(path, bytes)
            let tampered = try runProcess("/usr/bin/env", ["python3", "tools/tlog-tiles-check.py", key, tiles])
            #expect(tampered.status == 1 && tampered.output.contains("FAILED"), "\(tampered.output)")
            // A stranger's key does not verify the checkpoint.
            let stranger = try runProcess("/usr/bin/env", ["python3", "tools/tlog-tiles-check.py", strangerKey(), tiles])
            #expect(stranger.status == 1, "\(stranger.output)")
        }
    }

    /// A log whose key was rotated: its checkpoint is signed by the new key, so a client that
    /// holds the first key needs the rotation checkpoints to follow the chain; given them, the
    /// independent checker verifies the export.
    @Test func theIndependentClientFollowsTheKeyRotations() async throws {
        guard try runProcess("/usr/bin/env", ["python3", "-c", "import nacl"]).status == 0 else {
            Issue.record("pynacl is missing: tools/bootstrap installs it")
            return
        }
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            #expect(mkdir(data, 0o700) == 0)
            var configuration = LedgerConfiguration()
            configuration.unsafeNoSync = true
            let ledger = try Ledger.open(directory: data, configuration: configuration)
            func append(_ count: Int, tag: String) async throws {
                _ = try await ledger.append(
                    AppendRequest(
                        stream: "case-\(tag)", events: (0..<count).map { NewEvent(type: "X", payload: Array("\(tag) \($0)".utf8)) },
                        author: "uid:0/test"))
            }
            let firstKey = ledger.verifierKey
            try await append(300, tag: "a")
            let rotations = [
                try await ledger.rotateKey(author: "uid:0", retire: .destroy),
                try await ledger.rotateKey(author: "uid:0", retire: .destroy),
            ]
            try await append(50, tag: "b")
            _ = try await ledger.signCheckpoint()
            let notes = try rotations.map { try #require(try ledger.checkpoint(size: $0.position + 1)).note }
            let currentKey = ledger.verifierKey
            ledger.close()
            let tiles = directory + "/tiles"
            _ = try TilesExport.run(dataDirectory: data, to: tiles, verifierKey: nil, entries: true)
            func check(_ key: String, _ rotationNotes: [String]?) throws -> (status: Int32, output: String) {
                var arguments = ["python3", "tools/tlog-tiles-check.py", key, tiles, "--entries"]
                if let rotationNotes {
                    let file = directory + "/rotations.json"
                    let json =
                        "["
                        + rotationNotes.map {
                            "\"" + $0.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\n") + "\""
                        }.joined(separator: ",") + "]"
                    try writeFile(file, Array(json.utf8))
                    arguments += ["--key-rotations", file]
                }
                let result = try runProcess("/usr/bin/env", arguments)
                return (result.status, result.output)
            }
            let followed = try check(firstKey, notes)
            #expect(followed.status == 0 && followed.output.contains("OK: tree of 352 entries"), "\(followed.output)")
            // The same notes as `GET /v1/keys` answers them.
            let keysAnswer = directory + "/keys.json"
            let quoted = notes.map { "\"" + $0.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\n") + "\"" }
            try writeFile(
                keysAnswer, Array("{\"verifierKey\":\"\(currentKey)\",\"rotationCheckpoints\":[\(quoted.joined(separator: ","))]}".utf8))
            let fromKeys = try runProcess(
                "/usr/bin/env", ["python3", "tools/tlog-tiles-check.py", firstKey, tiles, "--key-rotations", keysAnswer])
            #expect(fromKeys.status == 0, "\(fromKeys.output)")
            let current = try check(currentKey, nil)
            #expect(current.status == 0, "\(current.output)")
            // The export publishes the notes beside the checkpoint: found there without the option.
            let beside = try check(firstKey, nil)
            #expect(beside.status == 0, "\(beside.output)")
            unlink(tiles + "/" + TilesExport.keyRotationsFile)
            let unfollowed = try check(firstKey, nil)
            #expect(unfollowed.status == 1 && unfollowed.output.contains("--key-rotations"), "\(unfollowed.output)")
            // Out of order, or one missing: the second rotation is not signed by the first key.
            #expect(try check(firstKey, [notes[1], notes[0]]).status == 1)
            #expect(try check(firstKey, [notes[1]]).status == 1)
        }
    }

    /// No checkpoint (an empty log), nothing to publish: refused, nothing written.
    @Test func aLogWithoutACheckpointIsNotExported() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            _ = try await makeLog(data, entries: 0)
            #expect(throws: OperationError.self) {
                try TilesExport.run(dataDirectory: data, to: directory + "/tiles", verifierKey: nil, entries: false)
            }
            #expect(access(directory + "/tiles/checkpoint", F_OK) != 0)
        }
    }
}

private func readFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count == 0 { break }
        bytes += buffer[..<count]
    }
    return bytes
}

private func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    struct CannotWrite: Error {}
    guard let file = fopen(path, "wb") else { throw CannotWrite() }
    defer { fclose(file) }
    _ = fwrite(bytes, 1, bytes.count, file)
}

/// Right after a key rotation the latest checkpoint is the rotation's, signed by the key before
/// the one in signing.pub: `fascicolo stat` and `tiles export` check it with the chain.
@Suite struct AfterAKeyRotationTests {
    @Test func statAndTilesExportCheckTheRotationCheckpointWithTheChain() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            var configuration = LedgerConfiguration()
            configuration.checkpointEveryEntries = 4
            let ledger = try Ledger.open(directory: data, configuration: configuration)
            for index in 0..<6 {
                _ = try await ledger.append(
                    AppendRequest(stream: "s-\(index % 2)", events: [NewEvent(type: "T", payload: Array("{}".utf8))], author: "t"))
            }
            let first = ledger.verifierKey
            _ = try await ledger.rotateKey(author: "admin", retire: .destroy)
            ledger.close()

            let statistics = try StoreStatistics.read(data)
            #expect(!statistics.lastCheckpointFails, "\(statistics.lastCheckpointProblem ?? "")")
            #expect(statistics.lastCheckpoint?.size == 7 && statistics.lastCheckpoint?.nextKey != nil)
            for key in [first, nil] {
                let report = try TilesExport.run(
                    dataDirectory: data, to: directory + "/tiles-\(key == nil)", verifierKey: key, entries: false)
                #expect(report.treeSize == 7)
            }
            // One entry more, so the latest checkpoint is the new key's. Published beside it: the
            // rotation checkpoint, which an independent client holding the first key follows.
            let reopened = try Ledger.open(directory: data, configuration: configuration)
            _ = try await reopened.append(
                AppendRequest(stream: "s-0", events: [NewEvent(type: "T", payload: Array("{}".utf8))], author: "t"))
            reopened.close()
            let published = directory + "/tiles-after"
            #expect(try TilesExport.run(dataDirectory: data, to: published, verifierKey: first, entries: false).treeSize == 8)
            #expect(readFile(published + "/" + TilesExport.keyRotationsFile).hasPrefix("[\"fascicolo.invalid/ledger\\n7\\n"))
            if (try? runProcess("/usr/bin/env", ["python3", "-c", "import nacl"]).status) == 0 {
                let checked = try runProcess(
                    "/usr/bin/env",
                    [
                        "python3", "tools/tlog-tiles-check.py", first, published, "--key-rotations",
                        published + "/" + TilesExport.keyRotationsFile,
                    ])
                #expect(checked.status == 0, "\(checked.output)")
                // Without the option the checker finds them beside the checkpoint; without them, it fails.
                let beside = try runProcess("/usr/bin/env", ["python3", "tools/tlog-tiles-check.py", first, published])
                #expect(beside.status == 0, "\(beside.output)")
                unlink(published + "/" + TilesExport.keyRotationsFile)
                let without = try runProcess("/usr/bin/env", ["python3", "tools/tlog-tiles-check.py", first, published])
                #expect(without.status != 0, "\(without.output)")
            }
        }
    }
}

/// An administrator holding the log's first key backs up and restores a log whose key was
/// rotated: the backup's signing.pub names the current key, and the first key is its chain's.
@Suite struct BackupAfterAKeyRotationTests {
    @Test func backupAndRestoreWithTheFirstKey() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            let ledger = try Ledger.open(directory: data)
            for index in 0..<5 {
                _ = try await ledger.append(
                    AppendRequest(stream: "s-\(index % 2)", events: [NewEvent(type: "T", payload: Array("{}".utf8))], author: "t"))
            }
            let first = ledger.verifierKey
            _ = try await ledger.rotateKey(author: "admin", retire: .keep)
            _ = try await ledger.append(AppendRequest(stream: "s-0", events: [NewEvent(type: "T", payload: Array("{}".utf8))], author: "t"))
            ledger.close()

            var backup = BackupOperation(source: data, destination: directory + "/backup")
            backup.verifierKey = first
            backup.copiesSecretKeys = true
            #expect(try backup.run().verification.entries == 7)
            var restore = RestoreOperation(backup: directory + "/backup", dataDirectory: directory + "/restored")
            restore.verifierKey = first
            #expect(try restore.run().verification.entries == 7)
            // A key that is none of the chain's is still refused.
            var stranger = RestoreOperation(backup: directory + "/backup", dataDirectory: directory + "/other")
            stranger.verifierKey = SignedNote.verifierKey(name: "fascicolo.invalid/ledger", publicKey: SigningKey().publicKey)
            #expect(throws: OperationError.self) { try stranger.run() }
        }
    }
}
