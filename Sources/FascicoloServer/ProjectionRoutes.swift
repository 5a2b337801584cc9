import FascicoloCrypto
import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloProjections
import FascicoloStorage
import Glibc
import Hummingbird

/// The read models' endpoints: the projections' status, rebuilds and digests, and the queries
/// over the timeline, cases, interventions and compliance projections.
///
/// Every query answers from one snapshot of the projection's serving generation, and says which
/// entries it reflects (`position`: every position below it) and how far the log has moved on
/// (`lag`). With `reflects=P` it first waits (`timeoutMs`, default 5000, at most 30000) until
/// the entry at P has been applied — read-your-writes for a client that has just appended at P.
/// Person reads default to the person's own last entry, and are recorded like case-file reads.
extension APIRoutes {
    func registerProjections(on groups: RouteGroups) {
        groups.everyRole.get("v1/projections") { _, _ in
            let statuses = projections.statuses()
            var body = JSONBytes()
            body.object { body in
                body.key("projections")
                body.array { body in
                    for status in statuses { Render.projectionStatus(status, into: &body) }
                }
            }
            return json(status: .ok, body.bytes)
        }
        groups.everyRole.get("v1/projections/:name") { _, context in
            do {
                return json(status: .ok, projectionStatus(try projections.status(projectionName(context))))
            } catch { throw Self.problem(forProjection: error) }
        }
        groups.admins.post("v1/projections/:name/rebuild") { _, context in
            let name = projectionName(context)
            do {
                try projections.rebuild(name)
                return json(status: .accepted, projectionStatus(try projections.status(name)))
            } catch { throw Self.problem(forProjection: error) }
        }
        groups.auditors.get("v1/projections/:name/digest") { _, context in
            let name = projectionName(context)
            do {
                let (digest, position) = try projections.digest(name)
                var body = JSONBytes()
                body.object { body in
                    body.member("name", name)
                    body.member("digest", digest.hex)
                    body.member("position", position)
                }
                return json(status: .ok, body.bytes)
            } catch { throw Self.problem(forProjection: error) }
        }
        groups.everyRole.get("v1/persons/timeline") { request, context in try await timeline(request, context) }
        groups.everyRole.get("v1/persons/reads") { request, context in try await personReads(request, context) }
        groups.everyRole.get("v1/persons/household-timeline") { request, context in try await householdTimeline(request, context) }
        groups.everyRole.get("v1/persons/case-state") { request, context in
            let peer = try caller(context)
            let reader = try reader(request, peer)
            let person = try pseudonym(try personFromHeader(request))
            let today = caseFiles.today()
            let (state, position) = try await readModel(Cases.name, request, reflecting: try lastPosition(of: person)) { view in
                try Cases.state(view, person: person, today: today)
            }
            guard let state else { throw Self.personNotFound }
            try await recordAccess(to: person, by: reader, what: "case_state", entries: 1)
            return answer(position) { body in
                body.member("person", person.description)
                body.key("state")
                Render.caseState(state, into: &body)
            }
        }
        groups.everyRole.get("v1/caseload") { request, _ in
            let by = request.uri.queryParameters.get("by") ?? "operator"
            guard by == "operator" || by == "ambito" else { throw Self.invalidParameter("by", "by is operator or ambito") }
            let region: Bool = try parameter(request, "region") ?? false
            let today = caseFiles.today()
            let (rows, position) = try await readModel(Cases.name, request) { view in
                try Cases.caseload(view, byOperator: by == "operator", today: today)
            }
            return answer(position) { body in
                body.member("by", by)
                body.key("rows")
                body.array { body in
                    for row in rows {
                        if region {
                            Render.caseloadRow(RegionReports.caseload(row), into: &body)
                        } else {
                            Render.caseloadRow(row, into: &body)
                        }
                    }
                }
            }
        }
        groups.everyRole.get("v1/interventions") { request, _ in
            let filters = request.uri.queryParameters
            let month = filters.get("month")
            if let month, month.utf8.count != 7 || CalendarDate(month + "-01") == nil {
                throw Self.invalidParameter("month", "month is YYYY-MM")
            }
            let limit = try readModelLimit(request, max: 1_000)
            let region: Bool = try parameter(request, "region") ?? false
            let (rows, position) = try await readModel(Interventions.name, request) { view in
                try Interventions.totals(
                    view, code: filters.get("code"), provider: filters.get("provider"),
                    fundingLine: filters.get("fundingLine"), ambito: filters.get("ambito"), month: month, limit: limit)
            }
            return answer(position) { body in
                body.key("rows")
                body.array { body in
                    for row in rows {
                        if region {
                            Render.interventionRow(RegionReports.interventions(row), into: &body)
                        } else {
                            Render.interventionRow(row, into: &body)
                        }
                    }
                }
            }
        }
        groups.everyRole.get("v1/indicators") { request, _ in
            let ambito = request.uri.queryParameters.get("ambito")
            let year: Int? = try parameter(request, "year")
            if let year, !(1900...2200).contains(year) { throw Self.invalidParameter("year", "year is 1900 to 2200") }
            let (indicators, position) = try await readModel(Cases.name, request) { view in
                try Cases.indicators(view, ambito: ambito, year: year)
            }
            return answer(position) { body in
                body.key("indicators")
                Render.indicators(indicators, into: &body)
            }
        }
        groups.auditors.get("v1/compliance/accesses") { request, context in
            let peer = try caller(context)
            let reader = try reader(request, peer)
            let person = try pseudonym(try personFromHeader(request))
            let from: UInt64 = try parameter(request, "from") ?? 0
            let limit = try readModelLimit(request, max: 1_000)
            let known: Bool
            do { known = try ledger.streamVersion(person.stream) > 0 || ledger.streamVersion(person.accessStream) > 0 } catch {
                throw Self.problem(forProjection: error)
            }
            guard known else { throw Self.personNotFound }
            // Every parameter is checked before the read is recorded: a refused request leaves no entry.
            let asked = try reflection(request)
            // Reading who read a file is itself a read of that person's record: recorded first, so
            // that the answer can include it.
            try await recordAccess(to: person, by: reader, what: "access_log", entries: 0)
            let (rows, position) = try await readModel(Compliance.name, asked) { view in
                try Compliance.accesses(view, person: person, from: from, limit: limit)
            }
            return answer(position) { body in
                body.member("person", person.description)
                body.key("accesses")
                body.array { body in
                    for row in rows { Render.access(row, into: &body) }
                }
            }
        }
        // Reads that the rules of DOMAIN.md flag (no assignment, out of hours, bulk), over whole
        // days (UTC): `from` (default a week before `to`) to `to` (default today), at most 31 days;
        // `bulk` is the persons per hour above which a reader reads in bulk (default 20). It shows
        // who read which pseudonym and when — no personal field — and is not itself recorded.
        groups.auditors.get("v1/compliance/unusual-accesses") { request, _ in
            func day(_ name: String) throws -> CalendarDate? {
                guard let text = request.uri.queryParameters.get(name) else { return nil }
                guard let date = CalendarDate(String(text)) else { throw Self.invalidParameter(name, "\(name) is a date, YYYY-MM-DD") }
                return date
            }
            let to = try day("to") ?? caseFiles.today()
            let from = try day("from") ?? CalendarDate(daysSinceEpoch: to.daysSinceEpoch - 7)
            guard from <= to, to.daysSinceEpoch - from.daysSinceEpoch <= 31 else {
                throw Self.invalidParameter("from", "from is a day at most 31 days before to")
            }
            var rules = unusualAccess
            if let bulk: Int = try parameter(request, "bulk") {
                guard (1...100_000).contains(bulk) else { throw Self.invalidParameter("bulk", "bulk is 1 to 100000 persons per hour") }
                rules.bulkPersonsPerHour = bulk
            }
            let day = Int64(86_400_000)
            let report: UnusualAccessReport
            do {
                report = try caseFiles.unusualAccesses(
                    fromMilliseconds: Int64(from.daysSinceEpoch) * day, toMilliseconds: Int64(to.daysSinceEpoch + 1) * day, rules: rules)
            } catch { throw Self.problem(forProjection: error) }
            return json(status: .ok, Render.unusualAccesses(report, from: from, to: to))
        }
        // The legal holds in force (issue 21), for the auditor: pseudonyms, grounds, references.
        groups.auditors.get("v1/compliance/holds") { request, context in
            let limit = try readModelLimit(request, max: 1_000)
            let ((holds, more), position) = try await readModel(Compliance.name, request) { view in
                try Compliance.holdsInForce(view, limit: limit)
            }
            return answer(position) { body in
                body.member("more", more)
                body.key("holds")
                body.array { body in
                    for row in holds { Render.registerRow(row, into: &body) }
                }
            }
        }
        groups.auditors.get("v1/compliance/registers/:register") { request, context in
            let register = context.parameters.get("register") ?? ""
            guard Compliance.registerNames.contains(register) else {
                throw Problem(
                    .notFound, code: "register_not_found",
                    detail: "the registers are \(Compliance.registerNames.joined(separator: ", "))")
            }
            let from: UInt64 = try parameter(request, "from") ?? 0
            let limit = try readModelLimit(request, max: 1_000)
            let (rows, position) = try await readModel(Compliance.name, request) { view in
                try Compliance.register(view, register, from: from, limit: limit)
            }
            return answer(position) { body in
                body.member("register", register)
                body.key("rows")
                body.array { body in
                    for row in rows { Render.registerRow(row, into: &body) }
                }
            }
        }
    }

    /// `GET /v1/persons/timeline`: the person's timeline page with the personal fields opened
    /// (as the case file does: erased, restricted and unreadable ones marked), recorded first.
    func timeline(_ request: Request, _ context: FascicoloRequestContext) async throws -> Response {
        let peer = try caller(context)
        let reader = try reader(request, peer)
        let person = try pseudonym(try personFromHeader(request))
        let from: UInt64 = try parameter(request, "from") ?? 1
        let limit = try readModelLimit(request, max: caseFiles.limits.entriesPerReadMax)
        let (page, position) = try await readModel(Timeline.name, request, reflecting: try lastPosition(of: person)) { view in
            try Timeline.read(view, person: person, from: from, limit: limit)
        }
        guard let page else { throw Self.personNotFound }
        try await recordAccess(to: person, by: reader, what: "timeline", entries: page.rows.count)
        let dataKey: SecretKey?
        do { dataKey = try caseFiles.dataKey(for: person) } catch { throw Self.problem(for: error) }
        // The timeline answers with the clear part; sealed fields are opened from the signed entry.
        var opened: [(PersonalData, [(key: String, value: JSON)])] = []
        opened.reserveCapacity(page.rows.count)
        for row in page.rows {
            guard row.content?.sealed == true else {
                opened.append((.none, []))
                continue
            }
            let entry: Entry?
            do { entry = try ledger.entry(at: row.position) } catch { throw Self.problem(forProjection: error) }
            if let entry, entry.stream == person.stream {
                opened.append(
                    caseFiles.personalFields(
                        of: entry, person: person, dataKey: dataKey,
                        restricted: row.restrictedBy != nil, reader: reader))
            } else {
                opened.append((.unreadable, []))
            }
        }
        return answer(position) { body in
            body.member("person", person.description)
            body.member("entries", page.entries)
            body.member("caseFiles", page.caseFiles)
            body.member("erased", page.erased)
            body.key("rows")
            body.array { body in
                for (row, (personalData, personal)) in zip(page.rows, opened) {
                    Render.timelineRow(row, personalData: personalData, personal: personal, into: &body)
                }
            }
        }
    }

    // MARK: - Helpers

    /// Runs `body` on projection `name`, after waiting for `reflects` (or `fallback`) to be
    /// applied; returns its result and the position the snapshot reflects.
    func readModel<T>(
        _ name: String, _ request: Request, reflecting fallback: UInt64? = nil,
        _ body: (ProjectionView) throws -> T
    ) async throws -> (T, UInt64) {
        try await readModel(name, try reflection(request, fallback: fallback), body)
    }

    func readModel<T>(
        _ name: String, _ reflection: Reflection,
        _ body: (ProjectionView) throws -> T
    ) async throws -> (T, UInt64) {
        do {
            return try await projections.query(name, reflecting: reflection.position, timeout: reflection.timeout) { view in
                (try body(view), view.position)
            }
        } catch { throw Self.problem(forProjection: error) }
    }

    /// What a read-model query waits for: `reflects` (or `fallback`), for at most `timeoutMs`.
    struct Reflection {
        let position: UInt64?
        let timeout: Duration
    }

    func reflection(_ request: Request, fallback: UInt64? = nil) throws -> Reflection {
        let reflects: UInt64? = try parameter(request, "reflects") ?? fallback
        let timeout: Int = try parameter(request, "timeoutMs") ?? 5_000
        guard (0...30_000).contains(timeout) else { throw Self.invalidParameter("timeoutMs", "timeoutMs is 0 to 30000") }
        return Reflection(position: reflects, timeout: .milliseconds(timeout))
    }

    /// A query's answer: the members `members` writes, then the position it reflects and the
    /// lag behind the log.
    func answer(_ position: UInt64, _ members: (inout JSONBytes) -> Void) -> Response {
        let size = ledger.size
        var body = JSONBytes()
        body.object { body in
            members(&body)
            body.member("position", position)
            body.member("lag", size > position ? size - position : 0)
        }
        return json(status: .ok, body.bytes)
    }

    func projectionStatus(_ status: ProjectionStatus) -> [UInt8] {
        var body = JSONBytes()
        Render.projectionStatus(status, into: &body)
        return body.bytes
    }

    /// The position of the person's last entry, so that a person read reflects at least
    /// everything recorded for them (nil: no stream, nothing to wait for).
    func lastPosition(of person: Pseudonym) throws -> UInt64? {
        do { return try ledger.readStream(person.stream, backwards: true, limit: 1).first?.position } catch {
            throw Self.problem(forProjection: error)
        }
    }

    func pseudonym(_ identifier: PersonIdentifier) throws -> Pseudonym {
        do { return try caseFiles.pseudonym(for: identifier) } catch { throw Self.problem(forProjection: error) }
    }

    @discardableResult
    func recordAccess(to person: Pseudonym, by reader: Reader, what: String, entries: Int) async throws -> UInt64 {
        do { return try await caseFiles.recordAccess(to: person, by: reader, what: what, entries: entries) } catch {
            throw Self.problem(for: error)
        }
    }

    func projectionName(_ context: FascicoloRequestContext) -> String { context.parameters.get("name") ?? "" }

    /// The query parameter `name`, nil when absent; 400 `invalid_parameter` when not a `T`.
    func parameter<T: LosslessStringConvertible>(_ request: Request, _ name: String) throws -> T? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let value = T(text) else { throw Self.invalidParameter(name, "the query parameter \(name) is not valid") }
        return value
    }

    func readModelLimit(_ request: Request, max: Int) throws -> Int {
        let limit: Int = try parameter(request, "limit") ?? min(100, max)
        guard (1...max).contains(limit) else { throw Self.invalidParameter("limit", "limit is 1 to \(max)") }
        return limit
    }

    static func invalidParameter(_ name: String, _ detail: String) -> Problem {
        Problem(.badRequest, code: "invalid_parameter", detail: detail, field: name)
    }

    static let personNotFound = Problem(.notFound, code: "person_not_found", detail: "no case file for this person")

    /// A read model's refusals: unknown 404; not built, behind or failed 503 with Retry-After
    /// (the engine catches up by itself); a rebuild already running 409; anything else 500.
    /// Details name projections and positions, never a person.
    static func problem(forProjection error: any Error) -> any Error {
        if error is Problem { return error }
        if let damage = error as? DamagedData {
            return Problem(
                .internalServerError, code: "storage_damaged",
                detail: "a stored row of the \(damage.table) table is damaged (fascicolo verify reports it)")
        }
        guard let error = error as? ProjectionError else {
            return Problem(.internalServerError, code: "storage_error", detail: "the read model could not be read")
        }
        let status: HTTPResponse.Status =
            switch error {
            case .unknown: .notFound
            case .notBuilt, .behind, .failed: .serviceUnavailable
            case .rebuildInProgress: .conflict
            case .storage: .internalServerError
            }
        return Problem(
            status, code: error.code, detail: error.description,
            retryAfterSeconds: status == .serviceUnavailable ? 1 : nil)
    }
}
