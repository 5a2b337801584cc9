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
/// crash in the middle of an append is the file's tail only, and is ignored (and cut off at
/// start); any other byte that is not part of a whole record is damage, reported (`parse`).
public enum CheckpointFile {
    public static let name = "checkpoints.log"

    /// The notes in the file, in the order written, and the length of a torn tail (see `parse`).
    /// A damaged record throws `DamagedData`: it is never taken for a torn tail and cut off
    /// together with the notes after it.
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
        return try parse(bytes)
    }

    /// The notes in the bytes of a `checkpoints.log`, and the length of its torn tail: what a
    /// crash in the middle of an append leaves — the beginning of one record (its length cut
    /// short, or the length, the line feed and less of the note than the length says), perhaps
    /// followed by zero bytes (a file system that had extended the file before the data reached
    /// the disk). Every other byte that is not part of a whole record is damage and throws: a
    /// length that is not 1 to 11 decimal digits without a leading zero (as the daemon writes
    /// it), no line feed after it, a note that is not UTF-8, a zero byte before the tail, or a
    /// "torn" note that holds more than one note's blank line (a damaged length running over the
    /// records after it).
    public static func parse(_ bytes: [UInt8]) throws(DamagedData) -> (notes: [String], tornBytes: Int) {
        func damaged(at offset: Int, _ why: String) -> DamagedData {
            DamagedData(table: name, what: "damaged at byte \(offset): \(why); the file is left as it is")
        }
        var end = bytes.count
        while end > 0, bytes[end - 1] == 0 { end -= 1 }
        var notes: [String] = []
        var index = 0
        while index < end {
            var cursor = index
            while cursor < end, cursor - index < 11, (0x30...0x39).contains(bytes[cursor]) { cursor += 1 }
            guard cursor > index, bytes[index] != 0x30 else { throw damaged(at: index, "its length is not a decimal number") }
            guard cursor < end else { break }  // the length cut short
            guard bytes[cursor] == 0x0A else { throw damaged(at: index, "no line feed after its length") }
            let length = bytes[index..<cursor].reduce(0) { $0 * 10 + Int($1 - 0x30) }
            let start = cursor + 1
            guard start + length <= end else {
                // The note cut short: the beginning of one note, which has one blank line.
                var blankLines = 0
                for offset in start..<end where offset > start && bytes[offset] == 0x0A && bytes[offset - 1] == 0x0A { blankLines += 1 }
                guard blankLines <= 1 else { throw damaged(at: index, "its length runs over the records after it") }
                break
            }
            // The daemon writes notes as UTF-8 text: anything else was changed since.
            guard let note = String(validating: bytes[start..<(start + length)], as: UTF8.self) else {
                throw damaged(at: index, "its note is not UTF-8")
            }
            notes.append(note)
            index = start + length
        }
        // A zero byte inside the part read as records is damage too (a note holds none).
        if bytes[..<index].contains(0) { throw damaged(at: bytes.firstIndex(of: 0)!, "a zero byte") }
        if index < end, bytes[index..<end].contains(0) { throw damaged(at: index, "a zero byte before the end") }
        return (notes, bytes.count - index)
    }

    /// The largest checkpoint among `notes`, whose signature is checked — the only one: the file
    /// grows by a note per checkpoint for the life of the log, and a start must not check them
    /// all (`fascicolo verify` does). A note that does not verify is damage: only the daemon
    /// writes the file, with this key.
    public static func largest(_ notes: [String], chain: KeyChain) throws -> Checkpoint? {
        var largest: (size: UInt64, note: String)?
        for note in notes {
            let lines = note.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
            guard lines.count >= 2, let size = UInt64(lines[1]) else {
                throw DamagedData(table: name, what: "a note has no tree size")
            }
            if size > largest?.size ?? 0 { largest = (size, note) }
        }
        guard let largest else { return nil }
        do { return try chain.verify(note: largest.note) } catch {
            throw DamagedData(table: name, what: "a note does not verify with the log's keys (\(error))")
        }
    }

    /// Appends for the writer thread: one descriptor, opened once.
    final class Appender {
        private let descriptor: Int32
        let path: String
        /// The end of the last whole record: a failed append is cut back to it, so that a record
        /// written in part (a full disk) never sits before whole ones (which would be damage).
        private var end: off_t

        init(directory: String) throws {
            path = directory + "/" + CheckpointFile.name
            let existed = access(path, F_OK) == 0
            descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { throw KeyFile.Failure.unwritable(path: path, errno: errno) }
            end = lseek(descriptor, 0, SEEK_END)
            if !existed { KeyFile.syncDirectory(of: path) }
        }

        deinit { close(descriptor) }

        func append(_ note: String) throws {
            let record = Array("\(note.utf8.count)\n".utf8) + Array(note.utf8)
            let written = record.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard written == record.count, fdatasync(descriptor) == 0 else {
                let code = errno
                _ = ftruncate(descriptor, end)
                throw KeyFile.Failure.unwritable(path: path, errno: code)
            }
            end += off_t(record.count)
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
