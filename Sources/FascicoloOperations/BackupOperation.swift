import FascicoloCrypto
import FascicoloLedger
import Glibc

/// A backup of a data directory — also while the daemon runs — verified once copied.
///
/// The log is copied with LMDB's compacting copy (one consistent snapshot), with checkpoints.log
/// and signing.pub, into a new (or empty) directory of mode 0700; the secret keys only when
/// `copiesSecretKeys` (mode 0600). The copy is then verified against `verifierKey`, or the copied
/// signing.pub. A copy that fails is removed; one that does not verify is left for inspection.
public struct BackupOperation: Sendable {
    public var source: String
    public var destination: String
    /// Copy signing.key, pseudonym.key and records.key too.
    public var copiesSecretKeys = false
    /// Verify the copy against this key '<name>+<key id>+<base64 key>' instead of signing.pub.
    public var verifierKey: String?
    /// Verify without the entries' signatures.
    public var fast = false

    public init(source: String, destination: String) {
        self.source = source
        self.destination = destination
    }

    public struct Result: Sendable {
        public let verification: Verifier.Report
        /// The bytes of the files written.
        public let bytes: Int
        /// The bytes the source's log used (before compaction).
        public let sourceUsedBytes: Int
        /// The secret files of the source (copied or not), in the order messages name them.
        public let secretKeys: [String]
        public let secretKeysCopied: Bool
        public let copySeconds: Double
    }

    public func run(observer: OperationObserver = { _ in }) throws(OperationError) -> Result {
        guard Files.isDirectory(source) else { throw OperationError(.unusableDirectory, "\(source) is not a directory") }
        let publicKey = source + "/" + KeyFile.publicName
        guard access(publicKey, R_OK) == 0 else {
            throw OperationError(.unusableDirectory, "cannot read \(publicKey): a data directory holds its verifier key there")
        }
        // Checked before anything is copied: a copy that cannot be verified is not a backup.
        if let verifierKey, SignedNote.parseVerifierKey(verifierKey) == nil {
            throw OperationError(.invalidKey, "--key is not '<name>+<key id>+<base64 key>' with a matching key id")
        }
        // The secret files present; each must be readable when they are to be copied (the
        // signing key always exists: the log is signed with it).
        let secrets = DataDirectory.secretKeys.filter { $0 == KeyFile.secretName || Files.exists(source + "/" + $0) }
        if copiesSecretKeys {
            for name in secrets where access(source + "/" + name, R_OK) != 0 {
                throw OperationError(.unusableDirectory, "--include-secret-keys: cannot read \(source)/\(name): \(errorText(errno))")
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
            written.append(DataDirectory.data)
            sourceUsedBytes = try LogReads.compactCopy(from: source, to: destination)
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
            throw OperationError(.copyFailed, "backup of \(source) failed: \(error)", cause: error)
        }
        let copySeconds = Files.now() - started

        var options = Verifier.Options()
        options.fast = fast
        let report: Verifier.Report
        do {
            report = try DirectoryVerification.run(
                destination, key: verifierKey, options: options, label: "verifying the copy",
                observer: observer
            ).log
        } catch  where error.code == .verificationFailed {
            throw error.with(
                aftermath: "the copy is left at \(destination) for inspection; check the source with: fascicolo verify \(source)")
        } catch {
            // The copy could not be checked at all: it is removed, as a failed copy is.
            unlink(destination + "/" + DataDirectory.lmdbLock)
            cleanUp()
            throw error.with(aftermath: "the unverified copy was removed")
        }
        unlink(destination + "/" + DataDirectory.lmdbLock)  // made by the verifier's read; recreated when needed
        let bytes = written.reduce(0) { $0 + Files.size(destination + "/" + $1) }
        return Result(
            verification: report, bytes: bytes, sourceUsedBytes: sourceUsedBytes, secretKeys: secrets,
            secretKeysCopied: copiesSecretKeys, copySeconds: copySeconds)
    }

    /// Creates the destination (mode 0700), or accepts an empty directory; true when created.
    private func prepareDestination() throws(OperationError) -> Bool {
        if Files.exists(destination) {
            guard Files.isDirectory(destination) else {
                throw OperationError(.unusableDirectory, "\(destination) exists and is not a directory")
            }
            let names: [String]
            do { names = try Files.list(destination) } catch {
                throw OperationError(.unusableDirectory, "\(error)", cause: error)
            }
            guard names.isEmpty else {
                throw OperationError(
                    .unusableDirectory,
                    "\(destination) is not empty (it holds \(names.prefix(5).joined(separator: ", "))"
                        + "\(names.count > 5 ? ", …" : "")); a backup goes into a new or empty directory")
            }
            // It will hold personal data: only its owner may enter it.
            guard chmod(destination, 0o700) == 0 else {
                throw OperationError(.unusableDirectory, "cannot make \(destination) private (chmod 0700): \(errorText(errno))")
            }
            return false
        }
        guard mkdir(destination, 0o700) == 0 else {
            throw OperationError(.unusableDirectory, "cannot create \(destination): \(errorText(errno))")
        }
        chmod(destination, 0o700)  // the umask may have narrowed it; never wider
        return true
    }
}
