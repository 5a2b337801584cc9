import FascicoloCrypto
import FascicoloStorage

/// A resource of the log in C2SP tlog-tiles form (https://c2sp.org/tlog-tiles): a tile of
/// Merkle tree hashes, `tile/<L>/<N>[.p/<W>]`, or an entry bundle, `tile/entries/<N>[.p/<W>]`.
/// Formats.md, "Tiles", says what their bytes are; the paths are the spec's:
///
/// - `<L>`, the level, "MUST be a decimal ASCII integer between 0 and 63, with no additional
///   leading zeroes";
/// - `<N>`, the index, is "encoded into zero-padded 3-digit path elements. All but the last
///   path element MUST begin with an `x`" (1234067 is `x001/x234/067`);
/// - `.p/<W>` is "only present for partial tiles": `<W>` is between 1 and 255.
///
/// One resource has one path: a path that is not the canonical encoding (`x000/005`, `05`,
/// `.p/256`) is not a tile.
public struct TileAddress: Sendable, Hashable, CustomStringConvertible {
    /// Hashes at a level (0: leaf hashes), or the entries themselves.
    public enum Kind: Sendable, Hashable {
        case hashes(level: Int)
        case entries
    }

    /// Hashes (or entries) per full tile: tiles have height 8.
    public static let width = 256

    public let kind: Kind
    public let index: UInt64
    /// 1…256; 256 is a full tile.
    public let width: Int

    public init(_ kind: Kind, index: UInt64, width: Int = TileAddress.width) {
        precondition((1...Self.width).contains(width), "a tile holds 1 to 256 hashes")
        if case .hashes(let level) = kind { precondition((0...63).contains(level), "tile levels are 0 to 63") }
        self.kind = kind
        self.index = index
        self.width = width
    }

    public var isPartial: Bool { width < Self.width }

    /// The path under the log's prefix, e.g. `tile/0/x001/234.p/7`.
    public var path: String {
        var path = "tile/"
        switch kind {
        case .hashes(let level): path += String(level)
        case .entries: path += "entries"
        }
        path += "/" + Self.encode(index)
        if isPartial { path += ".p/" + String(width) }
        return path
    }

    public var description: String { path }

    /// The index in 3-digit groups, all but the last prefixed with `x`.
    static func encode(_ index: UInt64) -> String {
        var groups: [String] = []
        var rest = index
        repeat {
            let group = String(rest % 1000)
            groups.append(String(repeating: "0", count: 3 - group.count) + group)
            rest /= 1000
        } while rest > 0
        return groups.reversed().enumerated().map { $0.offset == groups.count - 1 ? $0.element : "x" + $0.element }.joined(
            separator: "/")
    }

    /// Parses a path under the prefix (`tile/…`); nil when it is not a canonical tile path.
    public init?(path: some StringProtocol) {
        var parts = String(path).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, parts[0] == "tile" else { return nil }
        let kind: Kind
        if parts[1] == "entries" {
            kind = .entries
        } else {
            guard let level = Self.decimal(parts[1]), level <= 63 else { return nil }
            kind = .hashes(level: Int(level))
        }
        parts.removeFirst(2)
        var width = Self.width
        if parts.count >= 2, parts[parts.count - 2].hasSuffix(".p") {
            guard let partial = Self.decimal(parts[parts.count - 1]), (1...255).contains(partial) else { return nil }
            width = Int(partial)
            parts.removeLast()
            parts[parts.count - 1].removeLast(2)
        }
        var index: UInt64 = 0
        for (offset, part) in parts.enumerated() {
            var digits = Substring(part)
            if offset < parts.count - 1 {
                guard digits.first == "x" else { return nil }
                digits.removeFirst()
            }
            guard digits.count == 3, digits.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let group = UInt64(digits),
                index <= (UInt64.max - group) / 1000
            else { return nil }
            index = index * 1000 + group
        }
        self.init(kind, index: index, width: width)
        // One resource, one path: leading zero groups (`x000/005`) are not the same tile.
        guard self.path == String(path) else { return nil }
    }

    /// A decimal number with no sign and no leading zero.
    private static func decimal(_ text: String) -> UInt64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), text == "0" || !text.hasPrefix("0") else { return nil }
        return UInt64(text)
    }

    /// The level the tile's hashes are at, in tiles (entry bundles sit at level 0).
    var tileLevel: Int {
        if case .hashes(let level) = kind { return level }
        return 0
    }

    /// Whether the tree of `treeSize` entries has this tile: its hashes (or entries) exist. A
    /// partial tile of any width up to what the tree holds exists, so the partial tiles of
    /// earlier checkpoints stay readable.
    public func exists(inTreeOf treeSize: UInt64) -> Bool {
        let shift = UInt64(8 * tileLevel)
        let available = shift >= 64 ? 0 : treeSize >> shift
        let (first, overflow) = index.multipliedReportingOverflow(by: UInt64(Self.width))
        guard !overflow else { return false }
        return first < available && UInt64(width) <= available - first
    }

    /// Every tile a tree of `treeSize` entries is published as (full tiles, then at most one
    /// partial tile per level), entry bundles when `entries`: what `fascicolo tiles export` writes.
    public static func all(treeSize: UInt64, entries: Bool) -> [TileAddress] {
        var tiles: [TileAddress] = []
        var level = 0
        var count = treeSize
        while count > 0 {
            let full = count / UInt64(width)
            let partial = Int(count % UInt64(width))
            for index in 0..<full {
                tiles.append(TileAddress(.hashes(level: level), index: index))
                if entries && level == 0 { tiles.append(TileAddress(.entries, index: index)) }
            }
            if partial > 0 {
                tiles.append(TileAddress(.hashes(level: level), index: full, width: partial))
                if entries && level == 0 { tiles.append(TileAddress(.entries, index: full, width: partial)) }
            }
            level += 1
            count = full
        }
        return tiles
    }
}

/// Why a tile cannot be served.
public enum TileFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The tree it was asked within does not hold it (yet).
    case notInTree
    /// An entry bundle frames each entry with a 16-bit length: an entry of more than 65,535
    /// bytes (possible with `limits.payload_bytes_max` above its default) does not fit.
    case entryTooLarge(position: UInt64, bytes: Int)

    public var description: String {
        switch self {
        case .notInTree: "the tree does not hold this tile"
        case .entryTooLarge(let position, let bytes):
            "the entry at position \(position) has \(bytes) bytes, more than an entry bundle's 65,535"
        }
    }
}

extension LedgerSnapshot {
    /// The bytes of `tile` in the tree of `treeSize` entries: the concatenated 32-byte hashes,
    /// or, for an entry bundle, each entry's stored bytes after its length as a big-endian uint16.
    public func tile(_ tile: TileAddress, treeSize: UInt64) throws -> [UInt8] {
        guard treeSize <= (try entryCount()), tile.exists(inTreeOf: treeSize) else { throw TileFailure.notInTree }
        let first = tile.index * UInt64(TileAddress.width)
        var bytes: [UInt8] = []
        switch tile.kind {
        case .hashes(let level):
            bytes.reserveCapacity(tile.width * Digest.byteCount)
            let tree = MerkleTree(transaction: transaction, table: store.merkle)
            for offset in 0..<UInt64(tile.width) {
                // Hash i of tile n at level l is MTH of 256^l leaves: the stored node of height 8·l.
                let node = try tree.node(level: 8 * level, index: first + offset)
                node.withUnsafeBytes { bytes.append(contentsOf: $0) }
            }
        case .entries:
            try transaction.withCursor(store.entries) { cursor in
                var record = try cursor.seek(atOrAfter: BigEndian.bytes(first))
                for offset in 0..<UInt64(tile.width) {
                    let position = first + offset
                    guard let current = record, current.key.count == 8, BigEndian.read(UInt64.self, from: current.key, at: 0) == position
                    else { throw DamagedData(table: "entries", what: "the entry at position \(position) is missing") }
                    guard current.value.count <= Int(UInt16.max) else {
                        throw TileFailure.entryTooLarge(position: position, bytes: current.value.count)
                    }
                    BigEndian.append(UInt16(current.value.count), to: &bytes)
                    bytes.append(contentsOf: current.value)
                    record = try cursor.next()
                }
            }
        }
        return bytes
    }
}
