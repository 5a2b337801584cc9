import FascicoloCrypto

/// Proof verification as specified in RFC 9162 sections 2.1.3.2 (inclusion) and 2.1.4.2
/// (consistency). These functions trust nothing but their arguments: a client can check the
/// daemon's answers with them, or with any other RFC 9162 implementation.
public enum MerkleProof {
    /// Whether `proof` shows that `leafHash` is leaf `index` of the tree of `treeSize` leaves
    /// whose root is `root`.
    public static func verifyInclusion(
        leafHash: Digest, index: UInt64, treeSize: UInt64, proof: [Digest], root: Digest
    ) -> Bool {
        rootFromInclusionProof(leafHash: leafHash, index: index, treeSize: treeSize, proof: proof) == root
    }

    /// The root that `proof` leads to from leaf `index` of a tree of `treeSize` leaves — RFC 9162
    /// section 2.1.3.2 without its final comparison — or nil when the proof has the wrong shape.
    /// (A client deriving the root of an older tree size uses this, then ties that root to a
    /// signed checkpoint with a consistency proof.)
    public static func rootFromInclusionProof(leafHash: Digest, index: UInt64, treeSize: UInt64, proof: [Digest]) -> Digest? {
        guard index < treeSize else { return nil }
        var fn = index
        var sn = treeSize - 1
        var r = leafHash
        for p in proof {
            if sn == 0 { return nil }
            if fn & 1 == 1 || fn == sn {
                r = MerkleHash.node(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = MerkleHash.node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 ? r : nil
    }

    /// Whether `proof` shows that the tree of `oldSize` leaves with root `oldRoot` is a prefix of
    /// the tree of `newSize` leaves with root `newRoot`.
    public static func verifyConsistency(
        oldSize: UInt64, newSize: UInt64, proof: [Digest], oldRoot: Digest, newRoot: Digest
    ) -> Bool {
        guard oldSize <= newSize else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        if oldSize == 0 { return proof.isEmpty && oldRoot == MerkleHash.empty }  // the empty tree is a prefix of every tree
        guard !proof.isEmpty else { return false }
        var path = proof
        // If the old size is a power of two, its root is the first node of the path.
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = MerkleHash.node(c, fr)
                sr = MerkleHash.node(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = MerkleHash.node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && fr == oldRoot && sr == newRoot
    }
}
