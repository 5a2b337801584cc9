import FascicoloCrypto
import FascicoloStorage
import Glibc

/// `checkpoints.log`, beside `data.mdb`: every checkpoint note the daemon signs, appended and
/// synced once the commit that stored it is durable. It remembers what the store itself cannot:
/// if LMDB opens an older root (a damaged meta page makes it fall back to the previous one), or
/// an older copy of `data.mdb` is put in place, the log is shorter than a checkpoint the daemon
/// signed — and the daemon refuses to start instead of silently serving a rolled-back log.
/// `fascicolo verify` checks the log against every note in it, as it does with `--checkpoint`.
///
/// Format (Formats.md, "checkpoints.log"): records one after the other, each the note's length
/// in bytes as ASCII decimal digits, a line feed, then the note (UTF-8). A record cut short by a
/// crash in the middle of an append is the file's tail only, and is ignored.
public enum CheckpointFile {
    public static let name = "checkpoints.log"

    /// The notes in the file, in the order written. Records that do not parse end the reading
    /// (a torn tail); their count is returned so that callers can tell.
    public static func read(directory: String) throws -> (notes: [String], tornBytes: Int) {
        let path = directory + "/" + name
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return ([], 0) }
            throw KeyFile.Failure.unreadable(path: path, errno: errno)
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = Glibc.read(descriptor, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += buffer[..<count]
        }
        var notes: [String] = []
        var index = 0
        while index < bytes.count {
            guard let newline = bytes[index...].prefix(12).firstIndex(of: 0x0A),
                  let length = Int(String(decoding: bytes[index..<newline], as: UTF8.self)), length > 0,
                  newline + 1 + length <= bytes.count else { break }
            notes.append(String(decoding: bytes[(newline + 1)..<(newline + 1 + length)], as: UTF8.self))
            index = newline + 1 + length
        }
        return (notes, bytes.count - index)
    }

    /// The largest checkpoint among `notes` that verifies with the key; notes that do not verify
    /// are damage (the file is only ever written by the daemon with this key).
    public static func latest(_ notes: [String], origin: String, publicKey: PublicKey) throws -> Checkpoint? {
        var latest: Checkpoint?
        for note in notes {
            let checkpoint: Checkpoint
            do { checkpoint = try Checkpoint.verify(note: note, origin: origin, publicKey: publicKey) } catch {
                throw DamagedData(table: name, what: "a note does not verify with the log's key (\(error))")
            }
            if checkpoint.size > latest?.size ?? 0 { latest = checkpoint }
        }
        return latest
    }

    /// Appends for the writer thread: one descriptor, opened once.
    final class Appender {
        private let descriptor: Int32
        let path: String

        init(directory: String) throws {
            path = directory + "/" + CheckpointFile.name
            let existed = access(path, F_OK) == 0
            descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { throw KeyFile.Failure.unwritable(path: path, errno: errno) }
            if !existed { KeyFile.syncDirectory(of: path) }
        }

        deinit { close(descriptor) }

        func append(_ note: String) throws {
            let record = Array("\(note.utf8.count)\n".utf8) + Array(note.utf8)
            let written = record.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard written == record.count, fdatasync(descriptor) == 0 else { throw KeyFile.Failure.unwritable(path: path, errno: errno) }
        }
    }

    /// The log was rolled back: it is shorter than, or differs at the size of, a checkpoint
    /// the daemon signed and kept in `checkpoints.log`.
    public struct RolledBack: Error, CustomStringConvertible, Sendable {
        public let logSize: UInt64
        public let checkpointSize: UInt64
        public let differs: Bool

        public var description: String {
            (differs
                ? "the log's root at \(checkpointSize) entries is not the one the daemon signed there (\(CheckpointFile.name))"
                : "the log has \(logSize) entries, fewer than the \(checkpointSize) of a checkpoint the daemon signed (\(CheckpointFile.name))")
                + ": the store was rolled back (an older copy of data.mdb, or LMDB fell back to an older root after damage). "
                + "Nothing is served: restore the latest backup, or compare with `fascicolo verify`"
        }
    }
}
