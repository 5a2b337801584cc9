import FascicoloCrypto
import FascicoloStorage

/// The stored Merkle tree: reads nodes from the `merkle` table and answers roots and proofs for
/// any tree size up to the current one. Every hash needed is either a stored complete-subtree node
/// or the fold of at most log2(n) of them, so a root or proof costs O(log n) reads (a proof
/// O(log² n) in the worst case, still under a few hundred reads at a billion entries).
public struct MerkleTree {
    let transaction: ReadTransaction
    let table: Table

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// A proof or root was asked for a size beyond the tree, or an index beyond the size.
        case outOfRange(String)
        /// A node the tree should have is missing: the store is damaged.
        case missingNode(level: Int, index: UInt64)

        public var description: String {
            switch self {
            case .outOfRange(let why): why
            case .missingNode(let level, let index): "Merkle node at level \(level), index \(index) is missing"
            }
        }
    }

    /// The stored node at `level` covering leaves [index·2^level, (index+1)·2^level).
    func node(level: Int, index: UInt64) throws -> Digest {
        let key = BigEndian.bytes(MerkleNodeIndex.of(level: level, index: index))
        guard
            let digest = try transaction.withValue(
                in: table, key: key,
                { bytes -> Digest? in
                    bytes.count == Digest.byteCount ? Digest(bytes: bytes) : nil
                }) ?? nil
        else {
            throw Failure.missingNode(level: level, index: index)
        }
        return digest
    }

    /// MTH(D[start..<end]) where the range is one the RFC's recursion produces: `start` is a
    /// multiple of the largest power of two not above `end − start`.
    func subtreeHash(_ start: UInt64, _ end: UInt64) throws -> Digest {
        precondition(end > start, "empty subtree")
        let size = end - start
        if size & (size - 1) == 0 {
            let level = size.trailingZeroBitCount
            return try node(level: level, index: start >> UInt64(level))
        }
        let split = largestPowerOfTwo(below: size)
        return MerkleHash.node(try subtreeHash(start, start + split), try subtreeHash(start + split, end))
    }

    /// The root of the tree of the first `size` leaves.
    public func root(size: UInt64) throws -> Digest {
        size == 0 ? MerkleHash.empty : try subtreeHash(0, size)
    }

    /// The leaf hash of leaf `index`.
    public func leafHash(_ index: UInt64) throws -> Digest {
        try node(level: 0, index: index)
    }

    /// The audit path of RFC 9162 section 2.1.3.1 for leaf `index` in the tree of `size` leaves.
    public func inclusionProof(index: UInt64, size: UInt64) throws -> [Digest] {
        guard index < size else { throw Failure.outOfRange("leaf \(index) is not in a tree of \(size) entries") }
        var proof: [Digest] = []
        try path(index, 0, size, into: &proof)
        return proof
    }

    private func path(_ m: UInt64, _ start: UInt64, _ end: UInt64, into proof: inout [Digest]) throws {
        let n = end - start
        guard n > 1 else { return }
        let k = largestPowerOfTwo(below: n)
        if m < k {
            try path(m, start, start + k, into: &proof)
            proof.append(try subtreeHash(start + k, end))
        } else {
            try path(m - k, start + k, end, into: &proof)
            proof.append(try subtreeHash(start, start + k))
        }
    }

    /// The consistency proof of RFC 9162 section 2.1.4.1 between trees of `oldSize` and `newSize` leaves.
    public func consistencyProof(oldSize: UInt64, newSize: UInt64) throws -> [Digest] {
        guard oldSize <= newSize else {
            throw Failure.outOfRange("old size \(oldSize) is larger than new size \(newSize)")
        }
        guard oldSize > 0, oldSize < newSize else { return [] }
        var proof: [Digest] = []
        try subproof(oldSize, 0, newSize, complete: true, into: &proof)
        return proof
    }

    private func subproof(_ m: UInt64, _ start: UInt64, _ end: UInt64, complete: Bool, into proof: inout [Digest]) throws {
        let n = end - start
        if m == n {
            if !complete { proof.append(try subtreeHash(start, end)) }
            return
        }
        let k = largestPowerOfTwo(below: n)
        if m <= k {
            try subproof(m, start, start + k, complete: complete, into: &proof)
            proof.append(try subtreeHash(start + k, end))
        } else {
            try subproof(m - k, start + k, end, complete: false, into: &proof)
            proof.append(try subtreeHash(start, start + k))
        }
    }
}

/// The largest power of two strictly below `n` (n ≥ 2), the split point of RFC 9162's recursion.
@inline(__always)
func largestPowerOfTwo(below n: UInt64) -> UInt64 {
    precondition(n >= 2)
    return UInt64(1) << UInt64(63 - (n - 1).leadingZeroBitCount)
}

/// The right edge of the tree being appended to: the roots of its complete subtrees, largest
/// first (one per set bit of the size). Appending a leaf pushes it and merges equal levels,
/// producing exactly the nodes to store, in post-order. Kept in memory by the writer.
struct MerkleFrontier {
    private(set) var size: UInt64 = 0
    /// (level, hash), levels strictly decreasing.
    private(set) var peaks: [(level: Int, hash: Digest)] = []

    init() {}

    /// Rebuilds the frontier of a stored tree of `size` leaves from its peaks.
    init(size: UInt64, tree: MerkleTree) throws {
        self.size = size
        var start: UInt64 = 0
        for level in stride(from: 63, through: 0, by: -1) where size & (UInt64(1) << UInt64(level)) != 0 {
            peaks.append((level, try tree.node(level: level, index: start >> UInt64(level))))
            start += UInt64(1) << UInt64(level)
        }
    }

    /// Adds a leaf; calls `store` with each new node's post-order number and hash, in order.
    mutating func append(leaf: Digest, store: (UInt64, Digest) throws -> Void) rethrows {
        var number = MerkleNodeIndex.count(treeSize: size)
        try store(number, leaf)
        var hash = leaf
        var level = 0
        while let last = peaks.last, last.level == level {
            peaks.removeLast()
            hash = MerkleHash.node(last.hash, hash)
            level += 1
            number += 1
            try store(number, hash)
        }
        peaks.append((level, hash))
        size += 1
    }

    /// The root of the current tree: the peaks folded from the right.
    var root: Digest {
        guard var hash = peaks.last?.hash else { return MerkleHash.empty }
        for peak in peaks.dropLast().reversed() { hash = MerkleHash.node(peak.hash, hash) }
        return hash
    }
}
