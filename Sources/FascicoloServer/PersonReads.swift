import FascicoloDomain
import FascicoloJSON
import FascicoloProjections
import Hummingbird

/// `GET /v1/persons/reads`: the person's own listing of who read their file (GDPR art. 15; the
/// Garante's guidelines on health dossiers, 2015: the person is told who accessed it), for the
/// front desk or a citizen portal that answers the person's request.
///
/// Every role may ask: a service (a portal, the front desk's application) acting for the
/// person names its operator as for any read, auditors and admins answer requests that reach
/// the data protection officer. A scoped service asks only for a person whose case its ambiti
/// hold, as for any read. The listing is itself a read of the person's record: it is recorded
/// first, and the answer reflects that entry, so it lists itself.
extension APIRoutes {
    /// At most this many months may be listed at once (the access log is kept at least 24).
    static let personReadsMonthsMax = 120

    func personReads(_ request: Request, _ context: FascicoloRequestContext) async throws -> Response {
        let peer = try caller(context)
        let reader = try reader(request, peer)
        let person = try pseudonym(try personFromHeader(request))
        func day(_ name: String) throws -> CalendarDate? {
            guard let text = request.uri.queryParameters.get(name) else { return nil }
            guard let date = CalendarDate(String(text)) else { throw Self.invalidParameter(name, "\(name) is a date, YYYY-MM-DD") }
            return date
        }
        let to = try day("to") ?? caseFiles.today()
        let from = try day("from") ?? Self.monthsBefore(to, 24)
        guard from <= to, from >= Self.monthsBefore(to, Self.personReadsMonthsMax) else {
            throw Self.invalidParameter("from", "from is a day before to, at most \(Self.personReadsMonthsMax) months before it")
        }
        let limit = try readModelLimit(request, max: 1_000)
        let before: UInt64? = try parameter(request, "before")
        let timeout = try reflection(request).timeout
        let known: Bool
        do { known = try ledger.streamVersion(person.stream) > 0 || ledger.streamVersion(person.accessStream) > 0 } catch {
            throw Self.problem(forProjection: error)
        }
        guard known else { throw Self.personNotFound }
        // The reads of an erased person are kept as the controller's accountability record
        // (auditors: GET /v1/compliance/accesses), not served to services on the person's
        // behalf: a new read would be new data about someone whose data are gone.
        let erased: Bool
        do { erased = try caseFiles.isErased(person) } catch { throw Self.problem(for: error) }
        if erased { throw Self.personErased }
        // Every parameter is checked before the read is recorded: a refused request leaves no entry.
        let recorded = try await recordAccess(to: person, by: reader, what: "reads", entries: 0)
        let millisecondsPerDay = Int64(86_400_000)
        let (page, position) = try await readModel(Compliance.name, Reflection(position: recorded, timeout: timeout)) { view in
            try Compliance.reads(
                view, person: person, before: before, fromMilliseconds: Int64(from.daysSinceEpoch) * millisecondsPerDay,
                toMilliseconds: Int64(to.daysSinceEpoch + 1) * millisecondsPerDay, limit: limit)
        }
        return answer(position) { body in
            body.member("person", person.description)
            body.member("from", from.description)
            body.member("to", to.description)
            body.key("reads")
            body.array { body in
                for read in page.reads { Render.personRead(read, into: &body) }
            }
            body.key("next")
            if let next = page.next { body.number(next) } else { body.null() }
        }
    }

    static let personErased = Problem(
        .gone, code: "person_erased",
        detail:
            "this person's data were erased; the record of who read them is kept for accountability and given by the data protection officer"
    )

    /// The same day `months` months earlier (the last day of that month when it has fewer days).
    static func monthsBefore(_ date: CalendarDate, _ months: Int) -> CalendarDate {
        let index = date.year * 12 + (date.month - 1) - months
        let (year, month) = (index / 12, index % 12 + 1)
        func text(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        for day in stride(from: date.day, through: 28, by: -1) {
            if let earlier = CalendarDate("\(text(year, 4))-\(text(month, 2))-\(text(day, 2))") { return earlier }
        }
        return CalendarDate(daysSinceEpoch: date.daysSinceEpoch - 30 * months)
    }
}
