import FascicoloConcurrency
import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloProjections

/// The read models' answers: the projections' status, and the timeline, case state, caseload,
/// interventions, indicators and compliance queries.
extension Render {
    static func projectionStatus(_ status: ProjectionStatus, into json: inout JSONBytes) {
        func failure(_ record: FailureRecord?, into json: inout JSONBytes) {
            guard let record else { return json.null() }
            json.object { json in
                json.member("position", record.position)
                json.member("reason", record.reason)
            }
        }
        json.object { json in
            json.member("name", status.name)
            json.member("version", status.version)
            json.member("state", status.state.rawValue)
            json.key("servingSlot")
            if let slot = status.servingSlot { json.string(slot.rawValue) } else { json.null() }
            json.member("position", status.position)
            json.member("logSize", status.logSize)
            json.member("lag", status.lag)
            json.key("failure")
            failure(status.failure, into: &json)
            json.key("build")
            if let progress = status.build {
                let remaining = status.logSize > progress.position ? status.logSize - progress.position : 0
                json.object { json in
                    json.member("slot", progress.slot.rawValue)
                    json.member("position", progress.position)
                    json.member("logSize", status.logSize)
                    json.member("entriesPerSecond", progress.entriesPerSecond)
                    json.key("etaSeconds")
                    if progress.entriesPerSecond > 0 { json.number(remaining / UInt64(progress.entriesPerSecond)) } else { json.null() }
                    json.member("startedAt", progress.startedAt)
                    json.key("failure")
                    failure(progress.failure, into: &json)
                }
            } else {
                json.null()
            }
            json.key("lastRebuild")
            if let record = status.lastRebuild { rebuildRecord(record, into: &json) } else { json.null() }
        }
    }

    static func rebuildRecord(_ record: RebuildRecord, into json: inout JSONBytes) {
        json.object { json in
            json.member("version", record.version)
            json.member("position", record.position)
            json.member("digest", record.digest)
            json.member("logRoot", record.logRoot)
            if let size = record.checkpointSize, let root = record.checkpointRoot {
                json.key("checkpoint")
                json.object { json in
                    json.member("size", size)
                    json.member("root", root)
                }
            }
            json.member("startedAt", record.startedAt)
            json.member("finishedAt", record.finishedAt)
            json.member("entriesPerSecond", record.entriesPerSecond)
        }
    }

    /// A timeline row, with the personal fields a read opened (`personal`, added to its data)
    /// and what became of them.
    static func timelineRow(
        _ row: TimelineRow, personalData: PersonalData, personal: [(key: String, value: JSON)],
        into json: inout JSONBytes
    ) {
        json.object { json in
            json.member("version", row.version)
            json.member("position", row.position)
            json.member("type", row.type)
            json.member("recordedAt", Timestamp.iso8601(milliseconds: row.recordedAtMilliseconds))
            json.member("caseFile", row.caseFile)
            if let content = row.content {
                json.member("occurredAt", content.occurredAt)
                json.member("actor", content.actor)
                json.key("data")
                members(content.data + personal, into: &json)
            }
            if let voidedBy = row.voidedBy { json.member("voidedBy", voidedBy) }
            if !row.rectifiedBy.isEmpty {
                json.key("rectifiedBy")
                numbers(row.rectifiedBy, into: &json)
            }
            if let restrictedBy = row.restrictedBy { json.member("restrictedBy", restrictedBy) }
            if let liftedBy = row.restrictionLiftedBy { json.member("restrictionLiftedBy", liftedBy) }
            json.member("personalData", personalData.rawValue)
        }
    }

    /// One entry of a household timeline: whose (`person`, and `member`: `self` for the asked
    /// person, `household` for another member), then the timeline row without personal fields.
    static func householdRow(_ row: TimelineRow, person: Pseudonym, asked: Bool, into json: inout JSONBytes) {
        json.object { json in
            json.member("person", person.description)
            json.member("member", asked ? "self" : "household")
            json.member("version", row.version)
            json.member("position", row.position)
            json.member("type", row.type)
            json.member("recordedAt", Timestamp.iso8601(milliseconds: row.recordedAtMilliseconds))
            json.member("caseFile", row.caseFile)
            if let content = row.content {
                json.member("occurredAt", content.occurredAt)
                json.member("actor", content.actor)
                json.key("data")
                members(content.data, into: &json)
            }
            if let voidedBy = row.voidedBy { json.member("voidedBy", voidedBy) }
            if !row.rectifiedBy.isEmpty {
                json.key("rectifiedBy")
                numbers(row.rectifiedBy, into: &json)
            }
            json.member("personalData", row.content?.sealed == true ? "not_included" : "none")
        }
    }

    /// The case state as the cases read model shows it, then its ages.
    static func caseState(_ answer: Cases.StateOnDay, into json: inout JSONBytes) {
        let state = answer.state
        json.object { json in
            json.member("phase", state.phase.rawValue)
            if let ambito = state.ambito { json.member("ambito", ambito) }
            if let caseManager = state.caseManager { json.member("caseManager", caseManager) }
            if let date = state.takenInChargeOn { json.member("takenInChargeOn", date.description) }
            if let due = state.nextReviewDue { json.member("nextReviewDue", due.description) }
            json.member("caseFiles", state.caseFiles)
            json.member("erased", state.erased)
            json.member("hasPreliminaryAnalysis", state.hasPreliminaryAnalysis)
            json.member("hasInDepthAssessment", state.hasInDepthAssessment)
            json.member("signedPlan", state.signedPlan)
            json.key("openInterventions")
            numbers(state.openInterventions, into: &json)
            if let days = answer.daysSinceTakenInCharge { json.member("daysSinceTakenInCharge", days) }
            if let overdue = answer.reviewOverdue { json.member("reviewOverdue", overdue) }
        }
    }

    static func caseloadRow(_ row: Cases.CaseloadRow, into json: inout JSONBytes) {
        json.object { json in
            json.member("id", row.id)
            json.member("open", row.open)
            json.member("takenInCharge", row.takenInCharge)
            json.member("reviewsOverdue", row.reviewsOverdue)
        }
    }

    /// Amounts as decimal strings ("120.50"), never floating point.
    static func interventionRow(_ row: Interventions.Row, into json: inout JSONBytes) {
        let amount = amount(cents: row.amountCents)
        json.object { json in
            json.member("code", row.code)
            json.member("provider", row.provider)
            json.member("fundingLine", row.fundingLine)
            json.member("ambito", row.ambito)
            json.member("month", row.month)
            json.member("requested", row.requested)
            json.member("started", row.started)
            json.member("ended", row.ended)
            json.member("deliveries", row.deliveries)
            json.member("minutes", row.minutes)
            json.member("amount", amount)
        }
    }

    /// A count of a figure leaving the service: `"<5"` when suppressed, null when withheld (it
    /// would reveal a suppressed one by subtraction).
    static func count(_ count: Cases.Indicators.Count, suppressedBelow: Int, into json: inout JSONBytes) {
        switch count {
        case .value(let value): json.number(value)
        case .suppressed: json.string("<\(suppressedBelow)")
        case .withheld: json.null()
        }
    }

    /// The caseload as exported to the Region (`RegionReports`).
    static func caseloadRow(_ row: RegionReports.CaseloadRow, into json: inout JSONBytes) {
        json.object { json in
            json.member("id", row.id)
            for (name, value) in [("open", row.open), ("takenInCharge", row.takenInCharge), ("reviewsOverdue", row.reviewsOverdue)] {
                json.key(name)
                count(value, suppressedBelow: Cases.suppressionThreshold, into: &json)
            }
        }
    }

    /// The interventions totals as exported to the Region (`RegionReports`).
    static func interventionRow(_ row: RegionReports.InterventionRow, into json: inout JSONBytes) {
        json.object { json in
            json.member("code", row.code)
            json.member("provider", row.provider)
            json.member("fundingLine", row.fundingLine)
            json.member("ambito", row.ambito)
            json.member("month", row.month)
            let counts = [("requested", row.requested), ("started", row.started), ("ended", row.ended), ("deliveries", row.deliveries)]
            for (name, value) in counts {
                json.key(name)
                count(value, suppressedBelow: Cases.suppressionThreshold, into: &json)
            }
            json.key("minutes")
            if let minutes = row.minutes { json.number(minutes) } else { json.null() }
            json.key("amount")
            if let cents = row.amountCents { json.string(amount(cents: cents)) } else { json.null() }
        }
    }

    /// Euro cents as a decimal string ("120.50"), never floating point.
    static func amount(cents: Int64) -> String {
        let magnitude = cents.magnitude
        let fraction = magnitude % 100
        return (cents < 0 ? "-" : "") + "\(magnitude / 100)." + (fraction < 10 ? "0" : "") + "\(fraction)"
    }

    /// Suppressed counts as `"<5"`, withheld ones and statistics over too few case files as null.
    static func indicators(_ indicators: Cases.Indicators, into json: inout JSONBytes) {
        func count(_ value: Cases.Indicators.Count, into json: inout JSONBytes) {
            Render.count(value, suppressedBelow: indicators.suppressedBelow, into: &json)
        }
        func distribution(_ distribution: Cases.Indicators.Distribution, into json: inout JSONBytes) {
            json.object { json in
                json.key("caseFiles")
                count(distribution.caseFiles, into: &json)
                json.key("median")
                if let median = distribution.median { json.number(median) } else { json.null() }
                json.key("p90")
                if let p90 = distribution.p90 { json.number(p90) } else { json.null() }
            }
        }
        func share(_ share: Double?, into json: inout JSONBytes) {
            if let share { json.value(.number(String(share))) } else { json.null() }
        }
        func counts(_ counts: [(code: String, count: Cases.Indicators.Count)], into json: inout JSONBytes) {
            json.object { json in
                for (code, value) in counts {
                    json.key(code)
                    count(value, into: &json)
                }
            }
        }
        json.object { json in
            json.key("caseFiles")
            count(indicators.caseFiles, into: &json)
            json.key("takenInCharge")
            count(indicators.takenInCharge, into: &json)
            json.key("daysFromFirstContactToPresaInCarico")
            distribution(indicators.daysFromFirstContactToPresaInCarico, into: &json)
            json.key("daysFromFirstContactToSignedPlan")
            distribution(indicators.daysFromFirstContactToSignedPlan, into: &json)
            json.key("shareWithAssessment")
            share(indicators.shareWithAssessment, into: &json)
            json.key("shareWithSignedPlan")
            share(indicators.shareWithSignedPlan, into: &json)
            json.key("closureReasons")
            counts(indicators.closureReasons, into: &json)
            json.key("outcomes")
            counts(indicators.outcomes, into: &json)
            json.key("goalsClosed")
            count(indicators.goalsClosed, into: &json)
            json.key("goalsAchieved")
            count(indicators.goalsAchieved, into: &json)
            json.member("suppressedBelow", indicators.suppressedBelow)
        }
    }

    static func access(_ access: Compliance.Access, into json: inout JSONBytes) {
        func optional(_ value: String?, into json: inout JSONBytes) {
            if let value { json.string(value) } else { json.null() }
        }
        json.object { json in
            json.member("position", access.position)
            json.member("at", Timestamp.iso8601(milliseconds: access.recordedAtMilliseconds))
            json.member("author", access.author)
            json.key("role")
            optional(access.role, into: &json)
            json.key("what")
            optional(access.what, into: &json)
            json.key("purpose")
            optional(access.purpose, into: &json)
            if let entries = access.entries { json.member("entries", entries) }
            if let operatorID = access.operatorID { json.member("operator", operatorID) }
            if !access.ambiti.isEmpty {
                json.key("ambiti")
                json.array { json in for ambito in access.ambiti { json.string(ambito) } }
            }
        }
    }

    /// One read in the person's own listing (`GET /v1/persons/reads`): who — the operator and
    /// the service (its configured name, never the uid), with its ambiti —, when, in which
    /// role, what and why, each code with its Italian words (`ReadWording`).
    static func personRead(_ access: Compliance.Access, into json: inout JSONBytes) {
        let role = access.role ?? "writer"
        let what = access.what ?? "case_file"
        let purpose = access.purpose ?? ""
        json.object { json in
            json.member("at", Timestamp.iso8601(milliseconds: access.recordedAtMilliseconds))
            json.member("localTime", ReadWording.when(access.recordedAtMilliseconds))
            json.key("operator")
            if let operatorID = access.operatorID { json.string(operatorID) } else { json.null() }
            json.member("service", serviceName(access.author))
            if !access.ambiti.isEmpty {
                json.key("ambiti")
                json.array { json in for ambito in access.ambiti { json.string(ambito) } }
            }
            json.member("role", role)
            json.member("roleLabel", ReadWording.role(role))
            json.member("what", what)
            json.member("whatLabel", ReadWording.what(what))
            json.member("purpose", purpose)
            json.member("purposeLabel", ReadWording.purpose(purpose))
            json.member("position", access.position)
        }
    }

    /// The service part of an author identity (`uid:N/service` → `service`): the uid is the
    /// daemon's business, not the person's.
    static func serviceName(_ author: String) -> String {
        guard let slash = author.firstIndex(of: "/") else { return "unnamed" }
        return String(author[author.index(after: slash)...])
    }

    static func unusualAccesses(_ report: UnusualAccessReport, from: CalendarDate, to: CalendarDate) -> [UInt8] {
        var json = JSONBytes()
        json.object { json in
            json.member("from", from.description)
            json.member("to", to.description)
            json.member("reads", report.reads)
            json.member("complete", report.complete)
            if let resume = report.resumeAtMilliseconds { json.member("resumeAt", Timestamp.iso8601(milliseconds: resume)) }
            json.key("rows")
            json.array { json in
                for row in report.rows {
                    json.object { json in
                        json.member("position", row.position)
                        json.member("at", Timestamp.iso8601(milliseconds: row.recordedAtMilliseconds))
                        json.member("person", row.person.description)
                        json.member("author", row.author)
                        if let role = row.role { json.member("role", role) }
                        if let operatorID = row.operatorID { json.member("operator", operatorID) }
                        if let what = row.what { json.member("what", what) }
                        json.key("reasons")
                        json.array { json in
                            for reason in row.reasons { json.string(reason.rawValue) }
                        }
                    }
                }
            }
        }
        return json.bytes
    }

    static func registerRow(_ row: Compliance.RegisterRow, into json: inout JSONBytes) {
        json.object { json in
            json.member("position", row.position)
            json.member("at", Timestamp.iso8601(milliseconds: row.recordedAtMilliseconds))
            json.member("person", row.person.description)
            json.member("version", row.version)
            json.member("type", row.type)
            json.member("author", row.author)
            if let operatorID = row.operatorID { json.member("operator", operatorID) }
            json.key("data")
            members(row.data, into: &json)
        }
    }
}
