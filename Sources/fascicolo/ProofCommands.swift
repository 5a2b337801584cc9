import ArgumentParser
import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger
import FascicoloOperations

struct Proof: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Get an RFC 9162 proof from the daemon and verify it here against the signed checkpoint.",
        discussion: """
            The proof is checked on this machine with FascicoloLedger.MerkleProof against the root \
            of the latest checkpoint, whose signature is checked first — the daemon is not trusted. \
            Pass --key with the verifier key obtained out of band (e.g. from the key ceremony's \
            record) so that not even the key comes from the daemon. A proof that does not verify \
            exits 1.

            """ + Exit.help,
        subcommands: [Inclusion.self, Consistency.self])

    struct Inclusion: DaemonCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prove that the entry at a position is in the signed log (roles auditor, admin).",
            discussion: """
                The entry is fetched with its signed bytes; its signature and leaf hash are checked \
                here, then the inclusion proof is verified against the signed root. With \
                --tree-size below the checkpoint's size, the root of that smaller tree is derived \
                and tied to the signed root with a consistency proof first.

                """ + Exit.help)

        @Argument(help: "The entry's position (0-based).")
        var position: UInt64

        @Option(help: "The tree to prove inclusion in (default: the size of the latest checkpoint).")
        var treeSize: UInt64?

        @OptionGroup var purpose: RawReadPurpose

        @Option(help: ArgumentHelp("The verifier key '<name>+<key id>+<base64 key>' (default: the daemon's /v1/keys).", valueName: "vkey"))
        var key: String?

        @OptionGroup var witnesses: WitnessOptions

        @OptionGroup var daemon: DaemonOptions

        func run(client: DaemonClient) async throws {
            var audit = try await ProofAudit(session: DaemonSession(daemon, client: client), keyOption: key, witnesses: witnesses)
            audit.purpose = purpose.purpose
            let signedSize = audit.checkpoint.size
            let treeSize = self.treeSize ?? signedSize
            guard treeSize <= signedSize else {
                Terminal.error(
                    "error: --tree-size \(treeSize) is beyond the latest signed checkpoint (\(signedSize) entries): "
                        + "a proof against an unsigned root proves nothing")
                throw Exit.couldNotRun
            }
            if position >= treeSize && self.treeSize != nil {
                Terminal.error("error: position \(position) is not in a tree of \(treeSize) entries")
                throw Exit.couldNotRun
            }
            try await ProofAudit.checking(&audit) { audit in
                guard position < treeSize else {
                    _ = try await audit.session.get("/v1/entries/\(position)")  // no such entry: the daemon's 404
                    try audit.fail(
                        "position \(position) is not yet covered by a signed checkpoint (the latest covers "
                            + "\(signedSize) entries); try again after the next checkpoint")
                }
                let leaf = try await audit.checkEntry(position)
                let root = try await audit.root(at: treeSize)
                let (response, value) = try await audit.session.getJSON(
                    "/v1/proofs/inclusion" + queryString([("position", "\(position)"), ("treeSize", "\(treeSize)")]))
                let proof = try audit.hashes(value["proof"], what: "inclusion proof")
                if let served = value["leafHash"]?.string, served != leaf.hex {
                    try audit.fail("the daemon's leaf hash \(served) is not the entry's \(leaf.hex)")
                }
                guard MerkleProof.verifyInclusion(leafHash: leaf, index: position, treeSize: treeSize, proof: proof, root: root) else {
                    try audit.fail(
                        "the inclusion proof of position \(position) in the tree of \(treeSize) entries does not "
                            + "lead to the \(treeSize == signedSize ? "signed" : "derived") root \(root.hex)")
                }
                audit.report("inclusion", "position \(position) in the tree of \(treeSize) entries: \(proof.count) hashes — verified")
                audit.verdict(
                    "entry \(position) is in the log signed at \(signedSize) entries", proof: response,
                    extra: [
                        ("position", .number("\(position)")), ("treeSize", .number("\(treeSize)")), ("leafHash", .string(leaf.hex)),
                    ])
            }
        }
    }

    struct Consistency: DaemonCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prove that the log of FROM entries is a prefix of the signed log (roles auditor, admin).",
            discussion: """
                The check that matters: that nothing recorded before was changed or removed. Give \
                the root you trust for the old tree — a checkpoint note you kept \
                (--old-checkpoint FILE, its signature is checked) or a root hash (--old-root) — \
                and the proof shows the signed log extends exactly that tree. Without one, the old \
                root is derived from entry FROM−1 and shown, for comparison with your records.

                """ + Exit.help)

        @Argument(help: "The old tree size (default with --old-checkpoint: that checkpoint's size).")
        var from: UInt64?

        @Option(help: "The new tree size (default: the size of the latest checkpoint).")
        var to: UInt64?

        @Option(help: ArgumentHelp("A checkpoint note kept earlier (from 'fascicolo checkpoint').", valueName: "path"))
        var oldCheckpoint: String?

        @Option(help: ArgumentHelp("The old tree's root hash you trust (hex or base64).", valueName: "hash"))
        var oldRoot: String?

        @Option(help: ArgumentHelp("The verifier key '<name>+<key id>+<base64 key>' (default: the daemon's /v1/keys).", valueName: "vkey"))
        var key: String?

        @OptionGroup var purpose: RawReadPurpose

        @OptionGroup var witnesses: WitnessOptions

        @OptionGroup var daemon: DaemonOptions

        func validate() throws {
            guard from != nil || oldCheckpoint != nil else { throw ValidationError("give FROM, or --old-checkpoint FILE") }
            guard oldCheckpoint == nil || oldRoot == nil else { throw ValidationError("give --old-checkpoint or --old-root, not both") }
            if let oldRoot, Self.digest(oldRoot) == nil {
                throw ValidationError("--old-root is a SHA-256 hash: 64 hex digits or 44 base64 characters")
            }
        }

        static func digest(_ text: String) -> Digest? {
            if text.count == 64, let bytes = Hex.decode(text.lowercased()) { return Digest(bytes) }
            return Base64.decode(text).flatMap(Digest.init)
        }

        func run(client: DaemonClient) async throws {
            var audit = try await ProofAudit(session: DaemonSession(daemon, client: client), keyOption: key, witnesses: witnesses)
            audit.purpose = purpose.purpose
            let signedSize = audit.checkpoint.size
            var trusted: (root: Digest, size: UInt64, source: String)?
            if let oldCheckpoint {
                let note: String
                do {
                    note = String(decoding: try Files.read(oldCheckpoint, limit: 65_536), as: UTF8.self)
                } catch {
                    Terminal.error("error: \(error)")
                    throw Exit.couldNotRun
                }
                try await ProofAudit.checking(&audit) { audit in
                    let old: Checkpoint
                    do {
                        old = try audit.key.verify(note: note)
                    } catch {
                        try audit.fail("the kept checkpoint \(oldCheckpoint) does not verify: \(error)")
                    }
                    trusted = (old.root, old.size, "the kept checkpoint \(oldCheckpoint) (signature valid)")
                }
            } else if let oldRoot, let digest = Self.digest(oldRoot), let from {
                trusted = (digest, from, "given with --old-root")
            }
            let from = self.from ?? trusted?.size ?? 0
            if let trusted, trusted.size != from {
                Terminal.error("error: the kept checkpoint is of \(trusted.size) entries, not \(from)")
                throw Exit.couldNotRun
            }
            let to = self.to ?? signedSize
            guard to <= signedSize else {
                Terminal.error(
                    "error: --to \(to) is beyond the latest signed checkpoint (\(signedSize) entries): "
                        + "a proof against an unsigned root proves nothing")
                throw Exit.couldNotRun
            }
            guard from <= to || (trusted != nil && self.to == nil) else {
                Terminal.error("error: the old size \(from) is larger than the new size \(to)")
                throw Exit.couldNotRun
            }
            try await ProofAudit.checking(&audit) { audit in
                guard from <= to else {
                    // A log never shrinks: a signed checkpoint larger than the latest one means
                    // the log was rolled back, or is a different log.
                    try audit.fail(
                        "the latest signed checkpoint covers \(to) entries, fewer than the \(from) of the "
                            + "checkpoint you trusted: the log was truncated or rolled back")
                }
                let oldRoot: Digest
                if let trusted {
                    oldRoot = trusted.root
                    audit.report("old tree", "\(from) entries, root \(oldRoot.hex), \(trusted.source)")
                } else {
                    oldRoot = try await audit.root(at: from)
                }
                let newRoot = try await audit.root(at: to)
                let (response, value) = try await audit.session.getJSON(
                    "/v1/proofs/consistency" + queryString([("from", "\(from)"), ("to", "\(to)")]))
                let proof = try audit.hashes(value["proof"], what: "consistency proof")
                guard MerkleProof.verifyConsistency(oldSize: from, newSize: to, proof: proof, oldRoot: oldRoot, newRoot: newRoot) else {
                    try audit.fail(
                        "the consistency proof from \(from) to \(to) entries does not verify: the log of \(from) "
                            + "entries with root \(oldRoot.hex) is NOT a prefix of the \(to == signedSize ? "signed" : "derived") "
                            + "tree: either that root is not this log's, or entries recorded before were changed or removed")
                }
                audit.report("consistency", "from \(from) to \(to) entries: \(proof.count) hashes — verified")
                let claim =
                    trusted == nil
                    ? "the tree of \(from) entries with root \(oldRoot.hex) is a prefix of the log signed at \(signedSize) "
                        + "entries; compare that root with one you recorded (or pass --old-checkpoint)"
                    : "the log signed at \(signedSize) entries extends, unchanged, the \(from) entries you trusted"
                audit.verdict(
                    claim, proof: response,
                    extra: [
                        ("from", .number("\(from)")), ("to", .number("\(to)")), ("oldRoot", .string(oldRoot.hex)),
                        ("newRoot", .string(newRoot.hex)),
                    ])
            }
        }
    }
}

/// One proof check: the trust anchors (key, signed checkpoint), the steps taken, and the verdict.
/// Every step that does not check out stops it with "FAILED: …" and exit status 1.
struct ProofAudit {
    struct Failure: Error {
        let problem: String
    }

    let session: DaemonSession
    /// Sent with entry reads (`RawReadPurpose`).
    var purpose: String?
    let key: DaemonSession.Key
    let checkpoint: Checkpoint
    private(set) var steps: [(String, String)] = []
    /// Roots derived for smaller trees, each already tied to the signed root.
    private var roots: [UInt64: Digest] = [:]

    init(session: DaemonSession, keyOption: String?, witnesses: WitnessOptions) async throws {
        self.session = session
        key = try await session.verifierKey(keyOption)
        var note = try await session.latestCheckpointNote()
        if !witnesses.witness.isEmpty, (try? witnesses.check(note)) == nil,
            let witnessed = try await Self.newestWitnessed(before: note, session: session, witnesses: witnesses)
        {
            // Witnesses cosign each checkpoint a round trip after it is signed: on a busy log the
            // latest may not be cosigned yet, so the proof is made against the newest that is.
            note = witnessed
        }
        do {
            checkpoint = try key.verify(note: note)
        } catch {
            Self.printFailure("the latest checkpoint does not verify with \(key.text): \(error)", json: session.options.json)
            throw Exit.failed
        }
        let witnessed: [(name: String, timestampSeconds: UInt64)]
        do { witnessed = try witnesses.check(note) } catch {
            Self.printFailure("the latest checkpoint is not witnessed as asked: \(error)", json: session.options.json)
            throw Exit.failed
        }
        let signed = checkpoint.timestampSeconds.map { ", signed \(iso8601(seconds: $0))" } ?? ""
        steps.append(("checkpoint", "\(checkpoint.size) entries, root \(checkpoint.root.hex)\(signed) — signature valid"))
        for cosignature in witnessed {
            steps.append(("witness", "\(cosignature.name) cosigned it at \(iso8601(seconds: cosignature.timestampSeconds))"))
        }
        steps.append(("key", "\(key.text) (\(key.source))"))
    }

    /// The newest of the 16 stored checkpoints before `latest` that the witnesses cosigned as
    /// asked, as the daemon picks it (`/v1/checkpoints/latest?witness=…&quorum=…`) — checked here
    /// again like any note it serves — or nil when there is none.
    static func newestWitnessed(before latest: String, session: DaemonSession, witnesses: WitnessOptions) async throws -> String? {
        var query = witnesses.witness.map { ("witness", Optional($0)) }
        if let quorum = witnesses.quorum { query.append(("quorum", String(quorum))) }
        let response = try await session.send("GET", "/v1/checkpoints/latest" + queryString(query), accept: "text/plain")
        guard response.isSuccess else { return nil }
        return (try? witnesses.check(response.text)) != nil ? response.text : nil
    }

    /// Runs the checks; a `Failure` is printed after the steps that passed, and exits 1.
    static func checking(_ audit: inout ProofAudit, _ body: (inout ProofAudit) async throws -> Void) async throws {
        do {
            try await body(&audit)
        } catch let failure as Failure {
            if !audit.session.options.json { for line in fields(audit.steps) { Terminal.out(line) } }
            printFailure(failure.problem, json: audit.session.options.json)
            throw Exit.failed
        }
    }

    func fail(_ problem: String) throws -> Never {
        throw Failure(problem: problem)
    }

    static func printFailure(_ problem: String, json: Bool) {
        if json {
            Terminal.out(JSON.object([("verified", .bool(false)), ("problem", .string(problem))]).compact)
        } else {
            Terminal.out("FAILED: \(problem)")
        }
    }

    mutating func report(_ step: String, _ outcome: String) {
        steps.append((step, outcome))
    }

    /// Prints the steps and the verdict (or, with --json, the verdict and the daemon's proof unchanged).
    func verdict(_ claim: String, proof: DaemonClient.Response, extra: [(key: String, value: JSON)]) {
        if session.options.json {
            var members: [(key: String, value: JSON)] = [
                ("verified", .bool(true)),
                (
                    "checkpoint",
                    .object([
                        ("size", .number("\(checkpoint.size)")), ("root", .string(checkpoint.root.hex)),
                        ("timestamp", checkpoint.timestampSeconds.map { .number("\($0)") } ?? .null),
                    ])
                ),
                ("verifierKey", .string(key.text)), ("keyFromDaemon", .bool(key.fromDaemon)),
            ]
            members += extra
            // The daemon's proof, as it came.
            let text = JSON.object(members).compact
            Terminal.out(String(text.dropLast()) + ",\"proof\":" + proof.text + "}")
            return
        }
        for line in fields(steps) { Terminal.out(line) }
        Terminal.out("VERIFIED locally (RFC 9162): \(claim).")
        if key.fromDaemon {
            Terminal.out(
                "note: the verifier key came from the daemon itself; pass --key with the key obtained out of band "
                    + "for a check that trusts nothing the daemon says.")
        }
    }

    /// Fetches the entry, checks it, and returns its leaf hash computed here.
    mutating func checkEntry(_ position: UInt64) async throws -> Digest {
        let checked = try await CheckedEntry.fetch(position: position, session: session, key: key, purpose: purpose)
        if let leaf = checked.withheldLeafHash {
            report(
                "entry \(position)",
                "data withheld (a person's case file; --purpose reads it, recorded) — leaf hash "
                    + "\(leaf.hex) as served, authenticated only by the proof against the signed root")
            return leaf
        }
        guard checked.problems.isEmpty, let entry = checked.entry else {
            try fail("entry \(position): " + checked.problems.joined(separator: "; "))
        }
        report(
            "entry \(position)",
            "\(entry.stream) v\(entry.streamVersion) \(entry.eventType) by \(entry.author) — "
                + "signature valid, leaf hash \(entry.leafHash.hex)")
        return entry.leafHash
    }

    /// The root of the tree of `size` entries: the signed root, or — for a smaller tree — the root
    /// derived from its last entry and that entry's inclusion proof, accepted only once a
    /// consistency proof ties it to the signed root.
    mutating func root(at size: UInt64) async throws -> Digest {
        if size == checkpoint.size { return checkpoint.root }
        if size == 0 { return MerkleHash.empty }
        if let known = roots[size] { return known }
        let leaf = try await checkEntry(size - 1)
        let (_, inclusion) = try await session.getJSON(
            "/v1/proofs/inclusion" + queryString([("position", "\(size - 1)"), ("treeSize", "\(size)")]))
        let path = try hashes(inclusion["proof"], what: "inclusion proof")
        guard let derived = MerkleProof.rootFromInclusionProof(leafHash: leaf, index: size - 1, treeSize: size, proof: path) else {
            try fail("the inclusion proof of entry \(size - 1) in the tree of \(size) entries is malformed")
        }
        let (_, consistency) = try await session.getJSON(
            "/v1/proofs/consistency" + queryString([("from", "\(size)"), ("to", "\(checkpoint.size)")]))
        let link = try hashes(consistency["proof"], what: "consistency proof")
        guard
            MerkleProof.verifyConsistency(
                oldSize: size, newSize: checkpoint.size, proof: link, oldRoot: derived,
                newRoot: checkpoint.root)
        else {
            try fail(
                "the tree of \(size) entries (root \(derived.hex), derived from entry \(size - 1)) is NOT a prefix "
                    + "of the signed tree of \(checkpoint.size) entries")
        }
        report(
            "tree of \(size)",
            "root \(derived.hex), derived from entry \(size - 1) and tied to the signed root by a "
                + "consistency proof (\(link.count) hashes) — verified")
        roots[size] = derived
        return derived
    }

    /// The proof's hashes (base64, 32 bytes each).
    func hashes(_ value: JSON?, what: String) throws -> [Digest] {
        guard let items = value?.array else { try fail("the daemon's \(what) has no list of hashes") }
        var digests: [Digest] = []
        for item in items {
            guard let digest = item.string.flatMap(Base64.decode).flatMap(Digest.init) else {
                try fail("the daemon's \(what) holds something that is not a base64 SHA-256 hash")
            }
            digests.append(digest)
        }
        return digests
    }
}
