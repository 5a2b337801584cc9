import FascicoloDomain
import FascicoloLedger
import Hummingbird

/// The raw endpoints — `/v1/log`, `/v1/entries/{position}`, `/v1/subscribe` — serve whole log
/// entries to auditors. The entries of `person:` streams carry a person's data (birth year, sex,
/// comune, area, judicial measures), so every read of them must be recorded like a case-file
/// read. Two ways, chosen by the request:
///
/// - without `Fascicolo-Purpose`, such entries are served **withheld**: position, stream,
///   version, type, time, author, signature and leaf hash (enough for inclusion and consistency
///   proofs), with `"data":null,"withheld":"person_data"` and no signed bytes;
/// - with `Fascicolo-Purpose`, every person whose entries are about to be served first gets a
///   RecordAccessed entry in their access stream (`what`: `log`, `entry` or `subscribe`), then
///   the entries are served whole. A read that cannot be recorded is not served.
enum RawRead: Sendable {
    case withheld
    case recorded(Reader)

    var withholdsPersonData: Bool {
        if case .withheld = self { return true }
        return false
    }

    /// Whether `entry` is person data this read must not show.
    func withholds(_ entry: Entry) -> Bool {
        withholdsPersonData && entry.stream.hasPrefix(Pseudonym.personPrefix)
    }
}

extension APIRoutes {
    func rawRead(_ request: Request, _ peer: PeerCredentials) throws -> RawRead {
        guard request.headers[Self.purposeHeader] != nil else { return .withheld }
        return .recorded(try reader(request, peer))
    }

    /// Records the read of every person among `entries` not yet in `recorded` (and adds them),
    /// concurrently: the ledger's group commit makes one commit of them.
    func recordRawRead(of entries: [Entry], _ read: RawRead, what: String, recorded: inout Set<Pseudonym>) async throws {
        guard case .recorded(let reader) = read else { return }
        var counts: [Pseudonym: Int] = [:]
        for entry in entries where entry.stream.hasPrefix(Pseudonym.personPrefix) {
            guard let person = Pseudonym.owning(stream: entry.stream), !recorded.contains(person) else { continue }
            counts[person, default: 0] += 1
        }
        guard !counts.isEmpty else { return }
        let caseFiles = self.caseFiles
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (person, count) in counts {
                group.addTask {
                    do { try await caseFiles.recordAccess(to: person, by: reader, what: what, entries: count) } catch {
                        throw Self.problem(for: error)
                    }
                }
            }
            try await group.waitForAll()
        }
        recorded.formUnion(counts.keys)
    }
}
