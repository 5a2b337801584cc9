import FascicoloCrypto
import FascicoloLedger
import Glibc

/// Puts a backup in place as a data directory, after verifying it; the daemon must be stopped.
///
/// Refused while a daemon holds the directory's lock (held here until the restore is done), and
/// over data unless `force` — then the replaced files are kept as `<name>.replaced-<time>`. Every
/// new file is copied under a temporary name first and renamed into place only once all are
/// copied, so a failed restore changes nothing. The secret keys installed are those given (each
/// checked against the log), else those the backup holds; keys already in place stay when they
/// are the ones to install, or not another log's.
public struct RestoreOperation: Sendable {
    public var backup: String
    public var dataDirectory: String
    /// Replace the data of a stopped daemon.
    public var force = false
    /// Key files to install (checked against the backup) instead of those in the backup.
    public var signingKey: String?
    public var pseudonymKey: String?
    public var recordsKey: String?
    /// Verify the backup against this key instead of its signing.pub (which must then be this key).
    public var verifierKey: String?

    public init(backup: String, dataDirectory: String) {
        self.backup = backup
        self.dataDirectory = dataDirectory
    }

    /// Why a secret key already in the data directory was left in place.
    public enum KeptKey: Sendable, Equatable {
        /// signing.key: it signed this log.
        case signedThisLog
        /// The same bytes as the key file given.
        case sameAsGiven
        /// records.key: it opens this log's data keys.
        case opensDataKeys
        /// Nothing in the log to check it against.
        case unchecked
    }

    public struct Result: Sendable {
        /// The backup's full verification.
        public let verification: Verifier.Report
        public let copySeconds: Double
        /// Whether a signing.key is in place (installed or kept).
        public let signingKeyInPlace: Bool
        public let installed: [String]
        /// The secret files left in place, in the order messages name them, and why.
        public let keptInPlace: [(name: String, reason: KeptKey)]
        /// Secret files the restored directory still lacks.
        public let missing: [String]
        /// Second names (`<name>.replaced-<time>`) of the files replaced.
        public let keptAside: [String]
        /// The log has person streams (the daemon needs pseudonym.key and records.key for it).
        public let hasPersons: Bool
        /// Run as root, the restored files belong to the data directory's owner; nil when they are root's.
        public let owner: (uid: uid_t, gid: gid_t)?
    }

    /// A domain secret to install: where from, and its bytes (checked).
    private struct DomainKey {
        let name: String
        let source: String?
        let bytes: [UInt8]?
    }

    public func run(observer: OperationObserver = { _ in }) throws(OperationError) -> Result {
        let backupData = backup + "/" + DataDirectory.data
        let backupPublic = backup + "/" + KeyFile.publicName
        guard access(backupData, R_OK) == 0, access(backupPublic, R_OK) == 0 else {
            throw OperationError(
                .unusableDirectory,
                "\(backup) is not a readable backup (it needs \(DataDirectory.data) and \(KeyFile.publicName))")
        }
        let backupHadLockFile = Files.exists(backup + "/" + DataDirectory.lmdbLock)
        let published: (name: String, publicKey: PublicKey)
        do { published = try KeyFile.loadVerifierKey(directory: backup) } catch {
            throw OperationError(.unusableDirectory, "\(error)", cause: error)
        }
        // The backup's signing.pub is installed with the log: with a verifier key it must be that key.
        if let verifierKey {
            guard let pinned = SignedNote.parseVerifierKey(verifierKey) else {
                throw OperationError(.invalidKey, "--key is not '<name>+<key id>+<base64 key>' with a matching key id")
            }
            // After key rotations, signing.pub names the current key and --key may be the first:
            // then both must be keys of the backup's chain, signing.pub its current one (the
            // verification below follows the chain from --key).
            var inChain = false
            if pinned.publicKey != published.publicKey {
                let chain = try? LedgerReader.open(directory: backup).readingOnce { try $0.keyRotations() }
                if !backupHadLockFile { unlink(backup + "/" + DataDirectory.lmdbLock) }  // leave the backup as it was
                inChain = chain.map { $0.current == published.publicKey && $0.keys.contains(pinned.publicKey) } ?? false
            }
            guard pinned.name == published.name, pinned.publicKey == published.publicKey || inChain else {
                throw OperationError(.wrongVerifierKey, "\(backupPublic) is not the key given with --key; nothing was restored")
            }
        }
        // The signing key to install, if any: it must be the one that signed the backup.
        let keySource = signingKey ?? (Files.exists(backup + "/" + KeyFile.secretName) ? backup + "/" + KeyFile.secretName : nil)
        if let keySource {
            let loaded: SigningKey
            do { loaded = try KeyFile.load(path: keySource) } catch {
                throw OperationError(.invalidKey, "\(error)", cause: error)
            }
            guard loaded.publicKey == published.publicKey else {
                throw OperationError(
                    .invalidKey,
                    "\(keySource) is not the key that signed this log (\(KeyFile.publicName) says "
                        + "\(SignedNote.verifierKey(name: published.name, publicKey: published.publicKey)))")
            }
        }
        // The domain's keys to install, if any: a records.key must open the log's data keys.
        let contents: DataDirectory.DomainContents
        do { contents = try LogReads.domainContents(backup) } catch {
            throw OperationError(.unreadable, "cannot read \(backup): \(error)", cause: error)
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
                throw OperationError(.invalidKey, "\(source) is not this log's \(name): the check values in \(backup) refuse it")
            }
            domainKeys.append(DomainKey(name: name, source: source, bytes: bytes))
        }

        // Take the daemon's lock: refused while one runs; none can start until we are done.
        let createdDirectory = !Files.exists(dataDirectory)
        if createdDirectory {
            guard mkdir(dataDirectory, 0o700) == 0 else {
                throw OperationError(.unusableDirectory, "cannot create \(dataDirectory): \(errorText(errno))")
            }
            chmod(dataDirectory, 0o700)
        } else if !Files.isDirectory(dataDirectory) {
            throw OperationError(.unusableDirectory, "\(dataDirectory) is not a directory")
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
            let code = errno
            abandon()
            throw OperationError(.unusableDirectory, "cannot open \(lockPath): \(errorText(code))")
        }
        defer { close(lock) }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            if code == EWOULDBLOCK {
                throw OperationError(
                    .daemonRunning,
                    "fascicolod is running on \(dataDirectory) (it holds \(lockPath)); stop it before restoring")
            }
            throw OperationError(.unusableDirectory, "cannot lock \(lockPath): \(errorText(code))")
        }
        // When run as root, the restored files belong to whoever owns the data directory.
        let directoryInfo = Files.status(dataDirectory)
        let owner: (uid: uid_t, gid: gid_t)? =
            geteuid() == 0 && directoryInfo.map({ $0.st_uid != 0 }) == true
            ? (directoryInfo!.st_uid, directoryInfo!.st_gid) : nil
        if let owner, !lockExisted { fchown(lock, owner.uid, owner.gid) }

        let present: [String]
        do { present = try Files.list(dataDirectory) } catch {
            throw OperationError(.unusableDirectory, "\(error)", cause: error)
        }
        let holding = present.filter { name in
            name != DataDirectory.daemonLock && !(name == DataDirectory.socket && Self.isSocket(dataDirectory + "/" + name))
        }
        if !holding.isEmpty && !force {
            throw OperationError(
                .unusableDirectory,
                "\(dataDirectory) is not empty (it holds \(holding.prefix(5).joined(separator: ", "))"
                    + "\(holding.count > 5 ? ", …" : "")); pass --force to replace its data "
                    + "(the replaced files are kept as <name>.replaced-<time>)")
        }

        let report: Verifier.Report
        do {
            report = try DirectoryVerification.run(backup, key: verifierKey, label: "verifying the backup", observer: observer).log
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
        let keepPresentKey =
            Files.exists(presentKey)
            && (try? KeyFile.load(path: presentKey))?.publicKey == published.publicKey
            && (keySource == nil || (try? Files.read(presentKey, limit: 64)) == (try? Files.read(keySource!, limit: 64)))
        // So do the domain's keys in place: the same bytes as those to install; or, when none is
        // given, one that the log's check values do not refuse.
        var keptInPlace: [(name: String, reason: KeptKey)] = keepPresentKey ? [(KeyFile.secretName, .signedThisLog)] : []
        var installed: [String] = keySource != nil && !keepPresentKey ? [KeyFile.secretName] : []
        for domainKey in domainKeys {
            let path = dataDirectory + "/" + domainKey.name
            guard Files.exists(path) else {
                if domainKey.bytes != nil { installed.append(domainKey.name) }
                continue
            }
            let current = try? Files.read(path, limit: 64)
            if let bytes = domainKey.bytes {
                if current == bytes { keptInPlace.append((domainKey.name, .sameAsGiven)) } else { installed.append(domainKey.name) }
            } else if current.flatMap({ contents.accepts(domainKey.name, $0) }) != false {
                let checked = domainKey.name == DataDirectory.recordsKey && contents.hasDataKeys
                keptInPlace.append((domainKey.name, checked ? .opensDataKeys : .unchecked))
            }
        }
        // checkpoints.log goes with the log it describes: a newer one left beside an older log
        // would (rightly) make the daemon refuse it as rolled back.
        let replaced =
            [DataDirectory.data, KeyFile.publicName, CheckpointFile.name]
            + DataDirectory.secretKeys.filter { name in !keptInPlace.contains { $0.name == name } }
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
            throw OperationError(.copyFailed, "restore into \(dataDirectory) failed: \(error); nothing in it was changed", cause: error)
        }
        // 2. Keep a second name for each file replaced.
        for name in replaced where Files.exists(path(name)) {
            let aside = "\(name).replaced-\(stamp)"
            guard link(path(name), path(aside)) == 0 else {
                let code = errno
                for made in keptAside { unlink(path(made)) }
                unstage()
                throw OperationError(
                    .copyFailed,
                    "restore into \(dataDirectory) failed: cannot keep \(name) as \(aside): "
                        + "\(errorText(code)); nothing in it was changed")
            }
            keptAside.append(aside)
        }
        // 3. Rename the new files over the old ones, data.mdb last (an old log with new keys is
        // refused at start, never taken for a new one); drop the replaced files left with no
        // successor (a wrong key), which keep their second name.
        unlink(path(DataDirectory.lmdbLock))  // LMDB's reader table, no data: made again at need
        for name in staged {
            guard rename(path(name + ".restoring"), path(name)) == 0 else {
                throw OperationError(
                    .copyFailed,
                    "restore into \(dataDirectory) failed: cannot rename \(name).restoring to \(name): "
                        + "\(errorText(errno)); the previous files are kept as \(keptAside.joined(separator: ", "))")
            }
        }
        for name in replaced where !staged.contains(name) { unlink(path(name)) }
        do { try Files.syncDirectory(dataDirectory) } catch {
            throw OperationError(.copyFailed, "the restored files are in place but may not be durable: \(error)", cause: error)
        }
        let copySeconds = Files.now() - started

        var fast = Verifier.Options()
        fast.fast = true
        let check = try DirectoryVerification.run(
            dataDirectory, key: verifierKey, options: fast, label: "verifying the restored copy",
            observer: observer
        ).log
        unlink(dataDirectory + "/" + DataDirectory.lmdbLock)  // made by the verifier's read; the daemon makes its own
        guard check.entries == report.entries else {
            throw OperationError(.restoredCopyIncomplete, "the restored copy has \(check.entries) entries, the backup \(report.entries)")
        }
        let missing = DataDirectory.secretKeys.filter { !Files.exists(dataDirectory + "/" + $0) }
        return Result(
            verification: report, copySeconds: copySeconds, signingKeyInPlace: keySource != nil || keepPresentKey,
            installed: installed, keptInPlace: keptInPlace, missing: missing, keptAside: keptAside,
            hasPersons: contents.hasPersons, owner: owner)
    }

    private static func isSocket(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK
    }

    /// `20261123T175256Z`
    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        func pad(_ value: Int32, _ width: Int = 2) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))\(pad(parts.tm_mon + 1))\(pad(parts.tm_mday))T"
            + "\(pad(parts.tm_hour))\(pad(parts.tm_min))\(pad(parts.tm_sec))Z"
    }
}
