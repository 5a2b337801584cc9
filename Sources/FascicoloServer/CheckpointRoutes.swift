import FascicoloLedger
import Hummingbird
import NIOCore

/// The signed checkpoints an outside verifier needs: the latest, the one of any stored size (to
/// check a proof or a bundle against the checkpoint it names), and the list of those stored.
/// Auditors only, like the proofs. The notes are served as stored, after checking them with the
/// log's key: a stored note that does not verify is damage, answered 500 `storage_damaged`.
extension APIRoutes {
    func registerCheckpoints(on groups: RouteGroups) {
        groups.auditors.get("v1/checkpoints/latest") { request, _ in
            guard let checkpoint = try ledger.latestCheckpoint() else { throw Problem.notFound("no checkpoint has been signed yet") }
            let (witnesses, quorum) = try witnessParameters(request)
            guard !witnesses.isEmpty else { return note(checkpoint) }
            return note(try newestWitnessed(from: checkpoint, witnesses: witnesses, quorum: quorum))
        }
        groups.auditors.get("v1/checkpoints/:size") { _, context in
            guard let size = Self.treeSize(context.parameters.get("size")) else {
                throw Self.invalidParameter("size", "size is a tree size: a decimal number of entries, without sign or leading zeros")
            }
            guard let checkpoint = try ledger.checkpoint(size: size) else {
                throw Problem.notFound("no checkpoint of \(size) entries is stored")
            }
            return note(checkpoint)
        }
        groups.auditors.get("v1/checkpoints") { request, _ in
            let from: UInt64 = try query(request, "from") ?? 0
            let limit = try limitParameter(request)
            let page = try storedCheckpoints(from: from, limit: limit)
            return json(status: .ok, Render.checkpoints(page.checkpoints, next: page.next))
        }
    }

    /// `?witness=<cosignature vkey>` (repeatable, at most 16) and `?quorum=K` (default: all).
    /// A vkey's `+` may arrive as a space (form encoding): vkeys hold no space, so it is read back.
    private func witnessParameters(_ request: Request) throws -> ([WitnessVerifierKey], Int) {
        let texts = request.uri.queryParameters.getAll("witness")
        guard texts.count <= 16 else { throw Self.invalidParameter("witness", "at most 16 witness keys") }
        let keys = try texts.map { text in
            guard let key = WitnessVerifierKey(text.replacingOccurrences(of: " ", with: "+")) else {
                throw Self.invalidParameter("witness", "witness is a cosignature vkey '<name>+<key id>+<base64(0x04 ‖ key)>'")
            }
            return key
        }
        let quorum: Int = try query(request, "quorum") ?? keys.count
        guard keys.isEmpty || (1...keys.count).contains(quorum) else {
            throw Self.invalidParameter("quorum", "quorum is between 1 and the number of witness keys")
        }
        return (keys, quorum)
    }

    /// The newest of `latest` and the 16 stored checkpoints before it that `quorum` of
    /// `witnesses` cosigned (witnesses cosign a round trip after a checkpoint is signed, so the
    /// latest may not be yet); 409 `not_witnessed` when none of them is.
    private func newestWitnessed(from latest: Checkpoint, witnesses: [WitnessVerifierKey], quorum: Int) throws -> Checkpoint {
        let chain = ledger.keyChain
        let older = try ledger.read { log in try log.checkpointNotes(below: latest.size, limit: 16) }
        let candidates = [latest] + older.compactMap { try? chain.verify(note: $0.note) }
        for checkpoint in candidates
        where (try? Checkpoint.witnessed(note: cosignatures.witnessed(checkpoint.note), witnesses: witnesses, quorum: quorum)) != nil {
            return checkpoint
        }
        throw Problem(
            .conflict, code: "not_witnessed",
            detail: "none of the newest checkpoints carries the cosignatures of \(quorum) of the witnesses given")
    }

    /// The note with the witnesses' cosignatures of it, as `text/plain` (what `fascicolo
    /// checkpoint` prints and an auditor keeps).
    private func note(_ checkpoint: Checkpoint) -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(cosignatures.witnessed(checkpoint.note))
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: buffer))
    }

    /// Up to `limit` stored checkpoints of `from` entries or more, in increasing size, each
    /// verified; `next` is the size of the first one left out (where the next page starts).
    func storedCheckpoints(from: UInt64, limit: Int) throws -> (checkpoints: [Checkpoint], next: UInt64?) {
        var notes: [(size: UInt64, note: String)] = []
        var next: UInt64?
        try ledger.read { log in
            try log.forEachCheckpoint(from: from) { size, note in
                guard notes.count < limit else {
                    next = size
                    return false
                }
                notes.append((size, note))
                return true
            }
        }
        // Verified after the read transaction ends: the signatures take longer than the reads.
        let chain = ledger.keyChain
        let checkpoints = try notes.map { stored in
            guard let checkpoint = try? chain.verify(note: stored.note),
                checkpoint.size == stored.size
            else {
                throw Problem(
                    .internalServerError, code: "storage_damaged",
                    detail: "the stored checkpoint of \(stored.size) entries does not verify with the log's keys")
            }
            return checkpoint
        }
        return (checkpoints, next)
    }

    /// A tree size in a path: decimal digits, no sign, no leading zero (so that one size has one URL).
    static func treeSize(_ text: String?) -> UInt64? {
        guard let text, !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            text == "0" || !text.hasPrefix("0")
        else { return nil }
        return UInt64(text)
    }
}
