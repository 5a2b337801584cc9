import FascicoloCrypto

/// The body of a C2SP `tlog-witness` add-checkpoint request (https://c2sp.org/tlog-witness):
///
/// > The request body MUST be a sequence of
/// >   - an old size line,
/// >   - zero or more consistency proof lines,
/// >   - and an empty line,
/// >   - followed by a checkpoint.
/// >
/// > Each line MUST terminate in a newline character (U+000A).
/// >
/// > The old size line MUST consist of the string `old`, a single space (0x20), and the tree size
/// > of the previous checkpoint encoded as an ASCII decimal with no leading zeroes (unless the
/// > size is zero, in which case the encoding MUST be `0`).
/// >
/// > Each consistency proof line MUST encode a single hash in base64. The client MUST NOT send
/// > more than 63 consistency proof lines.
///
/// Everything here is syntax; what is malformed is answered "400 Bad Request".
public struct AddCheckpointRequest: Sendable, Equatable {
    public static let proofLinesMax = 63

    public let oldSize: UInt64
    public let proof: [Digest]
    /// The checkpoint: a signed note, as sent.
    public let note: String

    public init(oldSize: UInt64, proof: [Digest], note: String) {
        self.oldSize = oldSize
        self.proof = proof
        self.note = note
    }

    /// The request body, as a log sends it.
    public var body: String {
        "old \(oldSize)\n" + proof.map { Base64.encode($0.bytes) + "\n" }.joined() + "\n" + note
    }

    public struct Malformed: Error, Equatable, Sendable, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    /// Parses a body. Text that is not UTF-8, or holds a control character other than the
    /// newline, is refused (signed-note: "Signed notes MUST be valid UTF-8 and MUST NOT contain any
    /// ASCII control characters (those below U+0020) other than newline").
    public init(body: [UInt8]) throws(Malformed) {
        guard let text = String(validating: body, as: UTF8.self) else { throw Malformed(reason: "the body is not UTF-8") }
        guard body.allSatisfy({ $0 >= 0x20 || $0 == 0x0A }), !body.contains(0x7F) else {
            throw Malformed(reason: "the body holds a control character")
        }
        var lines = text.utf8.split(separator: 0x0A, maxSplits: Self.proofLinesMax + 2, omittingEmptySubsequences: false)[...]
        guard let first = lines.popFirst(), first.starts(with: "old ".utf8) else {
            throw Malformed(reason: "the first line is 'old <size>'")
        }
        guard let size = Self.decimal(first.dropFirst(4)) else {
            throw Malformed(reason: "the old size is a decimal without leading zeroes")
        }
        var proof: [Digest] = []
        var consumed = first.count + 1
        var sawEmptyLine = false
        while let line = lines.popFirst() {
            consumed += line.count + 1
            if line.isEmpty {
                sawEmptyLine = true
                break
            }
            guard proof.count < Self.proofLinesMax else { throw Malformed(reason: "more than 63 consistency proof lines") }
            let encoded = String(decoding: line, as: UTF8.self)
            guard let bytes = Base64.decode(encoded), let digest = Digest(bytes), Base64.encode(bytes) == encoded else {
                throw Malformed(reason: "a consistency proof line is one base64 SHA-256 hash")
            }
            proof.append(digest)
        }
        guard sawEmptyLine, consumed < body.count else { throw Malformed(reason: "no empty line before the checkpoint") }
        self.init(oldSize: size, proof: proof, note: String(decoding: body[consumed...], as: UTF8.self))
    }

    /// An ASCII decimal with no leading zeroes ("0" alone for zero), that fits 64 bits.
    static func decimal(_ digits: some Collection<UInt8>) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 20, digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        guard digits.first != 0x30 || digits.count == 1 else { return nil }
        return UInt64(String(decoding: digits, as: UTF8.self))
    }
}
