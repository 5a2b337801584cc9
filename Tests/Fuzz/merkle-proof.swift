// RFC 9162 proof verification (FascicoloLedger.MerkleProof). A client runs it on what a daemon
// (or anyone) sends, so any index, size and proof must give an answer, never a trap. Genuine
// proofs of small trees (built here from the RFC's definitions) must verify, and a proof with
// one digest changed, one missing or one too many must not.
import FascicoloCrypto
import FascicoloLedger

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = InputReader(bytes(data, size))
    if input.byte() & 1 == 0 {
        arbitrary(&input)
    } else {
        genuine(&input)
    }
    return 0
}

/// Sizes, indices, roots and proofs as the input gives them.
private func arbitrary(_ input: inout InputReader) {
    let index = input.uint64()
    let treeSize = input.uint64()
    let oldSize = input.uint64()
    let newSize = input.uint64()
    let leaf = digest(&input)
    let root = digest(&input)
    let oldRoot = digest(&input)
    var proof: [Digest] = []
    while !input.bytes.isEmpty && proof.count < 80 { proof.append(digest(&input)) }
    let derived = MerkleProof.rootFromInclusionProof(leafHash: leaf, index: index, treeSize: treeSize, proof: proof)
    let verified = MerkleProof.verifyInclusion(leafHash: leaf, index: index, treeSize: treeSize, proof: proof, root: root)
    check(verified == (derived == root), "verifyInclusion disagrees with rootFromInclusionProof")
    check(derived == nil || index < treeSize, "a root derived for a leaf outside the tree")
    let consistent = MerkleProof.verifyConsistency(oldSize: oldSize, newSize: newSize, proof: proof, oldRoot: oldRoot, newRoot: root)
    check(!consistent || oldSize <= newSize, "a larger tree proved a prefix of a smaller one")
    // Small sizes with the same digests: the loops run to their ends.
    let smallIndex = index % 70
    let smallSize = treeSize % 70
    let smallOld = oldSize % 70
    let smallNew = newSize % 70
    _ = MerkleProof.verifyInclusion(leafHash: leaf, index: smallIndex, treeSize: smallSize, proof: proof, root: root)
    _ = MerkleProof.verifyConsistency(oldSize: smallOld, newSize: smallNew, proof: proof, oldRoot: oldRoot, newRoot: root)
}

/// A tree of 1…64 leaves, a leaf and an older size chosen by the input, their real proofs, and
/// a tampering of each also chosen by the input.
private func genuine(_ input: inout InputReader) {
    let count = Int(input.byte() % 64) + 1
    let index = Int(input.byte()) % count
    let old = Int(input.byte()) % (count + 1)
    let leaves = (0..<count).map { MerkleHash.leaf([UInt8(truncatingIfNeeded: $0), 0x5A]) }[...]
    let root = mth(leaves)

    let proof = path(index, leaves)
    check(
        MerkleProof.verifyInclusion(leafHash: leaves[index], index: UInt64(index), treeSize: UInt64(count), proof: proof, root: root),
        "a genuine inclusion proof fails (leaf \(index) of \(count))")
    if let tampered = tamper(proof, &input) {
        check(
            !MerkleProof.verifyInclusion(
                leafHash: leaves[index], index: UInt64(index), treeSize: UInt64(count), proof: tampered, root: root),
            "a tampered inclusion proof verifies (leaf \(index) of \(count))")
    }

    let oldRoot = mth(leaves.prefix(old))
    let consistency = (0 < old && old < count) ? subproof(old, leaves, true) : []
    check(
        MerkleProof.verifyConsistency(oldSize: UInt64(old), newSize: UInt64(count), proof: consistency, oldRoot: oldRoot, newRoot: root),
        "a genuine consistency proof fails (\(old) to \(count))")
    if let tampered = tamper(consistency, &input) {
        check(
            !MerkleProof.verifyConsistency(oldSize: UInt64(old), newSize: UInt64(count), proof: tampered, oldRoot: oldRoot, newRoot: root),
            "a tampered consistency proof verifies (\(old) to \(count))")
    }
    // Another old root never passes for the real one.
    var wrongRoot = oldRoot.bytes
    wrongRoot[Int(input.byte()) % 32] ^= 1 << (input.byte() % 8)
    check(
        !MerkleProof.verifyConsistency(
            oldSize: UInt64(old), newSize: UInt64(count), proof: consistency,
            oldRoot: Digest(wrongRoot)!, newRoot: root),
        "a consistency proof verifies for a wrong old root (\(old) to \(count))")
}

/// The proof with one digest's bit flipped, one removed or one added; nil for "leave it".
private func tamper(_ proof: [Digest], _ input: inout InputReader) -> [Digest]? {
    var result = proof
    switch input.byte() % 4 {
    case 0 where !proof.isEmpty:
        let at = Int(input.byte()) % proof.count
        var bytes = proof[at].bytes
        bytes[Int(input.byte()) % 32] ^= 1 << (input.byte() % 8)
        result[at] = Digest(bytes)!
    case 1 where !proof.isEmpty:
        result.remove(at: Int(input.byte()) % proof.count)
    case 2:
        result.insert(digest(&input), at: Int(input.byte()) % (proof.count + 1))
    default:
        return nil
    }
    return result
}

private func digest(_ input: inout InputReader) -> Digest { Digest(input.take(32))! }

// RFC 9162 section 2.1: MTH, PATH and SUBPROOF over the leaf hashes, as written there.
private func split(_ n: Int) -> Int {
    var k = 1
    while k * 2 < n { k *= 2 }
    return k
}

private func mth(_ d: ArraySlice<Digest>) -> Digest {
    if d.isEmpty { return MerkleHash.empty }
    if d.count == 1 { return d[d.startIndex] }
    let k = split(d.count)
    return MerkleHash.node(mth(d.prefix(k)), mth(d.dropFirst(k)))
}

private func path(_ m: Int, _ d: ArraySlice<Digest>) -> [Digest] {
    if d.count == 1 { return [] }
    let k = split(d.count)
    if m < k { return path(m, d.prefix(k)) + [mth(d.dropFirst(k))] }
    return path(m - k, d.dropFirst(k)) + [mth(d.prefix(k))]
}

private func subproof(_ m: Int, _ d: ArraySlice<Digest>, _ b: Bool) -> [Digest] {
    if m == d.count { return b ? [] : [mth(d)] }
    let k = split(d.count)
    if m <= k { return subproof(m, d.prefix(k), b) + [mth(d.dropFirst(k))] }
    return subproof(m - k, d.dropFirst(k), false) + [mth(d.prefix(k))]
}
