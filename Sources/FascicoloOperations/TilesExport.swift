import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage
import Glibc

/// `fascicolo tiles export`: writes the log, as of its latest checkpoint, in C2SP tlog-tiles
/// form to a directory that a static web server or an object store can publish — `checkpoint`,
/// `tile/<L>/<N>[.p/<W>]` and, when asked, the entry bundles `tile/entries/<N>[.p/<W>]`
/// (Formats.md, "Tiles").
///
/// Incremental: a tile already in the directory is immutable (a full tile never changes, and a
/// partial tile's path names its width), so it is not written again. The checkpoint is written
/// last, after every tile it needs is durable, so a reader of the directory never finds a
/// checkpoint whose tiles are missing. Read-only on the data directory, and safe while the
/// daemon runs: tiles are read a batch per read transaction (a long one would hold LMDB's old
/// pages from reuse while the daemon writes).
///
/// Hash tiles and the checkpoint reveal nothing about persons (each leaf hash covers an entry's
/// signature, so no entry can be guessed from it): files 0644. Entry bundles hold the entries —
/// pseudonyms and the clear fields of the catalogue, personal data under the GDPR even when
/// pseudonymised —, so they are written 0600 under a 0700 `tile/entries`, for the Region or an
/// auditor, never for a public server.
public enum TilesExport {
    public struct Report: Sendable {
        /// The size of the checkpoint exported.
        public let treeSize: UInt64
        /// Tiles (and bundles) written now, and those already there.
        public let written: Int
        public let kept: Int
        public let bytesWritten: Int
        public let seconds: Double
    }

    /// Tiles read per read transaction.
    static let batch = 64

    public static func run(
        dataDirectory: String, to output: String, verifierKey: String?, entries: Bool,
        observer: OperationObserver = { _ in }
    ) throws(OperationError) -> Report {
        let start = Files.now()
        defer { observer(.exportEnded) }
        let reader: LedgerReader
        do { reader = try LedgerReader.open(directory: dataDirectory) } catch {
            throw OperationError(.unreadable, "cannot open \(dataDirectory): \(error)", cause: error)
        }
        defer { reader.close() }
        let (checkpoint, rotations) = try latestCheckpoint(reader, dataDirectory: dataDirectory, verifierKey: verifierKey)
        do {
            try makeDirectory(output, mode: 0o755)
            try makeDirectory(output + "/tile", mode: 0o755)
            if entries { try makeDirectory(output + "/tile/entries", mode: 0o700) }
        } catch {
            throw OperationError(.unusableDirectory, "cannot write tiles to \(output): \(error)", cause: error)
        }
        let tiles = TileAddress.all(treeSize: checkpoint.size, entries: entries)
        var written = 0
        var bytesWritten = 0
        var next = 0
        var directoriesWritten = Set<String>()
        do {
            while next < tiles.count {
                let missing = tiles[next..<min(tiles.count, next + batch)].filter { !Files.exists(output + "/" + $0.path) }
                let contents = try reader.read { log in try missing.map { try log.tile($0, treeSize: checkpoint.size) } }
                for (tile, bytes) in zip(missing, contents) {
                    let isEntries = tile.kind == .entries
                    let path = output + "/" + tile.path
                    try write(bytes, to: path, mode: isEntries ? 0o600 : 0o644, directoryMode: isEntries ? 0o700 : 0o755)
                    directoriesWritten.insert(Files.parent(of: path))
                    bytesWritten += bytes.count
                }
                written += missing.count
                next = min(tiles.count, next + batch)
                observer(.exportingTiles(done: next, total: tiles.count, elapsedSeconds: Files.now() - start))
            }
            // Every tile durable (each file was synced) and findable before the checkpoint that
            // needs them is in place: the directories that gained one, deepest first.
            var directories = Set<String>()
            for var directory in directoriesWritten {
                while directory.count > output.count && directories.insert(directory).inserted { directory = Files.parent(of: directory) }
            }
            for directory in directories.sorted(by: { $0.count > $1.count }) { try Files.syncDirectory(directory) }
            // After key rotations, the notes that hand the log from its first key to the one that
            // signed `checkpoint` (Formats.md, "Tiles"): before the checkpoint that needs them.
            if !rotations.isEmpty {
                var json = JSONBytes()
                json.array { json in for note in rotations { json.string(note) } }
                try write(json.bytes, to: output + "/" + keyRotationsFile, mode: 0o644, directoryMode: 0o755, syncParent: true)
            }
            try write(Array(checkpoint.note.utf8), to: output + "/checkpoint", mode: 0o644, directoryMode: 0o755, syncParent: true)
        } catch let failure as TileFailure {
            throw OperationError(.copyFailed, "cannot export the tiles: \(failure); the checkpoint was not updated", cause: failure)
        } catch {
            throw OperationError(.copyFailed, "cannot export the tiles: \(error); the checkpoint was not updated", cause: error)
        }
        return Report(
            treeSize: checkpoint.size, written: written, kept: tiles.count - written, bytesWritten: bytesWritten,
            seconds: Files.now() - start)
    }

    /// The file beside `checkpoint` that holds the rotation checkpoints (a JSON array of notes).
    public static let keyRotationsFile = "key-rotations.json"

    /// The latest stored checkpoint, verified with `verifierKey` or the directory's signing.pub,
    /// and the rotation checkpoints of the keys before the one that signed it.
    private static func latestCheckpoint(
        _ reader: LedgerReader, dataDirectory: String, verifierKey: String?
    ) throws(OperationError) -> (Checkpoint, [String]) {
        let publicKey: PublicKey
        if let verifierKey {
            guard let parsed = SignedNote.parseVerifierKey(verifierKey) else {
                throw OperationError(.invalidKey, "--key is not a verifier key ('<name>+<key id>+<base64 key>')")
            }
            publicKey = parsed.publicKey
        } else {
            do { publicKey = try KeyFile.loadVerifierKey(directory: dataDirectory).publicKey } catch {
                throw OperationError(.invalidKey, "cannot read the log's public key in \(dataDirectory): \(error)", cause: error)
            }
        }
        do {
            let (note, chain, stored) = try reader.read { log in
                let chain = try log.signingKeys(anchor: publicKey)
                var notes: [String] = []
                for rotation in chain.rotations {
                    try log.forEachCheckpoint(from: rotation.position + 1) { size, note in
                        if size == rotation.position + 1 { notes.append(note) }
                        return false
                    }
                }
                return (try log.checkpoints().latestNote, chain, notes)
            }
            guard let note else {
                throw OperationError(.unreadable, "\(dataDirectory) has no checkpoint yet: there is nothing to publish")
            }
            guard stored.count == chain.rotations.count else {
                throw OperationError(.unreadable, "\(dataDirectory): a key rotation's checkpoint is missing; run fascicolo verify")
            }
            let checkpoint = try chain.verify(note: note)
            return (checkpoint, Array(stored.prefix { (try? Checkpoint.size(ofNote: $0)).map { $0 <= checkpoint.size } ?? false }))
        } catch let error as OperationError {
            throw error
        } catch let failure as Checkpoint.Failure {
            throw OperationError(.invalidKey, "the latest checkpoint does not verify with the log's key: \(failure)", cause: failure)
        } catch let invalid as KeyRotation.Invalid {
            throw OperationError(.invalidKey, "\(invalid)", cause: invalid)
        } catch {
            throw OperationError(.unreadable, "cannot read \(dataDirectory): \(error)", cause: error)
        }
    }

    private static func makeDirectory(_ path: String, mode: mode_t) throws {
        if mkdir(path, mode) != 0 && errno != EEXIST { throw Files.Failure(operation: "create", path: path, errno: errno) }
        guard Files.isDirectory(path) else { throw Files.Failure(operation: "use", path: path, errno: ENOTDIR) }
    }

    /// `path` and the parents it lacks (`tile/0/x001/` for `tile/0/x001/234`).
    private static func makeDirectories(_ path: String, mode: mode_t) throws {
        if Files.isDirectory(path) { return }
        try makeDirectories(Files.parent(of: path), mode: mode)
        try makeDirectory(path, mode: mode)
    }

    /// Writes `bytes` to a temporary file next to `path` and renames it into place, so that a
    /// reader never finds half a tile; the parents are created with `directoryMode`.
    private static func write(_ bytes: [UInt8], to path: String, mode: mode_t, directoryMode: mode_t, syncParent: Bool = false) throws {
        let parent = Files.parent(of: path)
        try makeDirectories(parent, mode: directoryMode)
        let temporary = path + ".partial-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw Files.Failure(operation: "create", path: temporary, errno: errno) }
        var failure: Files.Failure?
        fchmod(descriptor, mode)
        var offset = 0
        while offset < bytes.count && failure == nil {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, bytes.count - offset) }
            if count < 0 && errno != EINTR { failure = Files.Failure(operation: "write", path: temporary, errno: errno) }
            if count > 0 { offset += count }
        }
        if failure == nil && fsync(descriptor) != 0 { failure = Files.Failure(operation: "sync", path: temporary, errno: errno) }
        close(descriptor)
        if failure == nil && rename(temporary, path) != 0 { failure = Files.Failure(operation: "rename", path: temporary, errno: errno) }
        if let failure {
            unlink(temporary)
            throw failure
        }
        if syncParent { try Files.syncDirectory(parent) }
    }
}
