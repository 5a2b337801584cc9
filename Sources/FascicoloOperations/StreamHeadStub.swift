// TEMPORARY: the names of the ledger API the lead is adding (briefs/ledger-api18.md), so the
// bundle verifier builds before it lands. Deleted when main is merged.
import FascicoloCrypto

public struct StreamHead: Sendable, Equatable {
    public let version: UInt64
    public let position: UInt64
    public init(version: UInt64, position: UInt64) {
        self.version = version
        self.position = position
    }
}

public enum StreamHeadMap {
    public static let empty = Digest([UInt8](repeating: 0, count: 32))!
    public static func key(stream: some Collection<UInt8>) -> Digest { SHA256.hash(Array(stream)) }
    public static func leafHash(key: Digest, head: StreamHead) -> Digest {
        var hasher = SHA256()
        hasher.update(byte: 0x02)
        hasher.update(key)
        for value in [head.version, head.position] { withUnsafeBytes(of: value.bigEndian) { hasher.update($0) } }
        return hasher.finalize()
    }
    public static func nodeHash(_ left: Digest, _ right: Digest) -> Digest {
        var hasher = SHA256()
        hasher.update(byte: 0x03)
        hasher.update(left)
        hasher.update(right)
        return hasher.finalize()
    }
}

public struct StreamHeadProof: Sendable, Equatable {
    public enum Terminal: Sendable, Equatable {
        case head, empty
        case otherStream(key: Digest, head: StreamHead)
    }
    public let head: StreamHead?
    public let siblings: [Digest]
    public let terminal: Terminal
    public init(head: StreamHead?, siblings: [Digest], terminal: Terminal) {
        self.head = head
        self.siblings = siblings
        self.terminal = terminal
    }
    public func root(stream: some Collection<UInt8>) -> Digest? {
        let key = StreamHeadMap.key(stream: stream)
        let keyBytes = key.bytes
        func bit(_ bytes: [UInt8], _ i: Int) -> UInt8 { (bytes[i / 8] >> (7 - UInt8(i % 8))) & 1 }
        guard siblings.count <= 256 else { return nil }
        var hash: Digest
        switch (terminal, head) {
        case (.head, let head?): hash = StreamHeadMap.leafHash(key: key, head: head)
        case (.empty, nil): hash = StreamHeadMap.empty
        case (.otherStream(let other, let otherHead), nil):
            let otherBytes = other.bytes
            guard other != key, (0..<siblings.count).allSatisfy({ bit(otherBytes, $0) == bit(keyBytes, $0) }) else { return nil }
            hash = StreamHeadMap.leafHash(key: other, head: otherHead)
        default: return nil
        }
        for i in stride(from: siblings.count - 1, through: 0, by: -1) {
            hash = bit(keyBytes, i) == 0 ? StreamHeadMap.nodeHash(hash, siblings[i]) : StreamHeadMap.nodeHash(siblings[i], hash)
        }
        return hash
    }
}
