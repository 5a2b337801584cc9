import FascicoloConcurrency
import FascicoloDomain
import FascicoloJSON
import FascicoloLedger

/// The fascicolo sociale's answers: case files, recorded events, the catalogue.
extension Render {
    /// `GET /v1/persons/case-file`.
    static func caseFile(_ file: CaseFile) -> [UInt8] {
        var json = JSONBytes(capacity: 1_024 + 700 * file.entries.count)
        json.object { json in
            json.member("person", file.person.description)
            json.member("stream", file.person.stream)
            json.member("version", file.version)
            json.key("state")
            caseFileState(file.state, today: file.today, into: &json)
            json.key("entries")
            json.array { json in
                for entry in file.entries { caseFileEntry(entry, into: &json) }
            }
        }
        return json.bytes
    }

    static func caseFileEntry(_ entry: CaseFileEntry, into json: inout JSONBytes) {
        json.object { json in
            json.member("version", entry.version)
            json.member("position", entry.position)
            json.member("recordedAt", Timestamp.iso8601(milliseconds: entry.recordedAtMilliseconds))
            json.member("author", entry.author)
            json.member("type", entry.type)
            if let label = entry.label { json.member("label", label) }
            if let content = entry.content {
                json.member("schema", content.schemaVersion)
                json.member("occurredAt", content.occurredAt)
                json.member("codeTable", content.codeTable)
                json.member("purpose", content.purpose)
                json.member("actor", content.actor)
                if let correlationID = content.correlationID { json.member("correlationId", correlationID) }
                if let causationID = content.causationID { json.member("causationId", causationID) }
                json.key("data")
                members(content.data, into: &json)
            }
            json.member("personalData", entry.personalData.rawValue)
            if let voidedBy = entry.voidedBy { json.member("voidedBy", voidedBy) }
            if let rectifiedBy = entry.rectifiedBy {
                json.key("rectifiedBy")
                numbers(rectifiedBy, into: &json)
            }
            if let restrictedBy = entry.restrictedBy { json.member("restrictedBy", restrictedBy) }
        }
    }

    /// The case state as the case file shows it, with its ages on `today`.
    static func caseFileState(_ state: CaseState, today: CalendarDate, into json: inout JSONBytes) {
        json.object { json in
            json.member("phase", state.phase.rawValue)
            json.member("erased", state.erased)
            json.member("episodes", state.episodes)
            if let ambito = state.ambito { json.member("ambito", ambito) }
            if let caseManager = state.caseManager { json.member("caseManager", caseManager) }
            if let date = state.takenInChargeOn {
                json.member("takenInChargeOn", date.description)
                json.member("daysSinceTakenInCharge", today.daysSinceEpoch - date.daysSinceEpoch)
            }
            if let reason = state.closureReason { json.member("closureReason", reason) }
            if state.deceased {
                json.member("deceased", true)
                if let day = state.diedOn { json.member("diedOn", day.description) }
            }
            if let due = state.nextReviewDue {
                json.member("nextReviewDue", due.description)
                json.member("reviewOverdue", due < today)
            }
            json.member("hasPreliminaryAnalysis", state.hasPreliminaryAnalysis)
            json.member("hasInDepthAssessment", state.hasInDepthAssessment)
            json.member("signedPlan", !state.signedPlans.isEmpty)
            json.key("openInterventions")
            numbers(state.openInterventions, into: &json)
        }
    }

    /// `POST /v1/persons/events` and `/v1/persons/erasure`: the person, then the append's members.
    static func recordResult(_ result: RecordResult, receipts: [[UInt8]]? = nil) -> [UInt8] {
        var json = JSONBytes()
        json.object { json in
            json.member("person", result.person.description)
            json.member("stream", result.person.stream)
            json.member("codeTable", result.codeTable)
            appendResultMembers(result.append, receipts: receipts, into: &json)
        }
        return json.bytes
    }

    /// An object of members that come from data (a payload's fields), names escaped.
    static func members(_ members: [(key: String, value: JSON)], into json: inout JSONBytes) {
        json.object { json in
            for member in members {
                json.key(member.key)
                json.value(member.value)
            }
        }
    }

    static func numbers(_ values: some Sequence<UInt64>, into json: inout JSONBytes) {
        json.array { json in
            for value in values { json.number(value) }
        }
    }
}

/// `GET /v1/catalogue`: every event type with its schema, purpose, legal basis and retention —
/// the source of the register of processing activities (GDPR art. 30).
enum CatalogueDocument {
    static let bytes: [UInt8] = {
        var json = JSONBytes(capacity: 64 << 10)
        json.object { json in
            json.key("types")
            json.array { json in
                for schema in EventCatalogue.all { type(schema, into: &json) }
            }
        }
        return json.bytes
    }()

    private static func type(_ schema: EventSchema, into json: inout JSONBytes) {
        json.object { json in
            json.member("type", schema.type)
            json.member("label", schema.label)
            json.member("version", schema.version)
            json.member("purpose", schema.purpose.rawValue)
            json.member("legalBasis", schema.purpose.legalBasis)
            json.member("retention", schema.retention.rawValue)
            json.member("correction", schema.correction.rawValue)
            json.member("judicial", schema.judicial)
            json.member("writtenBy", EventCatalogue.systemKinds.contains(schema.kind) ? "daemon" : "client")
            json.key("fields")
            json.array { json in
                for field in schema.fields {
                    json.object { json in
                        json.member("name", field.name)
                        json.member("kind", kindName(field.kind))
                        json.member("required", field.required)
                        json.member("personal", field.personal)
                        if let condition = field.onlyWhen {
                            // Required when the other field holds the value, refused otherwise.
                            json.key("onlyWhen")
                            json.object { json in
                                json.member("field", condition.field)
                                json.member("value", condition.value)
                            }
                        }
                        limits(field.kind, into: &json)
                    }
                }
            }
        }
    }

    private static func kindName(_ kind: FieldKind) -> String {
        switch kind {
        case .text: "text"
        case .date: "date"
        case .integer: "integer"
        case .amount: "amount"
        case .boolean: "boolean"
        case .choice: "choice"
        case .code(let list): "code:" + list.rawValue
        case .entry: "entry"
        case .textList: "text_list"
        }
    }

    /// The members that say what a field of this kind admits.
    private static func limits(_ kind: FieldKind, into json: inout JSONBytes) {
        switch kind {
        case .choice(let values):
            json.key("values")
            json.array { json in
                for value in values { json.string(value) }
            }
        case .text(let maxLength): json.member("maxLength", maxLength)
        case .integer(let range):
            json.member("minimum", range.lowerBound)
            json.member("maximum", range.upperBound)
        case .textList(let maxCount, let maxLength):
            json.member("maxItems", maxCount)
            json.member("maxLength", maxLength)
        default: break
        }
    }
}
