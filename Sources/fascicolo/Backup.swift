import ArgumentParser
import FascicoloCrypto
import FascicoloDomain
import FascicoloLedger
import FascicoloStorage
import Glibc

/// The files of a data directory, and the one the daemon locks while it runs.
enum DataDirectory {
    static let data = "data.mdb"
    static let lmdbLock = "lock.mdb"
    static let daemonLock = "fascicolod.lock"
    static let socket = "fascicolod.sock"

    /// The domain's secrets (FascicoloDomain's `Pseudonymizer.keyFileName` and
    /// `PersonKeys.masterKeyFileName`; Formats.md, "Data directory"): 32 raw bytes each, mode 0600.
    static let pseudonymKey = "pseudonym.key"
    static let recordsKey = "records.key"
    /// Every secret file of a data directory, in the order messages name them.
    static let secretKeys = [KeyFile.secretName, pseudonymKey, recordsKey]

    /// The restore option that installs a secret file: `--signing-key` for signing.key.
    static func restoreOption(_ name: String) -> String {
        "--" + name.split(separator: ".").joined(separator: "-")
    }

    /// "a", "a and b", "a, b and c".
    static func listed(_ names: [String]) -> String {
        names.count <= 1 ? names.joined() : names.dropLast().joined(separator: ", ") + " and " + names.last!
    }

    /// What a log holds that its domain secrets must match.
    struct DomainContents {
        /// The log has person streams: without pseudonym.key and records.key the daemon refuses it.
        var hasPersons = false
        /// One row of `person_keys` (pseudonym → data key sealed with records.key), to check a
        /// records.key against; nil when no person has a data key.
        var sampleKey: (pseudonym: [UInt8], sealed: [UInt8])?

        /// The check values the daemon left in `meta` for the domain's keys (Formats.md,
        /// "Domain payloads"); nil until a daemon has used the keys.
        var pseudonymKeyCheck: [UInt8]?
        var recordsKeyCheck: [UInt8]?

        /// Whether `recordsKey` is this log's: it opens the stored check value and a person's data
        /// key; nil when there is nothing to try it on.
        func opens(recordsKey: [UInt8]) -> Bool? {
            guard sampleKey != nil || recordsKeyCheck != nil else { return nil }
            guard let key = SecretKey(bytes: recordsKey) else { return false }
            if let recordsKeyCheck, key.open(recordsKeyCheck, associatedData: Array("fascicolo/records-key-check/v1".utf8)) == nil {
                return false
            }
            guard let sampleKey else { return true }
            // Formats.md, "Data keys": associated data `fascicolo/person-key/v1` ‖ 0x00 ‖ pseudonym.
            let associatedData = Array("fascicolo/person-key/v1".utf8) + [0] + sampleKey.pseudonym
            return key.open(sampleKey.sealed, associatedData: associatedData)?.count == SecretKey.byteCount
        }

        /// Whether the key file `name` holding `bytes` is this log's; nil when there is nothing to
        /// check it against.
        func accepts(_ name: String, _ bytes: [UInt8]) -> Bool? {
            name == DataDirectory.recordsKey ? opens(recordsKey: bytes) : matches(pseudonymKey: bytes)
        }

        /// Whether `pseudonymKey` is this log's (its stored check value); nil when none is stored.
        func matches(pseudonymKey: [UInt8]) -> Bool? {
            guard let pseudonymKeyCheck else { return nil }
            guard let key = SecretKey(bytes: pseudonymKey) else { return false }
            return Array(key.authenticate(Array("fascicolo/pseudonym-key-check/v1".utf8)).prefix(16)) == pseudonymKeyCheck
        }
    }

    /// Reads (read-only) whether the log in `directory` has person streams and one sealed data key.
    static func domainContents(_ directory: String) throws -> DomainContents {
        let store = try LedgerReader.open(directory: directory)
        defer { store.close() }
        var contents = DomainContents()
        // A log written before the domain existed has no person_keys table.
        let keys = try store.sideTable(named: "person_keys")
        try store.read { log in
            contents.hasPersons = try log.hasStream(withPrefix: "person:")
            (contents.pseudonymKeyCheck, contents.recordsKeyCheck) = (try log.metaValue("pseudonym_key_check"), try log.metaValue("records_key_check"))
            if let keys {
                try log.forEachRow(in: keys) { key, value in
                    contents.sampleKey = (Array(key), Array(value))
                    return false
                }
            }
        }
        return contents
    }

    /// A 32-byte secret key file, private to its owner; the failure is printed and exits 2.
    static func readSecretKey(_ path: String, option: String) throws -> [UInt8] {
        do {
            try KeyFile.checkPermissions(path: path)
            let bytes = try Files.read(path, limit: 64)
            guard bytes.count == SecretKey.byteCount else {
                Terminal.error("error: \(option): \(path) is not a key file: expected 32 raw bytes, found \(bytes.count)")
                throw Exit.couldNotRun
            }
            return bytes
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Terminal.error("error: \(option): \(error)")
            throw Exit.couldNotRun
        }
    }

    /// Verifies `directory` with a progress line on a terminal; a verification failure is
    /// printed and exits 1, any other error exits 2.
    static func verify(_ directory: String, key: String?, fast: Bool, label: String, json: Bool,
                       threads: Int? = nil, trustedCheckpoints: [String] = []) throws -> Verifier.Report {
        try verifyWithSideTables(directory, key: key, fast: fast, label: label, json: json, threads: threads,
                                 trustedCheckpoints: trustedCheckpoints).log
    }

    /// `verify`, and the domain's side tables against the log (`DomainTablesCheck`).
    static func verifyWithSideTables(_ directory: String, key: String?, fast: Bool, label: String, json: Bool,
                                     threads: Int? = nil, trustedCheckpoints: [String] = [], receipts: [Verifier.Receipt] = [])
        throws -> (log: Verifier.Report, domain: DomainTablesCheck.Report?) {
        var options = Verifier.Options()
        options.fast = fast
        options.trustedCheckpoints = trustedCheckpoints
        options.receipts = receipts
        if let threads { options.threads = max(1, threads) }
        do {
            let report = try Verifier.verify(directory: directory, verifierKey: key, options: options) { progress in
                Terminal.progress(Terminal.progressLine(label: label, done: progress.entriesChecked,
                                                        total: progress.entriesTotal, elapsedSeconds: progress.elapsedSeconds))
            }
            Terminal.endProgress()
            // The domain's side tables, against the log they serve.
            IsolatedReader.report("checking the domain's side tables")
            return (report, try DomainTablesCheck.verify(directory: directory))
        } catch let failure as Verifier.Failure {
            Terminal.endProgress()
            if json {
                let position = failure.position.map { "\($0)" } ?? "null"
                Terminal.out("{\"ok\":false,\"position\":\(position),\"problem\":\(jsonString(failure.problem))}")
            } else {
                Terminal.out("FAILED: \(directory) does not verify: \(failure)")
            }
            throw Exit.failed
        } catch {
            Terminal.endProgress()
            Terminal.error("error: cannot verify \(directory): \(error)")
            throw Exit.couldNotRun
        }
    }
}

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a data directory — also while the daemon runs — and verify the copy.",
        discussion: """
            The copy is one consistent snapshot made with LMDB's own compacting copy, so it is \
            safe next to a running fascicolod and needs no pause. DEST is created with mode 0700 \
            (or must be an empty directory). signing.pub is copied; the secret keys are not, unless \
            --include-secret-keys is given (then with mode 0600): signing.key, which signs the log, \
            and the domain's pseudonym.key (turns a codice fiscale into the person's pseudonym) and \
            records.key (opens the persons' data keys). Without the latter two, a restored log's \
            personal data cannot be read and the daemon refuses to start on a log with case files: \
            keep all three in their own safe place, or in the backup. The copy is then verified in \
            full (every signature, hash, index and checkpoint) against --key, or the copied signing.pub.

            """ + Exit.help)

    @Argument(help: "The data directory to back up.")
    var dataDirectory: String

    @Argument(help: "Where to put the copy: a new or empty directory.")
    var destination: String

    @Flag(help: "Copy the secret keys too — signing.key, pseudonym.key, records.key (mode 0600).")
    var includeSecretKeys = false

    /// The flag's earlier name.
    @Flag(name: .customLong("include-secret-key"), help: .hidden)
    var includeSecretKeyAlias = false

    var copiesSecretKeys: Bool { includeSecretKeys || includeSecretKeyAlias }

    @Option(help: ArgumentHelp("Verify the copy against this key '<name>+<key id>+<base64 key>' instead of signing.pub.", valueName: "vkey"))
    var key: String?

    @Flag(help: "Verify the copy without the entries' signatures (hashes, indexes, checkpoint signatures only).")
    var fast = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let source = dataDirectory
        guard Files.isDirectory(source) else {
            Terminal.error("error: \(source) is not a directory")
            throw Exit.couldNotRun
        }
        let publicKey = source + "/" + KeyFile.publicName
        guard access(publicKey, R_OK) == 0 else {
            Terminal.error("error: cannot read \(publicKey): a data directory holds its verifier key there")
            throw Exit.couldNotRun
        }
        // Checked before anything is copied: a copy that cannot be verified is not a backup.
        if let key { _ = try parseKeyOption(key) }
        // The secret files present; each must be readable when they are to be copied (the
        // signing key always exists: the log is signed with it).
        let secrets = DataDirectory.secretKeys.filter { $0 == KeyFile.secretName || Files.exists(source + "/" + $0) }
        if copiesSecretKeys {
            for name in secrets where access(source + "/" + name, R_OK) != 0 {
                Terminal.error("error: --include-secret-keys: cannot read \(source)/\(name): \(errorText(errno))")
                throw Exit.couldNotRun
            }
        }
        let created = try prepareDestination()
        var written: [String] = []
        func cleanUp() {
            for name in written { unlink(destination + "/" + name) }
            if created { rmdir(destination) }
        }

        let started = Files.now()
        let sourceUsedBytes: Int
        do {
            // checkpoints.log before the log's snapshot: every note in the copy is then of a size
            // the copied log reaches (a note is appended only after its commit).
            if Files.exists(source + "/" + CheckpointFile.name) {
                written.append(CheckpointFile.name)
                try Files.copy(source + "/" + CheckpointFile.name, to: destination + "/" + CheckpointFile.name, mode: 0o644)
            }
            let store = try LedgerReader.open(directory: source)
            defer { store.close() }
            sourceUsedBytes = store.usedBytes
            written.append(DataDirectory.data)
            try store.copy(to: destination, compact: true)
            chmod(destination + "/" + DataDirectory.data, 0o600)
            try Files.syncFile(destination + "/" + DataDirectory.data)
            written.append(KeyFile.publicName)
            try Files.copy(publicKey, to: destination + "/" + KeyFile.publicName, mode: 0o644)
            if copiesSecretKeys {
                for name in secrets {
                    written.append(name)
                    try Files.copy(source + "/" + name, to: destination + "/" + name, mode: 0o600)
                }
            }
            try Files.syncDirectory(destination)
            try Files.syncDirectory(Files.parent(of: destination))  // the new directory's own entry
        } catch {
            cleanUp()
            Terminal.error("error: backup of \(source) failed: \(error)")
            throw Exit.couldNotRun
        }
        let copySeconds = Files.now() - started

        let report: Verifier.Report
        do {
            report = try DataDirectory.verify(destination, key: key, fast: fast, label: "verifying the copy", json: json)
        } catch let exit as ExitCode where exit == Exit.failed {
            Terminal.error("the copy is left at \(destination) for inspection; check the source with: fascicolo verify \(source)")
            throw exit
        } catch {
            // The copy could not be checked at all: it is removed, as a failed copy is.
            unlink(destination + "/" + DataDirectory.lmdbLock)
            cleanUp()
            Terminal.error("the unverified copy was removed")
            throw error
        }
        unlink(destination + "/" + DataDirectory.lmdbLock)  // made by the verifier's read; recreated when needed
        let bytes = written.reduce(0) { $0 + Files.size(destination + "/" + $1) }
        if json {
            Terminal.out("""
                {"ok":true,"source":\(jsonString(source)),"destination":\(jsonString(destination)),\
                "entries":\(report.entries),"streams":\(report.streams),"checkpoints":\(report.checkpoints),\
                "bytes":\(bytes),"sourceUsedBytes":\(sourceUsedBytes),"secretKeyIncluded":\(copiesSecretKeys),\
                "secretKeysCopied":[\((copiesSecretKeys ? secrets : []).map(jsonString).joined(separator: ","))],\
                "verification":\(jsonString(fast ? "fast" : "full")),\
                "copySeconds":\(Terminal.format(copySeconds, decimals: 3)),"verifySeconds":\(Terminal.format(report.elapsedSeconds, decimals: 3))}
                """)
        } else {
            Terminal.out("backed up \(source) to \(destination): \(report.entries) entries, \(report.streams) streams, "
                         + "\(report.checkpoints) checkpoints, \(Files.humanBytes(bytes)) (compacted from \(Files.humanBytes(sourceUsedBytes)) "
                         + "in use); copied in \(Terminal.format(copySeconds, decimals: 2)) s")
            Terminal.out("OK: the copy verifies (\(fast ? "fast" : "full")) in \(Terminal.format(report.elapsedSeconds, decimals: 2)) s")
            let names = DataDirectory.listed(secrets)
            if copiesSecretKeys {
                Terminal.out("\(names) copied (mode 0600): this backup can sign and open personal data — guard it like the keys themselves")
            } else {
                let options = secrets.map(DataDirectory.restoreOption).joined(separator: ", ")
                Terminal.out("\(names) not copied: keep \(secrets.count == 1 ? "it" : "them") in \(secrets.count == 1 ? "its" : "their") own safe place "
                             + "(restore \(options) put\(secrets.count == 1 ? "s" : "") \(secrets.count == 1 ? "it" : "them") back)")
            }
        }
    }

    /// Creates the destination (mode 0700), or accepts an empty directory; true when created.
    func prepareDestination() throws -> Bool {
        if Files.exists(destination) {
            guard Files.isDirectory(destination) else {
                Terminal.error("error: \(destination) exists and is not a directory")
                throw Exit.couldNotRun
            }
            let names: [String]
            do { names = try Files.list(destination) } catch {
                Terminal.error("error: \(error)")
                throw Exit.couldNotRun
            }
            guard names.isEmpty else {
                Terminal.error("error: \(destination) is not empty (it holds \(names.prefix(5).joined(separator: ", "))"
                               + "\(names.count > 5 ? ", …" : "")); a backup goes into a new or empty directory")
                throw Exit.couldNotRun
            }
            // It will hold personal data: only its owner may enter it.
            guard chmod(destination, 0o700) == 0 else {
                Terminal.error("error: cannot make \(destination) private (chmod 0700): \(errorText(errno))")
                throw Exit.couldNotRun
            }
            return false
        }
        guard mkdir(destination, 0o700) == 0 else {
            Terminal.error("error: cannot create \(destination): \(errorText(errno))")
            throw Exit.couldNotRun
        }
        chmod(destination, 0o700)  // the umask may have narrowed it; never wider
        return true
    }
}

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put a backup in place as a data directory, after verifying it. The daemon must be stopped.",
        discussion: """
            Refused while a fascicolod runs on DATADIR (it holds DATADIR/fascicolod.lock; the lock \
            is held here until the restore is done, so none can start meanwhile), and refused when \
            DATADIR holds data unless --force — even then the files replaced are kept beside \
            the new ones as <name>.replaced-<time>, never deleted. The backup is verified in full \
            first, the restored directory again (fast) after copying. New files are copied under \
            temporary names and renamed into place only once all are copied: a failed restore \
            changes nothing in DATADIR.

            The secret keys installed are those given with --signing-key (checked against the \
            backup's signing.pub, and with --key that must be the key given), --pseudonym-key and \
            --records-key (checked against the check values and data keys in the backup, when it \
            has any), else those the backup holds (backup \
            --include-secret-keys); all with mode 0600. A key already in DATADIR stays in place when \
            it is the one to install, or when none is given and it is not another log's (a \
            signing.key that did not sign this log, or a records.key that does not open its data \
            keys, is kept aside like the replaced files). fascicolod refuses to start on a log \
            whose signing key is missing, and on a log with case files (person streams) whose \
            pseudonym.key or records.key is missing: without them no codice fiscale finds its case \
            file and no personal field can be read. The end of the run names any secret file \
            still missing.

            """ + Exit.help)

    @Argument(help: "The backup directory (made by 'fascicolo backup').")
    var backup: String

    @Argument(help: "The data directory to restore into: new, empty, or (with --force) holding data to replace.")
    var dataDirectory: String

    @Flag(help: "Replace the data of a stopped daemon (the replaced files are kept as <name>.replaced-<time>).")
    var force = false

    @Option(help: ArgumentHelp("Install this signing.key (mode 0600) with the restored log.", valueName: "path"))
    var signingKey: String?

    @Option(help: ArgumentHelp("Install this pseudonym.key (mode 0600) with the restored log.", valueName: "path"))
    var pseudonymKey: String?

    @Option(help: ArgumentHelp("Install this records.key (mode 0600) with the restored log.", valueName: "path"))
    var recordsKey: String?

    @Option(help: ArgumentHelp("Verify the backup against this key '<name>+<key id>+<base64 key>' instead of its signing.pub.", valueName: "vkey"))
    var key: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    /// A domain secret to install: where from, and its bytes (checked).
    struct DomainKey {
        let name: String
        let source: String?
        let bytes: [UInt8]?
    }

    func run() throws {
        let backupData = backup + "/" + DataDirectory.data
        let backupPublic = backup + "/" + KeyFile.publicName
        guard access(backupData, R_OK) == 0, access(backupPublic, R_OK) == 0 else {
            Terminal.error("error: \(backup) is not a readable backup (it needs \(DataDirectory.data) and \(KeyFile.publicName))")
            throw Exit.couldNotRun
        }
        let backupHadLockFile = Files.exists(backup + "/" + DataDirectory.lmdbLock)
        let published: (name: String, publicKey: PublicKey)
        do { published = try KeyFile.loadVerifierKey(directory: backup) } catch {
            Terminal.error("error: \(error)")
            throw Exit.couldNotRun
        }
        // The backup's signing.pub is installed with the log: with --key it must be that key.
        if let key {
            let pinned = try parseKeyOption(key)
            guard pinned.name == published.name, pinned.publicKey == published.publicKey else {
                Terminal.error("FAILED: \(backupPublic) is not the key given with --key; nothing was restored")
                throw Exit.failed
            }
        }
        // The signing key to install, if any: it must be the one that signed the backup.
        let keySource = signingKey ?? (Files.exists(backup + "/" + KeyFile.secretName) ? backup + "/" + KeyFile.secretName : nil)
        if let keySource {
            do {
                let loaded = try KeyFile.load(path: keySource)
                guard loaded.publicKey == published.publicKey else {
                    Terminal.error("error: \(keySource) is not the key that signed this log (\(KeyFile.publicName) says "
                                   + "\(SignedNote.verifierKey(name: published.name, publicKey: published.publicKey)))")
                    throw Exit.couldNotRun
                }
            } catch let exit as ExitCode {
                throw exit
            } catch {
                Terminal.error("error: \(error)")
                throw Exit.couldNotRun
            }
        }
        // The domain's keys to install, if any: a records.key must open the log's data keys.
        let contents: DataDirectory.DomainContents
        do { contents = try DataDirectory.domainContents(backup) } catch {
            Terminal.error("error: cannot read \(backup): \(error)")
            throw Exit.couldNotRun
        }
        if !backupHadLockFile { unlink(backup + "/" + DataDirectory.lmdbLock) }  // leave the backup as it was
        var domainKeys: [DomainKey] = []
        for (name, option) in [(DataDirectory.pseudonymKey, pseudonymKey), (DataDirectory.recordsKey, recordsKey)] {
            let inBackup = backup + "/" + name
            guard let source = option ?? (Files.exists(inBackup) ? inBackup : nil) else {
                domainKeys.append(DomainKey(name: name, source: nil, bytes: nil))
                continue
            }
            let bytes = try DataDirectory.readSecretKey(source, option: option != nil ? DataDirectory.restoreOption(name) : name)
            if contents.accepts(name, bytes) == false {
                Terminal.error("error: \(source) is not this log's \(name): the check values in \(backup) refuse it")
                throw Exit.couldNotRun
            }
            domainKeys.append(DomainKey(name: name, source: source, bytes: bytes))
        }

        // Take the daemon's lock: refused while one runs; none can start until we are done.
        let createdDirectory = !Files.exists(dataDirectory)
        if createdDirectory {
            guard mkdir(dataDirectory, 0o700) == 0 else {
                Terminal.error("error: cannot create \(dataDirectory): \(errorText(errno))")
                throw Exit.couldNotRun
            }
            chmod(dataDirectory, 0o700)
        } else if !Files.isDirectory(dataDirectory) {
            Terminal.error("error: \(dataDirectory) is not a directory")
            throw Exit.couldNotRun
        }
        func abandon() {
            if createdDirectory {
                unlink(dataDirectory + "/" + DataDirectory.daemonLock)
                rmdir(dataDirectory)
            }
        }
        let lockPath = dataDirectory + "/" + DataDirectory.daemonLock
        let lockExisted = Files.exists(lockPath)
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else {
            Terminal.error("error: cannot open \(lockPath): \(errorText(errno))")
            abandon()
            throw Exit.couldNotRun
        }
        defer { close(lock) }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            Terminal.error(code == EWOULDBLOCK
                ? "error: fascicolod is running on \(dataDirectory) (it holds \(lockPath)); stop it before restoring"
                : "error: cannot lock \(lockPath): \(errorText(code))")
            throw Exit.couldNotRun
        }
        // When run as root, the restored files belong to whoever owns the data directory.
        let directoryInfo = Files.status(dataDirectory)
        let owner: (uid: uid_t, gid: gid_t)? = geteuid() == 0 && directoryInfo.map({ $0.st_uid != 0 }) == true
            ? (directoryInfo!.st_uid, directoryInfo!.st_gid) : nil
        if let owner, !lockExisted { fchown(lock, owner.uid, owner.gid) }

        let present: [String]
        do { present = try Files.list(dataDirectory) } catch {
            Terminal.error("error: \(error)")
            throw Exit.couldNotRun
        }
        let holding = present.filter { name in
            name != DataDirectory.daemonLock && !(name == DataDirectory.socket && isSocket(dataDirectory + "/" + name))
        }
        if !holding.isEmpty && !force {
            Terminal.error("error: \(dataDirectory) is not empty (it holds \(holding.prefix(5).joined(separator: ", "))"
                           + "\(holding.count > 5 ? ", …" : "")); pass --force to replace its data "
                           + "(the replaced files are kept as <name>.replaced-<time>)")
            throw Exit.couldNotRun
        }

        let report: Verifier.Report
        do {
            report = try DataDirectory.verify(backup, key: key, fast: false, label: "verifying the backup", json: json)
        } catch {
            abandon()
            throw error
        }
        if !backupHadLockFile { unlink(backup + "/" + DataDirectory.lmdbLock) }  // leave the backup as it was

        // Every new file is first copied beside its final name; then the files it replaces get a
        // second name (a hard link, <name>.replaced-<time>) and the new ones are renamed over
        // them. So each name always holds the old file or the new one: a failure or a crash never
        // leaves the directory without data.mdb, on which a daemon would start a new, empty log.
        let stamp = Self.timestamp()
        var keptAside: [String] = []
        // A signing key already in place that signed this log stays where it is (when one is
        // given too, it must be the same file: anything else is replaced, and kept aside).
        let presentKey = dataDirectory + "/" + KeyFile.secretName
        let keepPresentKey = Files.exists(presentKey)
            && (try? KeyFile.load(path: presentKey))?.publicKey == published.publicKey
            && (keySource == nil || (try? Files.read(presentKey, limit: 64)) == (try? Files.read(keySource!, limit: 64)))
        // So do the domain's keys in place: the same bytes as those to install; or, when none is
        // given, one that the log's check values do not refuse.
        var keptInPlace: [String] = keepPresentKey ? [KeyFile.secretName] : []
        var installed: [String] = keySource != nil && !keepPresentKey ? [KeyFile.secretName] : []
        for domainKey in domainKeys {
            let path = dataDirectory + "/" + domainKey.name
            guard Files.exists(path) else {
                if domainKey.bytes != nil { installed.append(domainKey.name) }
                continue
            }
            let current = try? Files.read(path, limit: 64)
            if let bytes = domainKey.bytes {
                if current == bytes { keptInPlace.append(domainKey.name) } else { installed.append(domainKey.name) }
            } else if current.flatMap({ contents.accepts(domainKey.name, $0) }) != false {
                keptInPlace.append(domainKey.name)
            }
        }
        // checkpoints.log goes with the log it describes: a newer one left beside an older log
        // would (rightly) make the daemon refuse it as rolled back.
        let replaced = [DataDirectory.data, KeyFile.publicName, CheckpointFile.name]
            + DataDirectory.secretKeys.filter { !keptInPlace.contains($0) }
        let started = Files.now()
        func path(_ name: String) -> String { dataDirectory + "/" + name }
        // 1. Copy (each file synced), keys first and data.mdb last, under temporary names.
        var staged: [String] = []
        func unstage() { for name in staged { unlink(path(name + ".restoring")) } }
        do {
            func stage(_ source: String, as name: String, mode: mode_t) throws {
                unlink(path(name + ".restoring"))
                staged.append(name)
                try Files.copy(source, to: path(name + ".restoring"), mode: mode, owner: owner)
            }
            try stage(backupPublic, as: KeyFile.publicName, mode: 0o644)
            if Files.exists(backup + "/" + CheckpointFile.name) {
                try stage(backup + "/" + CheckpointFile.name, as: CheckpointFile.name, mode: 0o644)
            }
            if let keySource, !keepPresentKey { try stage(keySource, as: KeyFile.secretName, mode: 0o600) }
            for domainKey in domainKeys where installed.contains(domainKey.name) {
                try stage(domainKey.source!, as: domainKey.name, mode: 0o600)
            }
            try stage(backupData, as: DataDirectory.data, mode: 0o600)
            try Files.syncDirectory(dataDirectory)
            if createdDirectory { try Files.syncDirectory(Files.parent(of: dataDirectory)) }
        } catch {
            unstage()
            if holding.isEmpty { abandon() }
            Terminal.error("error: restore into \(dataDirectory) failed: \(error); nothing in it was changed")
            throw Exit.couldNotRun
        }
        // 2. Keep a second name for each file replaced.
        for name in replaced where Files.exists(path(name)) {
            let aside = "\(name).replaced-\(stamp)"
            guard link(path(name), path(aside)) == 0 else {
                let code = errno
                for made in keptAside { unlink(path(made)) }
                unstage()
                Terminal.error("error: restore into \(dataDirectory) failed: cannot keep \(name) as \(aside): "
                               + "\(errorText(code)); nothing in it was changed")
                throw Exit.couldNotRun
            }
            keptAside.append(aside)
        }
        // 3. Rename the new files over the old ones, data.mdb last (an old log with new keys is
        // refused at start, never taken for a new one); drop the replaced files left with no
        // successor (a wrong key), which keep their second name.
        unlink(path(DataDirectory.lmdbLock))  // LMDB's reader table, no data: made again at need
        for name in staged {
            guard rename(path(name + ".restoring"), path(name)) == 0 else {
                Terminal.error("error: restore into \(dataDirectory) failed: cannot rename \(name).restoring to \(name): "
                               + "\(errorText(errno)); the previous files are kept as \(keptAside.joined(separator: ", "))")
                throw Exit.couldNotRun
            }
        }
        for name in replaced where !staged.contains(name) { unlink(path(name)) }
        do { try Files.syncDirectory(dataDirectory) } catch {
            Terminal.error("error: the restored files are in place but may not be durable: \(error)")
            throw Exit.couldNotRun
        }
        let copySeconds = Files.now() - started

        let check = try DataDirectory.verify(dataDirectory, key: key, fast: true, label: "verifying the restored copy", json: json)
        unlink(dataDirectory + "/" + DataDirectory.lmdbLock)  // made by the verifier's read; the daemon makes its own
        guard check.entries == report.entries else {
            Terminal.out("FAILED: the restored copy has \(check.entries) entries, the backup \(report.entries)")
            throw Exit.failed
        }
        let missing = DataDirectory.secretKeys.filter { !Files.exists(dataDirectory + "/" + $0) }

        if json {
            func list(_ names: [String]) -> String { "[" + names.map(jsonString).joined(separator: ",") + "]" }
            Terminal.out("""
                {"ok":true,"backup":\(jsonString(backup)),"dataDirectory":\(jsonString(dataDirectory)),\
                "entries":\(report.entries),"streams":\(report.streams),"checkpoints":\(report.checkpoints),\
                "signingKeyInstalled":\(keySource != nil || keepPresentKey),"secretKeysInstalled":\(list(installed)),\
                "secretKeysKeptInPlace":\(list(keptInPlace)),"secretKeysMissing":\(list(missing)),\
                "hasPersons":\(contents.hasPersons),"keptAside":\(list(keptAside)),\
                "verifySeconds":\(Terminal.format(report.elapsedSeconds, decimals: 3)),"copySeconds":\(Terminal.format(copySeconds, decimals: 3))}
                """)
        } else {
            Terminal.out("OK: the backup verifies (full): \(report.entries) entries, \(report.streams) streams, "
                         + "\(report.checkpoints) checkpoints, in \(Terminal.format(report.elapsedSeconds, decimals: 2)) s")
            Terminal.out("restored \(backup) into \(dataDirectory) in \(Terminal.format(copySeconds, decimals: 2)) s; "
                         + "the restored copy verifies (fast)")
            if !installed.isEmpty {
                Terminal.out("installed \(DataDirectory.listed(installed)) (mode 0600)")
            }
            if !keptAside.isEmpty {
                Terminal.out("the replaced files are kept in \(dataDirectory) as \(keptAside.joined(separator: ", ")); "
                             + "remove them once the restored log is in service")
            }
            if geteuid() == 0 && owner == nil {
                Terminal.out("the restored files belong to root: if fascicolod runs as another user, chown -R that user \(dataDirectory)")
            }
        }
        if !json {
            if keepPresentKey {
                Terminal.out("\(presentKey) is the key that signed this log: left in place")
            }
            for name in keptInPlace where name != KeyFile.secretName {
                let path = dataDirectory + "/" + name
                if domainKeys.contains(where: { $0.name == name && $0.bytes != nil }) {
                    Terminal.out("\(path) is the one given: left in place")
                } else if name == DataDirectory.recordsKey && contents.sampleKey != nil {
                    Terminal.out("\(path) opens this log's data keys: left in place")
                } else {
                    Terminal.out("\(path) left in place (it cannot be checked against the log: make sure it is this log's)")
                }
            }
        }
        if !missing.isEmpty {
            var consequences: [String] = []
            if missing.contains(KeyFile.secretName) {
                consequences.append("it refuses to start on a log whose signing key is missing")
            }
            let domainMissing = missing.filter { $0 != KeyFile.secretName }
            if !domainMissing.isEmpty {
                consequences.append(contents.hasPersons
                    ? "\(consequences.isEmpty ? "it refuses to start" : "and") on a log with case files without pseudonym.key "
                        + "and records.key (without them no codice fiscale finds its case file and no personal field can be read)"
                    : "\(consequences.isEmpty ? "" : "and ")this log has no case files yet, so it would make a new "
                        + "\(DataDirectory.listed(domainMissing)): put back the one\(domainMissing.count == 1 ? "" : "s") "
                        + "this log was used with, if any")
            }
            let options = missing.map(DataDirectory.restoreOption).joined(separator: ", ")
            Terminal.error("""
                WARNING: \(dataDirectory) has no \(DataDirectory.listed(missing)). Put \(missing.count == 1 ? "it" : "them") there \
                (mode 0600, or run restore again with \(options)) before starting fascicolod: \
                \(consequences.joined(separator: " ")).
                """)
        }
    }

    func isSocket(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK
    }

    /// `20261123T175256Z`
    static func timestamp() -> String {
        String(iso8601(seconds: UInt64(time(nil))).filter { $0 != "-" && $0 != ":" })
    }
}
