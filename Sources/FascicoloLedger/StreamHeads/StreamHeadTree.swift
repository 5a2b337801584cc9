import FascicoloCrypto

/// The stream-head map held in memory and updated in place, for those who compute its root
/// again and again as the log grows: the writer at every checkpoint, `verify` at every
/// checkpoint of the log it replays. Setting a head re-hashes only the path from its leaf to
/// the root (about log2(streams) + 2 hashes), at the next `root`.
///
/// Nodes live in two arrays addressed by index (no object per node): a map of a million
/// streams takes about 100 MB. The shape is the map's own (Formats.md): a subtree holding one
/// stream is that stream's leaf; an inner node has two children, either of which may be empty.
struct StreamHeadTree {
    private struct Leaf {
        let key: Digest
        var head: StreamHead
        var hash: Digest
    }

    private struct Inner {
        var left: Int32
        var right: Int32
        var hash: Digest
        var dirty: Bool
    }

    /// A child: `Self.none` for an empty subtree, ≥ 0 an inner node, ≤ −2 the leaf −(child + 2).
    private static let none: Int32 = -1
    private var leaves: [Leaf] = []
    private var inners: [Inner] = []
    private var rootChild: Int32 = StreamHeadTree.none
    private var leafIndex: [Digest: Int32] = [:]

    init() {}

    init(rows: [StreamHeadTable.Row]) {
        leaves.reserveCapacity(rows.count)
        for row in rows { set(key: row.key, head: row.head) }
    }

    /// The number of streams in the map.
    var count: Int { leaves.count }

    /// The head of the stream whose key is `key`, if it is in the map.
    func head(key: Digest) -> StreamHead? {
        leafIndex[key].map { leaves[Int($0)].head }
    }

    /// Sets the head of `stream`.
    mutating func set(stream: some Collection<UInt8>, head: StreamHead) {
        set(key: StreamHeadMap.key(stream: stream), head: head)
    }

    mutating func set(key: Digest, head: StreamHead) {
        set(key: key, head: head, leafHash: StreamHeadMap.leafHash(key: key, head: head))
    }

    /// Sets a head whose leaf hash the caller computed (`verify` hashes on every core, then
    /// sets the heads in log order).
    mutating func set(key: Digest, head: StreamHead, leafHash hash: Digest) {
        if let existing = leafIndex[key] {
            leaves[Int(existing)].head = head
            leaves[Int(existing)].hash = hash
            markPath(to: key)
            return
        }
        let newLeaf = Self.leafChild(Int32(leaves.count))
        leaves.append(Leaf(key: key, head: head, hash: hash))
        leafIndex[key] = Int32(leaves.count - 1)
        rootChild = insert(newLeaf, key: key, into: rootChild, depth: 0)
    }

    /// The map root, re-hashing what changed since the last call.
    mutating func root() -> Digest {
        hash(of: rootChild)
    }

    // MARK: - Inside

    private static func leafChild(_ index: Int32) -> Int32 { -(index + 2) }

    /// Puts the leaf `newLeaf` (of `key`) into the subtree `child` at `depth`; returns the subtree's new child.
    private mutating func insert(_ newLeaf: Int32, key: Digest, into child: Int32, depth: Int) -> Int32 {
        if child == Self.none { return newLeaf }
        if child >= 0 {
            let index = Int(child)
            inners[index].dirty = true
            if StreamHeadMap.bit(key, depth) == 0 {
                let updated = insert(newLeaf, key: key, into: inners[index].left, depth: depth + 1)
                inners[index].left = updated
            } else {
                let updated = insert(newLeaf, key: key, into: inners[index].right, depth: depth + 1)
                inners[index].right = updated
            }
            return child
        }
        // A leaf of another stream: split until the two keys part, one inner node per shared bit.
        let other = leaves[Int(-(child + 2))].key
        let parting = StreamHeadMap.commonPrefixLength(other, key)
        precondition(parting < 256, "two streams with one key")
        var subtree: Int32
        if StreamHeadMap.bit(key, parting) == 0 {
            subtree = newInner(left: newLeaf, right: child)
        } else {
            subtree = newInner(left: child, right: newLeaf)
        }
        var level = parting - 1
        while level >= depth {
            subtree =
                StreamHeadMap.bit(key, level) == 0 ? newInner(left: subtree, right: Self.none) : newInner(left: Self.none, right: subtree)
            level -= 1
        }
        return subtree
    }

    private mutating func newInner(left: Int32, right: Int32) -> Int32 {
        inners.append(Inner(left: left, right: right, hash: StreamHeadMap.empty, dirty: true))
        return Int32(inners.count - 1)
    }

    /// Marks dirty every inner node from the root to `key`'s leaf.
    private mutating func markPath(to key: Digest) {
        var child = rootChild
        var depth = 0
        while child >= 0 {
            inners[Int(child)].dirty = true
            child = StreamHeadMap.bit(key, depth) == 0 ? inners[Int(child)].left : inners[Int(child)].right
            depth += 1
        }
    }

    private mutating func hash(of child: Int32) -> Digest {
        if child == Self.none { return StreamHeadMap.empty }
        if child < 0 { return leaves[Int(-(child + 2))].hash }
        let index = Int(child)
        guard inners[index].dirty else { return inners[index].hash }
        let left = hash(of: inners[index].left)
        let right = hash(of: inners[index].right)
        let hash = StreamHeadMap.nodeHash(left, right)
        inners[index].hash = hash
        inners[index].dirty = false
        return hash
    }
}
