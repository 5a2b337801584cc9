import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloProjections
import Hummingbird

/// `GET /v1/persons/household-timeline`: the entries of every member of the person's household
/// (PersonRegistered's `household`, as rectified), so that an intervention recorded on a parent's
/// file is seen from the child's (issue 19). The person is named by `Fascicolo-Person`; a
/// household id never travels in a URL.
///
/// The rules (docs/domain.md, "Household timeline"): every member whose entries are shown gets a
/// RecordAccessed entry of their own (`what` `household_timeline`), the asked person always; a
/// scoped service sees only the members whose case its ambiti hold; restricted entries are shown
/// to no one here, erased members contribute nothing; another member's judicial entries and
/// corrections are not shown (their corrections are marks on the entries shown); personal fields
/// are not opened (`personalData` `not_included`): they are read in each member's own file.
extension APIRoutes {
    /// A household with more members is not a family's (a service wrote one id for unrelated persons).
    static let householdMembersMax = 20

    func householdTimeline(_ request: Request, _ context: FascicoloRequestContext) async throws -> Response {
        let peer = try caller(context)
        let reader = try reader(request, peer)
        let person = try pseudonym(try personFromHeader(request))
        let from: UInt64 = try parameter(request, "from") ?? 0
        let limit = try readModelLimit(request, max: caseFiles.limits.entriesPerReadMax)
        // Every member's last entry, whoever's it is: the log's last one when asked.
        let asked = try reflection(request, fallback: ledger.size > 0 ? ledger.size - 1 : nil)
        let (household, _) = try await readModel(Households.name, asked) { view in
            try Households.members(view, of: person, max: Self.householdMembersMax)
        }
        guard let household else {
            let known: Bool
            do { known = try ledger.streamVersion(person.stream) > 0 } catch { throw Self.problem(forProjection: error) }
            throw known ? Self.householdNotFound : Self.personNotFound
        }
        if household.tooLarge { throw Self.householdTooLarge }
        var shown = [person]
        do {
            for member in household.persons.dropFirst()
            where try caseFiles.mayRead(member, within: reader.ambiti) && !(try caseFiles.isErased(member)) {
                shown.append(member)
            }
        } catch { throw Self.problem(for: error) }
        let (page, position) = try await readModel(Timeline.name, asked) { view in
            try Self.householdPage(view, members: shown, asked: person, from: from, limit: limit)
        }
        // Recorded before anything is served: the asked person first (a read they may not be
        // read by is refused here, before any other member is recorded), then every member shown.
        try await recordAccess(to: person, by: reader, what: "household_timeline", entries: page.count(of: person))
        for member in shown.dropFirst() where page.count(of: member) > 0 {
            try await recordAccess(to: member, by: reader, what: "household_timeline", entries: page.count(of: member))
        }
        return answer(position) { body in
            body.member("person", person.description)
            body.key("rows")
            body.array { body in
                for row in page.rows { Render.householdRow(row.row, person: row.person, asked: row.person == person, into: &body) }
            }
            body.key("next")
            if let next = page.next { body.number(next) } else { body.null() }
        }
    }

    struct HouseholdPage {
        var rows: [(person: Pseudonym, row: TimelineRow)]
        /// Where the next page starts (`from`); nil after the last.
        var next: UInt64?

        func count(of person: Pseudonym) -> Int { rows.count { $0.person == person } }
    }

    /// The members' entries at positions from `from`, in log order, at most `limit`: each
    /// member's next `limit` entries are read, and only those below the first place where a
    /// member's page ended are kept, so that no entry is skipped between pages.
    static func householdPage(_ view: ProjectionView, members: [Pseudonym], asked: Pseudonym, from: UInt64, limit: Int) throws
        -> HouseholdPage
    {
        var candidates: [(person: Pseudonym, row: TimelineRow)] = []
        var complete = UInt64.max
        for member in members {
            let firstVersion = try view.log.count(of: member.stream, below: from) + 1
            guard let page = try Timeline.read(view, person: member, from: firstVersion, limit: limit) else { continue }
            if let last = page.rows.last, firstVersion + UInt64(page.rows.count) - 1 < page.entries {
                complete = min(complete, last.position)
            }
            for row in page.rows where shows(row, ofAsked: member == asked) { candidates.append((member, row)) }
        }
        candidates.sort { $0.row.position < $1.row.position }
        var rows = candidates.filter { $0.row.position <= complete }
        var next: UInt64? = complete == .max ? nil : complete + 1
        if rows.count > limit {
            rows = Array(rows.prefix(limit))
            next = rows[rows.count - 1].row.position + 1
        }
        return HouseholdPage(rows: rows, next: next)
    }

    /// Which entries a household view shows: no restricted entry; of another member, no
    /// judicial entry (GDPR art. 10: it stays in that member's file), no correction (shown
    /// as marks on the entries it corrects) or erasure, and no legal hold (a litigation, an
    /// inspection or a Tribunale's measure concerning that member, named by its reference).
    static func shows(_ row: TimelineRow, ofAsked: Bool) -> Bool {
        if row.restrictedBy != nil { return false }
        if ofAsked { return true }
        if householdHiddenTypes.contains(row.type) { return false }
        if EventCatalogue.schema(row.type)?.judicial == true { return false }
        if row.content?.data.contains(where: { $0.key == "judicialFlag" && $0.value == .bool(true) }) == true { return false }
        if row.content?.data.contains(where: { $0.key == "basis" && $0.value == .string("judicial") }) == true { return false }
        return true
    }

    static let householdHiddenTypes: Set<String> = [
        "Rectified", "Voided", "Restricted", "RestrictionLifted", "ErasureExecuted", "LegalHoldPlaced", "LegalHoldReleased",
    ]

    static let householdNotFound = Problem(
        .notFound, code: "household_not_found", detail: "this person's registration names no household")
    static let householdTooLarge = Problem(
        .unprocessableContent, code: "household_too_large",
        detail: "this person's household id is shared by more than \(householdMembersMax) persons: it is not a family's; rectify it")
}
