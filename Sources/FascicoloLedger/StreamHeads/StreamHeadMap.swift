import FascicoloCrypto
import FascicoloStorage

/// A stream's head among the entries a checkpoint covers: its latest version and that entry's position.
public struct StreamHead: Sendable, Equatable, Hashable {
    public let version: UInt64
    public let position: UInt64

    public init(version: UInt64, position: UInt64) {
        self.version = version
        self.position = position
    }
}

/// The hashing of the stream-head map (Formats.md, "The stream-head map"): a sparse Merkle tree
/// of depth 256 keyed by SHA-256 of the stream name, in which a subtree holding a single stream
/// is represented by that stream's leaf. Every checkpoint commits to its root, so that one
/// stream's entries can be proven complete without reading the rest of the log.
public enum StreamHeadMap {
    /// The hash of a subtree that holds no stream: 32 zero bytes.
    public static let empty = Digest([UInt8](repeating: 0, count: Digest.byteCount))!

    /// The checkpoint extension line's label.
    public static let lineLabel = "fascicolo/stream-heads/v1"

    /// `SHA-256(stream name)`.
    public static func key(stream: some Collection<UInt8>) -> Digest {
        var hasher = SHA256()
        if stream.withContiguousStorageIfAvailable({ hasher.update(UnsafeRawBufferPointer($0)) }) == nil {
            hasher.update(Array(stream))
        }
        return hasher.finalize()
    }

    /// `SHA-256(0x02 ‖ key ‖ version ‖ position)`, integers big-endian.
    public static func leafHash(key: Digest, head: StreamHead) -> Digest {
        var hasher = SHA256()
        hasher.update(byte: 0x02)
        hasher.update(key)
        hasher.update(BigEndian.bytes(head.version))
        hasher.update(BigEndian.bytes(head.position))
        return hasher.finalize()
    }

    /// `SHA-256(0x03 ‖ left ‖ right)`.
    public static func nodeHash(_ left: Digest, _ right: Digest) -> Digest {
        var hasher = SHA256()
        hasher.update(byte: 0x03)
        hasher.update(left)
        hasher.update(right)
        return hasher.finalize()
    }

    /// Bit `index` (0 … 255) of `key`, most significant bit of byte 0 first; 0 is the left child.
    @inline(__always)
    static func bit(_ key: Digest, _ index: Int) -> Int {
        let byte = index >> 3
        let word: UInt64 =
            switch byte >> 3 {
            case 0: key.a
            case 1: key.b
            case 2: key.c
            default: key.d
            }
        // `Digest` loads its words from memory in the machine's (little-endian) order.
        let value = UInt8(truncatingIfNeeded: word >> UInt64((byte & 7) * 8))
        return Int(value >> UInt8(7 - (index & 7))) & 1
    }

    /// The number of leading bits `a` and `b` share (256 when equal).
    static func commonPrefixLength(_ a: Digest, _ b: Digest) -> Int {
        for (index, difference) in [a.a ^ b.a, a.b ^ b.b, a.c ^ b.c, a.d ^ b.d].enumerated() where difference != 0 {
            // The word's lowest byte is the first in memory (see `bit`).
            let byte = difference.trailingZeroBitCount / 8
            let differing = UInt8(truncatingIfNeeded: difference >> UInt64(byte * 8))
            return index * 64 + byte * 8 + differing.leadingZeroBitCount
        }
        return 256
    }
}

/// A proof of one stream's head (or of its absence) in the map a checkpoint commits to.
public struct StreamHeadProof: Sendable, Equatable {
    public enum Terminal: Sendable, Equatable {
        /// The stream's own leaf, at the end of the path: its head is `head`.
        case head
        /// An empty subtree where the stream would be: it has no entry.
        case empty
        /// Another stream's leaf where the stream would be: it has no entry.
        case otherStream(key: Digest, head: StreamHead)
    }

    /// The stream's head; nil when the stream has no entry among those the checkpoint covers.
    public let head: StreamHead?
    /// The sibling hashes along the stream's path, the one at depth 1 first.
    public let siblings: [Digest]
    public let terminal: Terminal

    public init(head: StreamHead?, siblings: [Digest], terminal: Terminal) {
        self.head = head
        self.siblings = siblings
        self.terminal = terminal
    }

    /// The map root this proof leads to for `stream`, or nil when the proof is malformed: a head
    /// with a terminal that is not the stream's leaf (or the reverse), another stream's key that
    /// is the stream's own or leaves the path, more than 256 siblings.
    public func root(stream: some Collection<UInt8>) -> Digest? {
        let key = StreamHeadMap.key(stream: stream)
        guard siblings.count <= 256 else { return nil }
        var hash: Digest
        switch (terminal, head) {
        case (.head, let head?):
            hash = StreamHeadMap.leafHash(key: key, head: head)
        case (.empty, nil):
            hash = StreamHeadMap.empty
        case (.otherStream(let other, let otherHead), nil):
            guard other != key, StreamHeadMap.commonPrefixLength(other, key) >= siblings.count else { return nil }
            hash = StreamHeadMap.leafHash(key: other, head: otherHead)
        default:
            return nil
        }
        for depth in stride(from: siblings.count - 1, through: 0, by: -1) {
            hash =
                StreamHeadMap.bit(key, depth) == 0
                ? StreamHeadMap.nodeHash(hash, siblings[depth]) : StreamHeadMap.nodeHash(siblings[depth], hash)
        }
        return hash
    }
}
