import FascicoloCrypto
import FascicoloStorage
import Foundation
import Testing

@testable import FascicoloLedger

// MARK: - An independent RFC 9162 implementation

/// RFC 9162 section 2.1, transcribed as directly as possible: recursive, over the leaf data, with
/// SHA-256 called here rather than through `MerkleHash`. Slow and obviously right, so that the
/// ledger's stored tree and the verifiers can be compared with it.
private enum RFC9162 {
    /// HASH(0x00 || d(0)).
    static func leafHash(_ data: [UInt8]) -> Digest { SHA256.hash([0x00] + data) }

    /// HASH(0x01 || left || right).
    static func nodeHash(_ left: Digest, _ right: Digest) -> Digest { SHA256.hash([0x01] + left.bytes + right.bytes) }

    /// k, the largest power of two smaller than n (n > 1).
    static func split(_ n: Int) -> Int {
        precondition(n > 1)
        var k = 1
        while k * 2 < n { k *= 2 }
        return k
    }

    /// MTH(D[n]).
    static func mth(_ d: ArraySlice<[UInt8]>) -> Digest {
        let n = d.count
        if n == 0 { return SHA256.hash([]) }
        if n == 1 { return leafHash(d[d.startIndex]) }
        let k = split(n)
        return nodeHash(mth(d.prefix(k)), mth(d.dropFirst(k)))
    }

    /// PATH(m, D[n]), the inclusion proof of leaf m (0 ≤ m < n).
    static func path(_ m: Int, _ d: ArraySlice<[UInt8]>) -> [Digest] {
        let n = d.count
        precondition(m < n)
        if n == 1 { return [] }
        let k = split(n)
        if m < k { return path(m, d.prefix(k)) + [mth(d.dropFirst(k))] }
        return path(m - k, d.dropFirst(k)) + [mth(d.prefix(k))]
    }

    /// PROOF(m, D[n]), the consistency proof (0 < m < n).
    static func proof(_ m: Int, _ d: ArraySlice<[UInt8]>) -> [Digest] {
        precondition(0 < m && m < d.count)
        return subproof(m, d, true)
    }

    /// SUBPROOF(m, D[n], b).
    static func subproof(_ m: Int, _ d: ArraySlice<[UInt8]>, _ b: Bool) -> [Digest] {
        let n = d.count
        if m == n { return b ? [] : [mth(d)] }
        let k = split(n)
        if m <= k { return subproof(m, d.prefix(k), b) + [mth(d.dropFirst(k))] }
        return subproof(m - k, d.dropFirst(k), false) + [mth(d.prefix(k))]
    }
}

private func merkleTestDigest(_ hex: String) -> Digest {
    let digits = Array(hex.utf8)
    precondition(digits.count == 64)
    func nibble(_ c: UInt8) -> UInt8 { c <= UInt8(ascii: "9") ? c - UInt8(ascii: "0") : c - UInt8(ascii: "a") + 10 }
    return Digest(stride(from: 0, to: 64, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) })!
}

/// `digest` with one bit flipped.
private func merkleTestTampered(_ digest: Digest, bit: Int = 0) -> Digest {
    var bytes = digest.bytes
    bytes[(bit / 8) % 32] ^= UInt8(1) << UInt8(bit % 8)
    return Digest(bytes)!
}

/// The eight leaves of the RFC 6962 test vectors (certificate-transparency, transparency-dev/merkle).
private let merkleTestCTLeaves: [[UInt8]] = [
    [], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43],
    [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
    [0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
]

/// Synthetic leaf data for the pure tests.
private let merkleTestSyntheticLeaves: [[UInt8]] = (0..<40).map { Array("leaf \($0)".utf8) }

/// Every Merkle test, grouped so that `--filter MerkleTests` selects them all.
@Suite("Merkle tree (RFC 9162)")
struct MerkleTests {}

// MARK: - The reference and the hashes against published values

extension MerkleTests {
    @Suite("Merkle hashes and the reference implementation")
    struct Reference {
        @Test func publishedRoots() {
            let roots = [
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
            ]
            for size in 1...8 {
                #expect(RFC9162.mth(merkleTestCTLeaves[..<size]).hex == roots[size - 1], "size \(size)")
            }
        }

        @Test func publishedProofs() {
            let root8 = merkleTestDigest("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
            let path0 = [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ].map(merkleTestDigest)
            let path5 = [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ].map(merkleTestDigest)
            #expect(RFC9162.path(0, merkleTestCTLeaves[...]) == path0)
            #expect(RFC9162.path(5, merkleTestCTLeaves[...]) == path5)
            #expect(
                MerkleProof.verifyInclusion(
                    leafHash: MerkleHash.leaf(merkleTestCTLeaves[0]), index: 0, treeSize: 8,
                    proof: path0, root: root8))
            #expect(
                MerkleProof.verifyInclusion(
                    leafHash: MerkleHash.leaf(merkleTestCTLeaves[5]), index: 5, treeSize: 8,
                    proof: path5, root: root8))

            let proof6to8 = [
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ].map(merkleTestDigest)
            let proof2to5 = [
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ].map(merkleTestDigest)
            #expect(RFC9162.proof(6, merkleTestCTLeaves[...]) == proof6to8)
            #expect(RFC9162.proof(2, merkleTestCTLeaves[..<5]) == proof2to5)
            #expect(
                MerkleProof.verifyConsistency(
                    oldSize: 6, newSize: 8, proof: proof6to8,
                    oldRoot: merkleTestDigest("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"), newRoot: root8))
            #expect(
                MerkleProof.verifyConsistency(
                    oldSize: 2, newSize: 5, proof: proof2to5,
                    oldRoot: merkleTestDigest("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
                    newRoot: merkleTestDigest("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4")))
        }

        @Test func libraryHashesMatchTheDefinitions() {
            #expect(MerkleHash.empty.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            #expect(MerkleHash.empty == RFC9162.mth([]))
            // SHA-256(0x00): the hash of the empty leaf.
            #expect(MerkleHash.leaf([]).hex == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
            for leaf in merkleTestCTLeaves + merkleTestSyntheticLeaves {
                #expect(MerkleHash.leaf(leaf) == RFC9162.leafHash(leaf))
                #expect(leaf.withUnsafeBytes { MerkleHash.leaf($0) } == RFC9162.leafHash(leaf))
            }
            let a = MerkleHash.leaf([1])
            let b = MerkleHash.leaf([2])
            #expect(MerkleHash.node(a, b) == RFC9162.nodeHash(a, b))
            #expect(MerkleHash.node(a, b) != MerkleHash.node(b, a))
            // Domain separation: a leaf whose data is two hashes is not their interior node.
            #expect(MerkleHash.leaf(a.bytes + b.bytes) != MerkleHash.node(a, b))
        }
    }
}

// MARK: - Post-order node numbering

extension MerkleTests {
    @Suite("Merkle node numbering")
    struct NodeIndex {
        @Test func firstNodes() {
            #expect(MerkleNodeIndex.of(level: 0, index: 0) == 0)
            #expect(MerkleNodeIndex.of(level: 0, index: 1) == 1)
            #expect(MerkleNodeIndex.of(level: 1, index: 0) == 2)
            #expect(MerkleNodeIndex.of(level: 0, index: 2) == 3)
            #expect(MerkleNodeIndex.of(level: 0, index: 3) == 4)
            #expect(MerkleNodeIndex.of(level: 1, index: 1) == 5)
            #expect(MerkleNodeIndex.of(level: 2, index: 0) == 6)
            #expect(MerkleNodeIndex.of(level: 0, index: 4) == 7)
            #expect(MerkleNodeIndex.of(level: 3, index: 0) == 14)
        }

        @Test func counts() {
            let expected: [UInt64] = [0, 1, 3, 4, 7, 8, 10, 11, 15]
            for (size, count) in expected.enumerated() {
                #expect(MerkleNodeIndex.count(treeSize: UInt64(size)) == count, "size \(size)")
            }
            #expect(MerkleNodeIndex.count(treeSize: 1 << 40) == (1 << 41) - 1)
            #expect(MerkleNodeIndex.count(treeSize: 1_000_000_000) == 2_000_000_000 - 13)  // popcount(10^9) = 13
            for size in UInt64(0)...2_000 {
                // Every complete subtree: ⌊n/2^l⌋ of them at each level l.
                var perfect: UInt64 = 0
                var level: UInt64 = 0
                while size >> level > 0 {
                    perfect += size >> level
                    level += 1
                }
                #expect(MerkleNodeIndex.count(treeSize: size) == perfect, "size \(size)")
                #expect(MerkleNodeIndex.count(treeSize: size) == 2 * size - UInt64(size.nonzeroBitCount))
            }
        }

        /// Numbers nodes the way an append-only tree completes them (each leaf, then the ancestors it
        /// completes, lowest first) and compares with `of(level:index:)` and `count(treeSize:)`.
        @Test func matchesCompletionOrder() {
            var next: UInt64 = 0
            var mismatches: [String] = []
            for leaf in UInt64(0)..<1_024 {
                if MerkleNodeIndex.of(level: 0, index: leaf) != next { mismatches.append("leaf \(leaf)") }
                next += 1
                var level = 1
                while (leaf + 1) % (UInt64(1) << UInt64(level)) == 0 {
                    let index = (leaf + 1) >> UInt64(level) - 1
                    if MerkleNodeIndex.of(level: level, index: index) != next { mismatches.append("level \(level) index \(index)") }
                    next += 1
                    level += 1
                }
                if MerkleNodeIndex.count(treeSize: leaf + 1) != next { mismatches.append("count after leaf \(leaf)") }
            }
            #expect(next == 2 * 1_024 - 1)
            #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
        }
    }
}

// MARK: - The verifiers

extension MerkleTests {
    @Suite("Merkle proof verification")
    struct Verification {
        @Test func emptyTree() {
            #expect(RFC9162.mth([]) == SHA256.hash([]))
            // No leaf is in the empty tree.
            #expect(
                !MerkleProof.verifyInclusion(
                    leafHash: MerkleHash.leaf([]), index: 0, treeSize: 0, proof: [],
                    root: MerkleHash.empty))
        }

        @Test func sizeOneTree() {
            let root = RFC9162.mth(merkleTestSyntheticLeaves[..<1])
            #expect(root == MerkleHash.leaf(merkleTestSyntheticLeaves[0]))
            #expect(RFC9162.path(0, merkleTestSyntheticLeaves[..<1]).isEmpty)
            #expect(MerkleProof.verifyInclusion(leafHash: root, index: 0, treeSize: 1, proof: [], root: root))
            #expect(!MerkleProof.verifyInclusion(leafHash: root, index: 0, treeSize: 1, proof: [root], root: root))
            #expect(
                !MerkleProof.verifyInclusion(
                    leafHash: MerkleHash.leaf(merkleTestSyntheticLeaves[1]), index: 0, treeSize: 1,
                    proof: [], root: root))
            #expect(!MerkleProof.verifyInclusion(leafHash: root, index: 1, treeSize: 1, proof: [], root: root))
        }

        @Test func inclusionProofsVerifyAndTamperingIsRejected() {
            let leaves = merkleTestSyntheticLeaves[..<24]
            var checked = 0
            var problems: [String] = []
            for n in 1...leaves.count {
                let tree = leaves.prefix(n)
                let root = RFC9162.mth(tree)
                for m in 0..<n {
                    let leaf = RFC9162.leafHash(tree[m])
                    let proof = RFC9162.path(m, tree)
                    func verify(
                        _ proof: [Digest], index: UInt64 = UInt64(m), size: UInt64 = UInt64(n),
                        leaf: Digest = leaf, root: Digest = root
                    ) -> Bool {
                        MerkleProof.verifyInclusion(leafHash: leaf, index: index, treeSize: size, proof: proof, root: root)
                    }
                    let context = "leaf \(m) of \(n)"
                    if !verify(proof) { problems.append("valid proof rejected: \(context)") }
                    for element in proof.indices {
                        var bad = proof
                        bad[element] = merkleTestTampered(bad[element], bit: element * 37 + m)
                        if verify(bad) { problems.append("tampered element \(element) accepted: \(context)") }
                    }
                    if verify(proof, root: merkleTestTampered(root)) { problems.append("wrong root accepted: \(context)") }
                    if verify(proof, leaf: merkleTestTampered(leaf)) { problems.append("wrong leaf accepted: \(context)") }
                    for other in 0..<n where other != m && verify(proof, index: UInt64(other)) {
                        problems.append("wrong index \(other) accepted: \(context)")
                    }
                    for index in [UInt64(n), UInt64(n) + 1, UInt64.max] where verify(proof, index: index) {
                        problems.append("index \(index) ≥ size accepted: \(context)")
                    }
                    if verify(proof + [root]) || verify(proof + [leaf]) { problems.append("too long accepted: \(context)") }
                    if !proof.isEmpty && verify(Array(proof.dropLast())) { problems.append("too short accepted: \(context)") }
                    if !proof.isEmpty && verify(Array(proof.dropFirst())) { problems.append("first dropped accepted: \(context)") }
                    if proof.count > 1 && verify(proof.reversed()) { problems.append("reversed accepted: \(context)") }
                    checked += 1
                }
            }
            #expect(checked == 24 * 25 / 2)
            #expect(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(10))")
        }

        @Test func consistencyProofsVerifyAndTamperingIsRejected() {
            let leaves = merkleTestSyntheticLeaves[..<24]
            let roots = (0...leaves.count).map { RFC9162.mth(leaves.prefix($0)) }
            var checked = 0
            var problems: [String] = []
            for n in 2...leaves.count {
                for m in 1..<n {
                    let proof = RFC9162.proof(m, leaves.prefix(n))
                    func verify(
                        _ proof: [Digest], old: UInt64 = UInt64(m), new: UInt64 = UInt64(n),
                        oldRoot: Digest = roots[m], newRoot: Digest = roots[n]
                    ) -> Bool {
                        MerkleProof.verifyConsistency(oldSize: old, newSize: new, proof: proof, oldRoot: oldRoot, newRoot: newRoot)
                    }
                    let context = "\(m) → \(n)"
                    if !verify(proof) { problems.append("valid proof rejected: \(context)") }
                    for element in proof.indices {
                        var bad = proof
                        bad[element] = merkleTestTampered(bad[element], bit: element * 41 + n)
                        if verify(bad) { problems.append("tampered element \(element) accepted: \(context)") }
                    }
                    if verify(proof, oldRoot: merkleTestTampered(roots[m])) { problems.append("wrong old root accepted: \(context)") }
                    if verify(proof, newRoot: merkleTestTampered(roots[n])) { problems.append("wrong new root accepted: \(context)") }
                    if verify(proof, oldRoot: roots[m - 1]) { problems.append("old root of m-1 accepted: \(context)") }
                    if verify(proof + [roots[n]]) { problems.append("too long accepted: \(context)") }
                    if verify(Array(proof.dropLast())) { problems.append("too short accepted: \(context)") }
                    if verify(Array(proof.dropFirst())) { problems.append("first dropped accepted: \(context)") }
                    if verify([]) { problems.append("empty proof accepted: \(context)") }
                    // Sizes swapped: the old tree cannot be the larger one.
                    if verify(proof, old: UInt64(n), new: UInt64(m), oldRoot: roots[n], newRoot: roots[m]) {
                        problems.append("swapped sizes accepted: \(context)")
                    }
                    checked += 1
                }
            }
            #expect(checked == 23 * 24 / 2)
            #expect(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(10))")
        }

        @Test func consistencyEdgeCases() {
            let roots = (0...8).map { RFC9162.mth(merkleTestSyntheticLeaves.prefix($0)) }
            // m == n: an empty proof, and the roots must be equal.
            for n in 1...8 {
                #expect(
                    MerkleProof.verifyConsistency(
                        oldSize: UInt64(n), newSize: UInt64(n), proof: [],
                        oldRoot: roots[n], newRoot: roots[n]))
                #expect(
                    !MerkleProof.verifyConsistency(
                        oldSize: UInt64(n), newSize: UInt64(n), proof: [],
                        oldRoot: roots[n], newRoot: merkleTestTampered(roots[n])))
                #expect(
                    !MerkleProof.verifyConsistency(
                        oldSize: UInt64(n), newSize: UInt64(n), proof: [roots[n]],
                        oldRoot: roots[n], newRoot: roots[n]))
            }
            // m = 0: the empty tree is a prefix of every tree, with an empty proof.
            for n in 0...8 {
                #expect(
                    MerkleProof.verifyConsistency(
                        oldSize: 0, newSize: UInt64(n), proof: [],
                        oldRoot: MerkleHash.empty, newRoot: roots[n]))
            }
            #expect(
                !MerkleProof.verifyConsistency(
                    oldSize: 0, newSize: 5, proof: [roots[5]],
                    oldRoot: MerkleHash.empty, newRoot: roots[5]))
            // The old tree larger than the new one.
            #expect(
                !MerkleProof.verifyConsistency(
                    oldSize: 5, newSize: 4, proof: [],
                    oldRoot: roots[5], newRoot: roots[4]))
        }
    }
}

// MARK: - The ledger's stored tree against the reference

/// Runs `body` with a ledger in a fresh temporary directory, closed and removed afterwards.
private func withMerkleTestLedger<T>(_ body: (Ledger) async throws -> T) async throws -> T {
    var template = Array("/tmp/fascicolo-merkle-test-XXXXXX".utf8CString)
    let created = template.withUnsafeMutableBufferPointer { buffer in
        mkdtemp(buffer.baseAddress!).map { String(cString: $0) }
    }
    let directory = try #require(created, "mkdtemp failed with errno \(errno)")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var configuration = LedgerConfiguration()
    configuration.unsafeNoSync = true
    let ledger = try Ledger.open(directory: directory, configuration: configuration)
    defer { ledger.close() }
    return try await body(ledger)
}

/// Appends `count` single-event requests and returns the stored records, in position order.
private func appendMerkleTestEntries(_ ledger: Ledger, count: Int) async throws -> [[UInt8]] {
    for index in 0..<count {
        let result = try await ledger.append(
            AppendRequest(
                stream: "stream-\(index % 3)",
                events: [NewEvent(type: "Test", payload: Array("payload \(index) \(String(repeating: "x", count: index))".utf8))],
                author: "test"))
        #expect(result.firstPosition == UInt64(index))
        #expect(result.leafHashes.count == 1)
        #expect(!result.deduplicated)
    }
    let entries = try ledger.entries(from: 0, limit: count + 10)
    try #require(entries.count == count)
    #expect(entries.map(\.position) == (0..<UInt64(count)).map { $0 })
    #expect(ledger.size == UInt64(count))
    return entries.map(\.record)
}

extension MerkleTests {
    @Suite("Ledger Merkle tree")
    struct StoredTree {
        static let size = 64

        @Test("roots and proofs for every size up to 64 match RFC 9162")
        func rootsAndProofsMatchTheReference() async throws {
            try await withMerkleTestLedger { ledger in
                let records = try await appendMerkleTestEntries(ledger, count: Self.size)
                let leafHashes = records.map(RFC9162.leafHash)
                for (position, leafHash) in leafHashes.enumerated() {
                    #expect(try ledger.entry(at: UInt64(position))?.leafHash == leafHash)
                }

                var roots = [MerkleHash.empty]
                var problems: [String] = []
                var checks = (roots: 0, inclusion: 0, consistency: 0)
                for n in 1...Self.size {
                    let tree = records.prefix(n)
                    let root = try ledger.root(size: UInt64(n))
                    roots.append(root)
                    if root != RFC9162.mth(tree) { problems.append("root of \(n)") }
                    checks.roots += 1

                    for m in 0..<n {
                        let proof = try ledger.inclusionProof(position: UInt64(m), treeSize: UInt64(n))
                        if proof != RFC9162.path(m, tree) { problems.append("inclusion proof \(m) in \(n)") }
                        if !MerkleProof.verifyInclusion(
                            leafHash: leafHashes[m], index: UInt64(m), treeSize: UInt64(n),
                            proof: proof, root: root)
                        {
                            problems.append("inclusion proof \(m) in \(n) does not verify")
                        }
                        checks.inclusion += 1
                    }

                    for m in 1...n {
                        let proof = try ledger.consistencyProof(oldSize: UInt64(m), newSize: UInt64(n))
                        let expected = m == n ? [] : RFC9162.proof(m, tree)
                        if proof != expected { problems.append("consistency proof \(m) → \(n)") }
                        if !MerkleProof.verifyConsistency(
                            oldSize: UInt64(m), newSize: UInt64(n), proof: proof,
                            oldRoot: roots[m], newRoot: root)
                        {
                            problems.append("consistency proof \(m) → \(n) does not verify")
                        }
                        checks.consistency += 1
                    }
                }
                #expect(checks.roots == 64 && checks.inclusion == 64 * 65 / 2 && checks.consistency == 64 * 65 / 2)
                #expect(problems.isEmpty, "\(problems.count) mismatches, first: \(problems.prefix(10))")
            }
        }

        @Test("the stored nodes are the complete subtrees, in post-order")
        func storedNodes() async throws {
            try await withMerkleTestLedger { ledger in
                let records = try await appendMerkleTestEntries(ledger, count: 21)
                let store = ledger.store
                try store.environment.read { txn throws in
                    #expect(try txn.count(store.merkle) == Int(MerkleNodeIndex.count(treeSize: 21)))
                    var level = 0
                    while 1 << level <= records.count {
                        for index in 0..<(records.count >> level) {
                            let number = MerkleNodeIndex.of(level: level, index: UInt64(index))
                            let stored = try txn.get(store.merkle, key: BigEndian.bytes(number))
                            let expected = RFC9162.mth(records[(index << level)..<((index + 1) << level)])
                            #expect(stored == expected.bytes, "node at level \(level), index \(index)")
                        }
                        level += 1
                    }
                }
            }
        }

        @Test func edgeCasesOfTheLedger() async throws {
            try await withMerkleTestLedger { ledger in
                // The empty ledger.
                #expect(try ledger.root(size: 0) == SHA256.hash([]))
                #expect(throws: MerkleTree.Failure.self) { try ledger.root(size: 1) }
                #expect(throws: MerkleTree.Failure.self) { try ledger.inclusionProof(position: 0, treeSize: 0) }
                #expect(try ledger.consistencyProof(oldSize: 0, newSize: 0) == [])

                let records = try await appendMerkleTestEntries(ledger, count: 5)
                // Size 1: the root is the leaf hash and the inclusion proof is empty.
                let root1 = try ledger.root(size: 1)
                #expect(root1 == RFC9162.leafHash(records[0]))
                #expect(try ledger.inclusionProof(position: 0, treeSize: 1) == [])
                #expect(try ledger.root(size: 0) == MerkleHash.empty)

                // Out of range: an index at or beyond the size, a size beyond the log, old > new.
                #expect(throws: MerkleTree.Failure.self) { try ledger.inclusionProof(position: 1, treeSize: 1) }
                #expect(throws: MerkleTree.Failure.self) { try ledger.inclusionProof(position: 5, treeSize: 5) }
                #expect(throws: MerkleTree.Failure.self) { try ledger.inclusionProof(position: 0, treeSize: 6) }
                #expect(throws: MerkleTree.Failure.self) { try ledger.root(size: 6) }
                #expect(throws: MerkleTree.Failure.self) { try ledger.consistencyProof(oldSize: 4, newSize: 3) }
                #expect(throws: MerkleTree.Failure.self) { try ledger.consistencyProof(oldSize: 1, newSize: 6) }

                // m == n and m == 0 give empty proofs, which verify.
                let root5 = try ledger.root(size: 5)
                #expect(try ledger.consistencyProof(oldSize: 5, newSize: 5) == [])
                #expect(try ledger.consistencyProof(oldSize: 0, newSize: 5) == [])
                #expect(MerkleProof.verifyConsistency(oldSize: 5, newSize: 5, proof: [], oldRoot: root5, newRoot: root5))
                #expect(
                    MerkleProof.verifyConsistency(
                        oldSize: 0, newSize: 5, proof: [], oldRoot: MerkleHash.empty,
                        newRoot: root5))
            }
        }
    }
}
