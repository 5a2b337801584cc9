import FascicoloCrypto

/// The hashes of RFC 9162 section 2.1.1 (as in RFC 6962): SHA-256, with a one-byte prefix that
/// keeps leaves and interior nodes apart.
public enum MerkleHash {
    /// The hash of the empty tree: SHA-256 of no bytes.
    public static let empty: Digest = SHA256.hash([])

    /// `SHA-256(0x00 ‖ leaf)`.
    public static func leaf(_ bytes: UnsafeRawBufferPointer) -> Digest {
        var hasher = SHA256()
        hasher.update(byte: 0x00)
        hasher.update(bytes)
        return hasher.finalize()
    }

    public static func leaf(_ bytes: [UInt8]) -> Digest {
        bytes.withUnsafeBytes { leaf($0) }
    }

    /// `SHA-256(0x01 ‖ left ‖ right)`.
    public static func node(_ left: Digest, _ right: Digest) -> Digest {
        var hasher = SHA256()
        hasher.update(byte: 0x01)
        hasher.update(left)
        hasher.update(right)
        return hasher.finalize()
    }
}

/// Where the ledger stores the nodes of the tree: every node that roots a complete (perfect)
/// subtree gets a number in post-order, the order in which an append-only tree completes them.
///
/// Leaf 0 is node 0, leaf 1 is node 1, their parent node 2, leaf 2 node 3, leaf 3 node 4, their
/// parent 5, the parent of 2 and 5 node 6, and so on. Appending only ever adds nodes at the end,
/// so the node table is written with LMDB's append mode and `verify` reads it sequentially.
public enum MerkleNodeIndex {
    /// How many complete-subtree nodes a tree of `size` leaves has: 2·size − popcount(size).
    @inline(__always)
    public static func count(treeSize size: UInt64) -> UInt64 {
        2 * size - UInt64(size.nonzeroBitCount)
    }

    /// The post-order number of the node at `level` (0 = leaves) covering leaves
    /// [index·2^level, (index+1)·2^level). Adding its last leaf L creates, in order, the leaf
    /// (number count(L)) and then the ancestors that L completes, one per level.
    @inline(__always)
    public static func of(level: Int, index: UInt64) -> UInt64 {
        let lastLeaf = (index + 1) << UInt64(level) - 1
        return count(treeSize: lastLeaf) + UInt64(level)
    }
}
