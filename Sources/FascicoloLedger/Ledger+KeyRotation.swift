import FascicoloCrypto
import FascicoloStorage
import Glibc
import Logging

/// What becomes of the key a rotation replaces.
public enum KeyRetirement: String, Sendable, CaseIterable {
    /// Moved to `retired-keys/<key id>.key` (0600): it can still sign, so keep it offline.
    case keep
    /// Overwritten with zeros, synced and unlinked.
    case destroy
}

/// What `Ledger.rotateKey` did.
public struct KeyRotationResult: Sendable, Equatable {
    /// The position of the `KeyRotated` entry (signed by the previous key).
    public let position: UInt64
    public let previousVerifierKey: String
    public let newVerifierKey: String
    /// Where the previous key was moved, when kept.
    public let retiredKeyPath: String?
}

extension Ledger {
    /// Replaces the signing key: a new Ed25519 key is made and written (`signing.key.next`, 0600,
    /// durable) before a `KeyRotated` entry naming it is appended, signed by the current key, with
    /// a checkpoint of its size signed by the current key and naming the new one. From the next
    /// entry on, everything is signed by the new key; then the key files are swapped and the old
    /// key is kept in `retired-keys/` or destroyed, as `retire` says.
    ///
    /// A crash between the commit and the swap is finished at the next open
    /// (`SigningKeyFiles.finishRotation`, which keeps the old key); a crash before the commit
    /// leaves a `signing.key.next` that the next open removes.
    public func rotateKey(author: String, retire: KeyRetirement) async throws -> KeyRotationResult {
        let started = rotating.withLock { running -> Bool in
            if running { return false }
            running = true
            return true
        }
        guard started else {
            throw LedgerError.unavailable("another key rotation is running")
        }
        defer { rotating.withLock { $0 = false } }
        let directory = store.directory
        let next = SigningKey()
        let nextPath = directory + "/" + SigningKeyFiles.nextName
        try next.withSeed { seed in try KeyFile.writeNewSecret(path: nextPath, bytes: seed) }
        let previous = publicKey
        let request = AppendRequest(
            stream: KeyRotation.stream, events: [NewEvent(type: KeyRotation.eventType, payload: Array("{}".utf8))],
            expectedVersion: .any, author: author)
        let result: AppendResult
        do {
            try AppendValidation.validate(request, limits: configuration.limits)
            result = try await writer.submitRotation(request, to: next)
        } catch {
            unlink(nextPath)
            throw error
        }
        let retired = try SigningKeyFiles.swap(
            directory: directory, origin: origin, previous: previous, next: next.publicKey, retire: retire)
        logger.notice(
            "signing key rotated",
            metadata: ["position": "\(result.firstPosition)", "retired": "\(retire.rawValue)"])
        return KeyRotationResult(
            position: result.firstPosition, previousVerifierKey: SignedNote.verifierKey(name: origin, publicKey: previous),
            newVerifierKey: SignedNote.verifierKey(name: origin, publicKey: next.publicKey), retiredKeyPath: retired)
    }
}

/// The key files of a data directory around a rotation.
public enum SigningKeyFiles {
    /// The new key, written before its `KeyRotated` entry is committed.
    public static let nextName = "signing.key.next"
    /// Where replaced keys are kept (when kept).
    public static let retiredDirectory = "retired-keys"

    /// `signing.key` is not the log's current key (and no rotation is left to finish).
    public struct NotCurrent: Error, CustomStringConvertible, Sendable {
        public let keyIDs: [[UInt8]]
        public var description: String {
            "signing.key is not the key that signs this log now (the log's keys, oldest first: "
                + keyIDs.map { Hex.encode($0) }.joined(separator: ", ")
                + "); restore the current key file, or the data directory from the same backup as its key"
        }
    }

    /// After the rotation's commit: `signing.key` becomes the new key, the old one is retired,
    /// `signing.pub` names the new key. Each rename is made durable before the next step.
    static func swap(
        directory: String, origin: String, previous: PublicKey, next: PublicKey, retire: KeyRetirement
    ) throws -> String? {
        let current = directory + "/" + KeyFile.secretName
        var retiredPath: String?
        if access(current, F_OK) == 0 {
            switch retire {
            case .keep:
                let folder = directory + "/" + retiredDirectory
                if mkdir(folder, 0o700) != 0 && errno != EEXIST { throw KeyFile.Failure.unwritable(path: folder, errno: errno) }
                let path = folder + "/" + Hex.encode(SignedNote.keyID(name: origin, publicKey: previous)) + ".key"
                guard rename(current, path) == 0 else { throw KeyFile.Failure.unwritable(path: path, errno: errno) }
                KeyFile.syncDirectory(of: path)
                retiredPath = path
            case .destroy:
                try destroy(path: current)
            }
        }
        let nextPath = directory + "/" + nextName
        guard rename(nextPath, current) == 0 else { throw KeyFile.Failure.unwritable(path: current, errno: errno) }
        KeyFile.syncDirectory(of: current)
        try KeyFile.writePublic(directory: directory, name: origin, key: next)
        return retiredPath
    }

    /// Overwrites a key file with zeros, syncs it and unlinks it. (On a copy-on-write or
    /// journalling file system old blocks may survive: the docs say so.)
    static func destroy(path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw KeyFile.Failure.unwritable(path: path, errno: errno) }
        let zeros = [UInt8](repeating: 0, count: SigningKey.seedByteCount)
        let written = write(descriptor, zeros, zeros.count)
        fsync(descriptor)
        close(descriptor)
        guard written == zeros.count, unlink(path) == 0 else { throw KeyFile.Failure.unwritable(path: path, errno: errno) }
        KeyFile.syncDirectory(of: path)
    }

    /// At open: a `signing.key.next` left by a rotation is either finished (the log's current
    /// key is that key: the commit happened, the swap did not; the old key is kept) or removed
    /// (the commit never happened).
    static func finishRotation(directory: String, store: LedgerStore, origin: String, logger: Logger) throws {
        let nextPath = directory + "/" + nextName
        guard access(nextPath, F_OK) == 0 else { return }
        let next = try KeyFile.load(path: nextPath)
        let chain = try store.environment.read { txn in try KeyChain.loadRotations(txn: txn, store: store, origin: origin) }
        guard let chain, chain.current == next.publicKey, let rotation = chain.rotations.last else {
            logger.warning("removing a new key whose rotation was never committed", metadata: ["file": "\(nextName)"])
            unlink(nextPath)
            KeyFile.syncDirectory(of: nextPath)
            return
        }
        logger.notice("finishing a key rotation interrupted after its commit", metadata: ["position": "\(rotation.position)"])
        _ = try swap(directory: directory, origin: origin, previous: rotation.previous, next: next.publicKey, retire: .keep)
    }
}
