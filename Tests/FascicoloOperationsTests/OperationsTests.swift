import FascicoloCrypto
import FascicoloLedger
import FascicoloOperations
import FascicoloTesting
import Glibc
import Testing

/// Backup, restore, stat and verify in process, on real logs (LMDB, libsodium) in temporary
/// directories. The command line's printing and exit codes are tested end to end in
/// FascicoloDaemonTests (CLITests, PersonCLITests).
@Suite struct OperationsTests {
    @Test func aBackupIsACompactVerifiedCopyWithoutTheSecretKeys() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            let verifierKey = try await makeLog(data, entries: 20)
            let copy = directory + "/backup"
            var events: [String] = []
            let result = try BackupOperation(source: data, destination: copy).run { event in
                switch event {
                case .verifying(let label, _): events.append(label)
                case .verificationEnded: events.append("ended")
                case .exportingTiles, .exportEnded: events.append("export")
                }
            }
            #expect(result.verification.entries == 20 && result.verification.streams == 3 && !result.verification.fast)
            #expect(result.secretKeys == [KeyFile.secretName] && !result.secretKeysCopied)
            #expect(result.bytes > 0 && result.sourceUsedBytes > 0)
            #expect(events.last == "ended" && events.allSatisfy { $0 == "verifying the copy" || $0 == "ended" })
            #expect(mode(copy) == 0o700 && mode(copy + "/data.mdb") == 0o600)
            #expect(access(copy + "/signing.pub", R_OK) == 0 && access(copy + "/signing.key", F_OK) != 0)
            #expect(access(copy + "/lock.mdb", F_OK) != 0, "the verifier's lock file is not left in the backup")

            let statistics = try StoreStatistics.read(copy)
            #expect(statistics.entries == 20 && statistics.streams == 3 && statistics.checkpoints >= 1)
            #expect(try statistics.verifierKey.get() == verifierKey)
            #expect(statistics.lastCheckpoint != nil && statistics.lastCheckpointProblem == nil && !statistics.lastCheckpointFails)
            #expect(statistics.readModelsUsedBytes == nil && !statistics.erasureShreddingPending && statistics.recordsKeyGeneration == 0)
            #expect(statistics.mapUsedBytes > 0 && statistics.mapUsedBytes <= statistics.mapSizeBytes)

            let verified = try DirectoryVerification.run(copy, key: verifierKey, label: "verify")
            #expect(verified.log.entries == 20 && verified.log.checkpoints == statistics.checkpoints)

            // With the secret keys: private, and the same bytes.
            var withKeys = BackupOperation(source: data, destination: directory + "/backup-keys")
            withKeys.copiesSecretKeys = true
            withKeys.fast = true
            let keyed = try withKeys.run()
            #expect(keyed.secretKeysCopied && keyed.verification.fast)
            #expect(mode(directory + "/backup-keys/signing.key") == 0o600)
            #expect(readBytes(directory + "/backup-keys/signing.key") == readBytes(data + "/signing.key"))
        }
    }

    @Test func aBackupIsRefusedBeforeAnythingIsCopiedAndLeavesNothingBehind() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            _ = try await makeLog(data, entries: 3)

            let missing = #expect(throws: OperationError.self) {
                try BackupOperation(source: directory + "/nowhere", destination: directory + "/b1").run()
            }
            #expect(missing?.code == .unusableDirectory && missing?.message.contains("is not a directory") == true)
            #expect(access(directory + "/b1", F_OK) != 0)

            var badKey = BackupOperation(source: data, destination: directory + "/b2")
            badKey.verifierKey = "not-a-key"
            let refused = #expect(throws: OperationError.self) { try badKey.run() }
            #expect(refused?.code == .invalidKey && refused?.message.contains("--key") == true && refused?.isFailedCheck == false)
            #expect(access(directory + "/b2", F_OK) != 0)

            try writeFile(directory + "/b3", "")
            #expect(mkdir(directory + "/b4", 0o755) == 0)
            try writeFile(directory + "/b4/something", "kept")
            let notADirectory = #expect(throws: OperationError.self) {
                try BackupOperation(source: data, destination: directory + "/b3").run()
            }
            #expect(notADirectory?.message.contains("exists and is not a directory") == true)
            let notEmpty = #expect(throws: OperationError.self) { try BackupOperation(source: data, destination: directory + "/b4").run() }
            #expect(notEmpty?.code == .unusableDirectory && notEmpty?.message.contains("is not empty (it holds something)") == true)
            #expect(readFile(directory + "/b4/something") == "kept" && mode(directory + "/b4") == 0o755)

            // An empty directory is taken, and made private.
            #expect(mkdir(directory + "/b5", 0o755) == 0)
            #expect(try BackupOperation(source: data, destination: directory + "/b5").run().verification.entries == 3)
            #expect(mode(directory + "/b5") == 0o700)
        }
    }

    @Test func aCopyThatDoesNotVerifyIsAFailedCheckWithItsPosition() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            _ = try await makeLog(data, entries: 5)
            var backup = BackupOperation(source: data, destination: directory + "/copy")
            backup.verifierKey = strangerKey()
            let failed = #expect(throws: OperationError.self) { try backup.run() }
            #expect(failed?.code == .verificationFailed && failed?.isFailedCheck == true && failed?.verificationFailure != nil)
            #expect(failed?.aftermath?.contains("the copy is left at \(directory)/copy for inspection") == true)
            #expect(access(directory + "/copy/data.mdb", F_OK) == 0)

            // stat shows a last checkpoint that signing.pub did not sign as a failure.
            try writeFile(directory + "/copy/signing.pub", strangerKey() + "\n")
            let statistics = try StoreStatistics.read(directory + "/copy")
            #expect(statistics.lastCheckpointFails && statistics.lastCheckpoint == nil)
            #expect(statistics.lastCheckpointProblem?.hasPrefix("DOES NOT VERIFY with signing.pub") == true)
            let unreadable = #expect(throws: OperationError.self) { try StoreStatistics.read(directory + "/nowhere") }
            #expect(unreadable?.code == .unreadable)
        }
    }

    @Test func aRestoreVerifiesInstallsTheKeysAndKeepsWhatItReplaces() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            let verifierKey = try await makeLog(data, entries: 12)
            let copy = directory + "/backup"
            _ = try BackupOperation(source: data, destination: copy).run()
            let restored = directory + "/restored"

            // Keys that are not the log's are refused before anything is touched.
            let stranger = directory + "/stranger.key"
            try writeFile(stranger, String(repeating: "k", count: 32))
            chmod(stranger, 0o600)
            var wrongKey = RestoreOperation(backup: copy, dataDirectory: restored)
            wrongKey.signingKey = stranger
            let wrong = #expect(throws: OperationError.self) { try wrongKey.run() }
            #expect(wrong?.code == .invalidKey && wrong?.message.contains("is not the key that signed this log") == true)
            var wrongVerifier = RestoreOperation(backup: copy, dataDirectory: restored)
            wrongVerifier.verifierKey = strangerKey()
            let pinned = #expect(throws: OperationError.self) { try wrongVerifier.run() }
            #expect(pinned?.code == .wrongVerifierKey && pinned?.isFailedCheck == true)
            #expect(access(restored, F_OK) != 0)

            var restore = RestoreOperation(backup: copy, dataDirectory: restored)
            restore.signingKey = data + "/signing.key"
            restore.verifierKey = verifierKey
            let result = try restore.run()
            #expect(result.verification.entries == 12 && result.signingKeyInPlace && result.installed == [KeyFile.secretName])
            #expect(result.keptAside.isEmpty && result.missing == [DataDirectory.pseudonymKey, DataDirectory.recordsKey])
            #expect(!result.hasPersons)
            #expect(mode(restored) & 0o077 == 0 && mode(restored + "/signing.key") == 0o600)
            #expect(access(copy + "/lock.mdb", F_OK) != 0, "the backup is left as it was")
            #expect(try DirectoryVerification.run(restored, key: verifierKey, label: "verify").log.entries == 12)

            // Not over data without force; with it, the replaced files are kept and the key in place stays.
            let notEmpty = #expect(throws: OperationError.self) { try RestoreOperation(backup: copy, dataDirectory: restored).run() }
            #expect(notEmpty?.code == .unusableDirectory && notEmpty?.message.contains("--force") == true)
            var forced = RestoreOperation(backup: copy, dataDirectory: restored)
            forced.force = true
            let replaced = try forced.run()
            #expect(replaced.keptInPlace.map(\.name) == [KeyFile.secretName] && replaced.keptInPlace.first?.reason == .signedThisLog)
            #expect(replaced.keptAside.contains { $0.hasPrefix("data.mdb.replaced-") } && replaced.installed.isEmpty)
            #expect(readBytes(restored + "/signing.key") == readBytes(data + "/signing.key"))

            // A restore that fails while copying changes nothing (data.mdb's temporary name is taken).
            let before = try listing(restored)
            let restoredData = readBytes(restored + "/data.mdb")
            #expect(mkdir(restored + "/data.mdb.restoring", 0o700) == 0)
            let failed = #expect(throws: OperationError.self) { try forced.run() }
            #expect(failed?.code == .copyFailed && failed?.message.contains("nothing in it was changed") == true)
            #expect(rmdir(restored + "/data.mdb.restoring") == 0)
            #expect(try listing(restored) == before && readBytes(restored + "/data.mdb") == restoredData)

            // Refused while the daemon's lock is held (here by this process, through another open file).
            let lock = open(restored + "/fascicolod.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            #expect(lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) == 0)
            defer { close(lock) }
            let running = #expect(throws: OperationError.self) { try forced.run() }
            #expect(running?.code == .daemonRunning && running?.message.contains("fascicolod is running on \(restored)") == true)
        }
    }
}

// MARK: - Helpers

/// A log of `entries` entries over three streams in `directory`, closed (with its final
/// checkpoint); returns its verifier key.
func makeLog(_ directory: String, entries: Int) async throws -> String {
    #expect(mkdir(directory, 0o700) == 0)
    var configuration = LedgerConfiguration()
    configuration.unsafeNoSync = true
    let ledger = try Ledger.open(directory: directory, configuration: configuration)
    for index in 0..<entries {
        _ = try await ledger.append(
            AppendRequest(
                stream: "case-\(index % 3)", events: [NewEvent(type: "X", payload: Array("\(index)".utf8))],
                author: "uid:0/test"))
    }
    let verifierKey = ledger.verifierKey
    ledger.close()
    return verifierKey
}

/// A verifier key of no log here.
func strangerKey() -> String {
    SignedNote.verifierKey(name: "fascicolo.invalid/ledger", publicKey: SigningKey().publicKey)
}

func mode(_ path: String) -> mode_t {
    var info = stat()
    return stat(path, &info) == 0 ? info.st_mode & 0o777 : 0
}

func listing(_ directory: String) throws -> [String] {
    let handle = try #require(opendir(directory))
    defer { closedir(handle) }
    var names: [String] = []
    while let entry = readdir(handle) {
        names.append(withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
    }
    return names.sorted()
}
