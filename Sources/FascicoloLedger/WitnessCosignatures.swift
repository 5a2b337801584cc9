import FascicoloCrypto
import Glibc
import Synchronization

/// The cosignature lines witnesses returned for this log's checkpoints (C2SP tlog-witness), kept
/// so that the checkpoints are served with them: an auditor holding a witness's key then checks
/// that the note it got is the one the witness saw (Formats.md, "Witness cosignatures").
///
/// Kept in `witness-cosignatures` in the data directory, one `<tree size> <base64 root> <line>`
/// per line, appended (not synced: see below) before a line is served. The file is evidence obtained from
/// others, not part of the signed log: a lost tail (a power cut) loses only the latest
/// cosignatures, which the witnesses give again with the next checkpoint, and whoever was served
/// a line keeps it in their copy of the note. Nothing in it is trusted without checking — every
/// line was verified with its witness's key when it came, and again by whoever verifies. Not
/// synced because an fsync per cosignature competes with the log's own commits for the disk:
/// with it, two witnesses cost 1 × 100 appends 16% (`fascicolo-bench witnessed`).
///
/// A line is kept with the root of the tree it cosigned, and served only with a note of that
/// size *and* root: a data directory restored from an older backup signs other checkpoints of
/// the same sizes, and must not be served with the cosignatures of the history it replaced
/// (`WitnessSplitViewTests`). Lines kept before the root was (`<size> <line>`) are not served.
public final class WitnessCosignatures: Sendable {
    /// The file, or nil to keep them in memory only (tests, daemons without witnesses).
    private let path: String?
    private let lines = Mutex<[Tree: [String]]>([:])

    /// A checkpoint's tree: its size and root.
    struct Tree: Hashable {
        let size: UInt64
        let root: Digest
    }

    public static let fileName = "witness-cosignatures"

    public init(path: String?) {
        self.path = path
        guard let path, let file = fopen(path, "r") else { return }
        defer { fclose(file) }
        var loaded: [Tree: [String]] = [:]
        var buffer = [CChar](repeating: 0, count: 4_096)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // A torn last line (a crash while appending) is skipped: it was never served.
            let fields = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard text.hasSuffix("\n"), fields.count == 3, let size = UInt64(fields[0]),
                let rootBytes = Base64.decode(String(fields[1])), let root = Digest(rootBytes), fields[2].hasPrefix("\u{2014} ")
            else { continue }
            let line = String(fields[2])
            let tree = Tree(size: size, root: root)
            if !(loaded[tree]?.contains(where: { Self.signer(of: $0) == Self.signer(of: line) }) ?? false) {
                loaded[tree, default: []].append(line)
            }
        }
        lines.withLock { $0 = loaded }
    }

    /// Keeps `line` (a signature line, ending with a newline) for the checkpoint of `size`
    /// entries, in the file when there is one — unless that witness's key already has a line for
    /// that size: a witness asked again (after a restart) cosigns the same checkpoint with a new
    /// time, and a note carries one line per key (a second would make verifiers refuse it).
    public func add(size: UInt64, root: Digest, line: String) throws {
        precondition(line.hasSuffix("\n") && !line.dropLast().contains("\n"), "one signature line")
        let tree = Tree(size: size, root: root)
        let isNew = lines.withLock { lines in
            if lines[tree]?.contains(where: { Self.signer(of: $0) == Self.signer(of: line) }) ?? false { return false }
            lines[tree, default: []].append(line)
            return true
        }
        guard isNew, let path else { return }
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Failure(errno: errno) }
        defer { close(descriptor) }
        let record = Array("\(size) \(Base64.encode(root.bytes)) \(line)".utf8)
        let written = record.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == record.count else { throw Failure(errno: errno) }
    }

    /// Who signed a line: its name and the key ID its blob starts with.
    static func signer(of line: String) -> String? {
        let fields = line.dropLast().split(separator: " ")
        guard fields.count == 3, let blob = Base64.decode(String(fields[2])), blob.count > 4 else { return nil }
        return fields[1] + " " + Hex.encode(Array(blob.prefix(4)))
    }

    /// The lines kept for the checkpoint of `size` entries and this `root`.
    public func lines(size: UInt64, root: Digest) -> [String] {
        lines.withLock { $0[Tree(size: size, root: root)] ?? [] }
    }

    /// `note` with the witnesses' lines for its tree (the size and root its text names) added
    /// after the log's own.
    public func witnessed(_ note: String) -> String {
        let text = note.split(separator: "\n", maxSplits: 3, omittingEmptySubsequences: false)
        guard text.count >= 3, let size = UInt64(text[1]), let bytes = Base64.decode(String(text[2])), let root = Digest(bytes)
        else { return note }
        return lines(size: size, root: root).reduce(note) { note, line in note.contains(line) ? note : note + line }
    }

    struct Failure: Error, CustomStringConvertible {
        let errno: Int32
        var description: String { "cannot keep a witness cosignature: \(String(cString: strerror(errno)))" }
    }
}
