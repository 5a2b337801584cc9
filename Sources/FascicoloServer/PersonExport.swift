import FascicoloBundle
import FascicoloConcurrency
import FascicoloCrypto
import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage
import Hummingbird
import Synchronization

/// `POST /v1/persons/export` (auditors and admins): one person's whole file at one signed
/// checkpoint, as the bundle of Formats.md "Person bundles" (`PersonBundle`), which anyone can
/// check without the daemon.
///
/// Order matters: the export is first recorded as a read (RecordAccessed, `what` `export`, with
/// its required purpose), then a checkpoint is signed so that it covers that record, then the
/// bundle is read in one snapshot — the snapshot's latest checkpoint, the two streams' entries
/// at positions below its size with their inclusion proofs, the stream-head proofs of the map
/// that checkpoint commits to, and the person's data key as that same snapshot holds it — so
/// every part agrees with every other, and the bundle shows its own export.
///
/// Memory: the bundle is built whole (entries with their proofs, then its JSON, then the
/// response's copy), about 3 × its size at the peak: some 5 KB per entry on a log of millions
/// (the bundle itself is about 1.6 KB per entry). A person whose two streams hold more than
/// `exportEntriesMax` entries is refused (422 `export_too_large`) before anything is recorded,
/// and at most `exportGate.max` exports are built at once (the others wait their turn), which
/// bounds exports at roughly 2 × 250 MB.
extension APIRoutes {
    /// The most entries (both streams together) one export holds.
    static let exportEntriesMax: UInt64 = 50_000
    /// Exports being built at once, for the whole process.
    static let exportGate = ExportGate(max: 2)

    func registerPersonExport(on groups: RouteGroups) {
        groups.auditors.post("v1/persons/export") { request, context in try await exportPerson(request, context) }
    }

    func exportPerson(_ request: Request, _ context: FascicoloRequestContext) async throws -> Response {
        let peer = try caller(context)
        let identifier = try personFromHeader(request)
        let reader = try reader(request, peer)
        guard reader.purpose != nil else {
            throw Problem(
                .badRequest, code: "purpose_required", detail: "an export states its purpose in the Fascicolo-Purpose header",
                field: "Fascicolo-Purpose")
        }
        let person = try pseudonym(identifier)
        let (recorded, reads): (UInt64, UInt64)
        do { (recorded, reads) = (try ledger.streamVersion(person.stream), try ledger.streamVersion(person.accessStream)) } catch {
            throw Self.problem(forProjection: error)
        }
        guard recorded > 0 || reads > 0 else { throw Self.personNotFound }
        // Checked before the read is recorded: a refused export leaves no entry. (+1: its own record.)
        guard recorded + reads + 1 <= Self.exportEntriesMax else { throw Self.exportTooLarge }
        try await Self.exportGate.enter()
        defer { Self.exportGate.leave() }
        try await recordAccess(to: person, by: reader, what: "export", entries: Int(recorded))
        // A few tries: an erasure committed after the checkpoint (the key is gone, its entry not
        // yet covered) or a records-key rotation during the read asks for a new snapshot.
        for _ in 0..<3 {
            do { _ = try await ledger.signCheckpoint() } catch let error as LedgerError { throw Self.problem(for: error) }
            let read: BundleRead
            do { read = try readBundle(of: person, purpose: reader.purpose ?? "", reader: reader) } catch {
                throw Self.exportProblem(error)
            }
            switch read {
            case .bundle(let bundle): return json(status: .ok, bundle.json)
            case .again: continue
            }
        }
        throw Problem(
            .serviceUnavailable, code: "export_retry", detail: "the person's file changed during the export: ask again",
            retryAfterSeconds: 1)
    }

    enum BundleRead {
        case bundle(PersonBundle)
        /// The snapshot caught an erasure its checkpoint does not cover yet, or a key rotation.
        case again
    }

    /// The bundle in one snapshot of the log (see the type's comment).
    func readBundle(of person: Pseudonym, purpose: String, reader: Reader) throws -> BundleRead {
        try ledger.read { log -> BundleRead in
            guard let checkpoint = try log.latestCheckpoint() else { return .again }
            let dataKey: [UInt8]?
            do { dataKey = try caseFiles.keys.exportedKey(for: person, in: log) } catch is PersonKeys.RotatedDuringRead {
                return .again
            }
            let key = dataKey.flatMap { SecretKey(bytes: $0, guarded: false) }
            var streams: [PersonBundle.Stream] = []
            var sealedWithoutKey = false
            var erasureCovered = false
            let names = [person.stream, person.accessStream]
            for (name, proof) in zip(names, try log.streamHeadProofs(streams: names)) {
                var entries: [PersonBundle.Entry] = []
                if let head = proof.head {
                    guard head.position < checkpoint.size else {
                        throw DamagedData(table: "stream_heads", what: "a stream's head is beyond its checkpoint")
                    }
                    // Checked before the read was recorded; a stream that grew past it meanwhile.
                    guard head.version <= Self.exportEntriesMax else { throw Self.exportTooLarge }
                    entries.reserveCapacity(Int(head.version))
                    let stream = Array(name.utf8)
                    for version in 1...head.version {
                        guard let position = try log.position(ofStream: stream, version: version),
                            position < checkpoint.size, let entry = try log.entry(at: position),
                            entry.stream == name, entry.streamVersion == version
                        else {
                            throw DamagedData(table: "stream_index", what: "a stream's entry is missing below its head")
                        }
                        var fields: JSON?
                        if name == person.stream {
                            if entry.eventType == "ErasureExecuted" { erasureCovered = true }
                            let (opened, personal) = caseFiles.personalFields(
                                of: entry, person: person, dataKey: key, restricted: false, reader: reader)
                            if opened == .included { fields = .object(personal) }
                            if opened == .erased { sealedWithoutKey = true }
                        }
                        entries.append(
                            PersonBundle.Entry(
                                position: position, signedBytes: Array(entry.signedBytes), signature: entry.signature,
                                inclusionProof: try log.inclusionProof(position: position, treeSize: checkpoint.size),
                                fields: fields))
                    }
                }
                streams.append(
                    PersonBundle.Stream(
                        stream: name, head: proof.head.map { PersonBundle.Head(version: $0.version, position: $0.position) },
                        headProof: PersonBundle.HeadProof(proof), entries: entries))
            }
            if sealedWithoutKey && !erasureCovered {
                // The key is gone but the checkpoint does not cover the erasure: an erasure
                // committed after it (sign again), or a lost key (damage).
                let covered = streams[0].head?.version ?? 0
                guard try log.streamVersion(person.stream) > covered else {
                    throw DamagedData(table: PersonKeys.tableName, what: "a person's data key is missing, with no erasure in the log")
                }
                return .again
            }
            // The keys from the first, as this snapshot holds them, with the rotation checkpoints
            // a verifier follows them by (Formats.md, "Key rotation").
            let chain = try log.signingKeys()
            let rotations = try chain.rotations.filter { $0.position < checkpoint.size }.map { rotation in
                guard let note = try log.checkpoint(size: rotation.position + 1)?.note else {
                    throw DamagedData(table: "checkpoints", what: "a key rotation's checkpoint is missing")
                }
                return note
            }
            return .bundle(
                PersonBundle(
                    verifierKey: SignedNote.verifierKey(name: chain.origin, publicKey: chain.first), checkpoint: checkpoint.note,
                    keyRotations: rotations, person: person.description,
                    exportedAt: ledger.wallClock.timestamp, purpose: purpose, dataKey: dataKey, streams: streams))
        }
    }

    static let exportTooLarge = Problem(
        .unprocessableContent, code: "export_too_large",
        detail: "this person's file holds more than \(exportEntriesMax) entries, the most one export holds")

    static func exportProblem(_ error: any Error) -> any Error {
        if error is Problem { return error }
        if let error = error as? LedgerError { return problem(for: error) }
        if error is PersonKeys.CorruptKey {
            return Problem(
                .internalServerError, code: "storage_damaged",
                detail: "a person's data key cannot be opened with records.key (fascicolo verify reports it)")
        }
        return problem(forProjection: error)
    }
}

/// Lets at most `max` tasks in at once; the others wait, without polling, until one leaves.
/// Every `enter()` that returns is matched by one `leave()`.
final class ExportGate: Sendable {
    let max: Int
    private let inside = Mutex<Int>(0)
    private let left = ChangeSignal()

    init(max: Int) { self.max = max }

    /// Throws CancellationError when the task is cancelled while it waits (its client left).
    func enter() async throws {
        while true {
            try Task.checkCancellation()
            let seen = left.generation
            let entered = inside.withLock { count in
                guard count < max else { return false }
                count += 1
                return true
            }
            if entered { return }
            await left.wait(after: seen)
        }
    }

    func leave() {
        inside.withLock { $0 -= 1 }
        left.notify()
    }
}
