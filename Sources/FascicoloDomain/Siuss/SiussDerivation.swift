import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger

/// One SIUSS record derived from a person's entries, before the codice fiscale is put in it.
public struct SiussRecord: Sendable, Equatable {
    public init(section: String, id: String, source: UInt64, values: [SiussLayout.Source: String]) {
        self.section = section
        self.id = id
        self.source = source
        self.values = values
    }

    /// The layout section (`SiussLayout.Section.name`).
    public let section: String
    /// `P<position>M<yyyymm>` (a prestazione's month) or `V<position>` (a signed plan): the
    /// position is the log position of the InterventionRequested or PlanSigned entry.
    public let id: String
    /// The log position of that entry (the prestazione, or the plan).
    public let source: UInt64
    /// By `SiussLayout.Source` (but `operation`, `recordId` and `codiceFiscale`).
    public var values: [SiussLayout.Source: String]
    /// Within the export's window (a plan signed before it is derived, to know it still stands,
    /// but sent only by an export whose window covers it).
    public var inWindow = true

    /// What identifies the record's content in the log: the first 16 hex digits of the SHA-256 of
    /// its values in layout order **without** the codice fiscale (a digest over it would be a
    /// guessable hash of a codice fiscale in clear). A different digest is a rectification.
    func contentDigest(_ section: SiussLayout.Section) -> String {
        var text = ""
        for field in section.fields where ![.operation, .codiceFiscale].contains(field.source) {
            text += field.source == .recordId ? id : values[field.source] ?? ""
            text += "\u{1F}"
        }
        return String(SHA256.hash(Array(text.utf8)).hex.prefix(16))
    }

    /// The period (`yyyymm`) of a prestazione's record id; nil for a plan's.
    static func period(ofID id: String) -> String? {
        guard id.hasPrefix("P"), let marker = id.lastIndex(of: "M") else { return nil }
        return String(id[id.index(after: marker)...])
    }

    /// The log position in a record id.
    static func source(ofID id: String) -> UInt64? {
        let digits = id.dropFirst().prefix { $0 != "M" }
        return UInt64(digits)
    }
}

/// The SIUSS records of one person's stream: a pure function of its entries (read with the
/// reference data they recorded), so that the same entries always give the same records.
///
/// - **PS/PSA** (`benefits` sections): each InterventionRequested not voided, once started
///   (InterventionStarted), gives one record per calendar month from its start to its end (or
///   to the export's last day while it runs), with the days it ran that month, the deliveries
///   (ServiceDelivered, not voided) of that month up to the last day, their minutes and amounts.
/// - **SINBA / SINA / SIP** (`assessment` sections): each PlanSigned not voided that follows an
///   InDepthAssessmentCompleted not voided (the multidimensional assessment) gives one record in
///   the section whose areas hold the case's user area; sent when the plan is signed in the window.
/// - A Rectified entry of a field kept in clear (a date, a code, an amount) changes the value
///   read; a Voided entry takes its target out. Sealed fields are never read here: the sex, sealed
///   in registrations since erasure must destroy it, is opened by the export for the records it sends.
struct SiussDerivation {
    let layout: SiussLayout
    let reference: ReferenceData
    let from: CalendarDate
    let to: CalendarDate

    struct Result {
        var records: [SiussRecord] = []
        /// Log positions of the person's prestazioni and plans that are voided (their records,
        /// wherever sent, are cancelled).
        var voidedSources: Set<UInt64> = []
        /// Every prestazione and plan position of the person (to find whose a sent record is).
        var sources: Set<UInt64> = []
    }

    private struct Read {
        let entry: Entry
        let stored: StoredEvent
        let kind: EventKind
        var data: [(key: String, value: JSON)]
    }

    func records(of entries: [Entry]) -> Result {
        var reads: [UInt64: Read] = [:]
        var order: [UInt64] = []
        var voided: Set<UInt64> = []
        var rectified: [UInt64: [String: String]] = [:]
        for entry in entries {
            guard let stored = StoredEvent(payload: entry.payload) else { continue }
            let kind = EventKind(entry.eventType)
            let schema = EventCatalogue.schema(kind)
            let data = schema?.upcast(.object(stored.data), from: stored.schemaVersion)?.members ?? stored.data
            reads[entry.streamVersion] = Read(entry: entry, stored: stored, kind: kind, data: data)
            order.append(entry.streamVersion)
        }
        // Voids and rectifications first: they change what the entries before them say.
        for version in order {
            guard let read = reads[version] else { continue }
            if read.kind == .voided, let target = value(read.data, "target").flatMap(UInt64.init) { voided.insert(target) }
        }
        for version in order where !voided.contains(version) {
            guard let read = reads[version], read.kind == .rectified, let target = value(read.data, "target").flatMap(UInt64.init),
                let field = value(read.data, "field"), let newValue = value(read.data, "newValue")
            else { continue }
            rectified[target, default: [:]][field] = newValue
        }
        func field(_ version: UInt64, _ name: String) -> String? {
            if let corrected = rectified[version]?[name] { return corrected }
            return reads[version].flatMap { value($0.data, name) }
        }
        func date(_ version: UInt64) -> CalendarDate? {
            (field(version, "date") ?? reads[version].map { String($0.stored.occurredAt.prefix(10)) }).flatMap(CalendarDate.init)
        }

        var result = Result()
        var registration: UInt64?
        var area: String?
        var ambito: String?
        var assessment: UInt64?
        struct Prestazione {
            var request: UInt64
            var ambito: String?
            var start: CalendarDate?
            var end: CalendarDate?
            var deliveries: [(day: CalendarDate, minutes: Int, cents: Int)] = []
        }
        var prestazioni: [UInt64: Prestazione] = [:]
        var plans: [(version: UInt64, assessment: UInt64, area: String?, ambito: String?)] = []
        for version in order {
            guard let read = reads[version] else { continue }
            let counts = !voided.contains(version)
            switch read.kind {
            case .personRegistered where counts: registration = version
            case .caseOpened where counts, .caseTransferredIn where counts:
                area = field(version, "area") ?? area
                ambito = field(version, "ambito") ?? ambito
            case .interventionRequested:
                result.sources.insert(read.entry.position)
                if !counts { result.voidedSources.insert(read.entry.position) }
                prestazioni[version] = Prestazione(request: version, ambito: field(version, "ambito") ?? ambito)
            case .interventionStarted where counts:
                if let target = field(version, "intervention").flatMap(UInt64.init), prestazioni[target] != nil {
                    prestazioni[target]!.start = date(version)
                }
            case .interventionEnded where counts:
                // An end the daemon wrote with a closure counts only while that closure does.
                if let closing = field(version, "endedWith").flatMap(UInt64.init), voided.contains(closing) { break }
                if let target = field(version, "intervention").flatMap(UInt64.init), prestazioni[target] != nil {
                    prestazioni[target]!.end = date(version)
                }
            case .serviceDelivered where counts:
                if let target = field(version, "intervention").flatMap(UInt64.init), prestazioni[target] != nil, let day = date(version) {
                    let minutes = field(version, "minutes").flatMap(Int.init) ?? 0
                    let cents = field(version, "amount").flatMap(Self.cents) ?? 0
                    prestazioni[target]!.deliveries.append((day, minutes, cents))
                }
            case .inDepthAssessmentCompleted where counts: assessment = version
            case .planSigned:
                result.sources.insert(read.entry.position)
                if let assessment, counts {
                    plans.append((version, assessment, area, ambito))
                } else if !counts {
                    result.voidedSources.insert(read.entry.position)
                }
            default: break
            }
        }

        for section in layout.sections {
            switch section.kind {
            case .benefits:
                for prestazione in prestazioni.values.sorted(by: { $0.request < $1.request }) {
                    guard let request = reads[prestazione.request], !voided.contains(prestazione.request) else { continue }
                    result.records += benefitRecords(
                        prestazione.start, prestazione.end, prestazione.deliveries, request: request,
                        code: field(prestazione.request, "code"), fundingLine: field(prestazione.request, "fundingLine"),
                        ambito: prestazione.ambito, section: section)
                }
            case .assessment:
                for plan in plans {
                    guard let planRead = reads[plan.version], let planDate = date(plan.version), planDate <= to,
                        let area = plan.area, section.areas.contains(area)
                    else { continue }
                    var values: [SiussLayout.Source: String] = [
                        .codiceEnte: plan.ambito.flatMap { layout.enti[$0] } ?? "",
                        .assessmentDate: date(plan.assessment)?.description ?? "",
                        .instrument: field(plan.assessment, "instrument") ?? "",
                        .planDate: planDate.description, .area: area,
                    ]
                    if let registration {
                        values[.birthYear] = field(registration, "birthYear") ?? ""
                        values[.sex] = field(registration, "sex") ?? ""
                    }
                    var record = SiussRecord(
                        section: section.name, id: "V\(planRead.entry.position)", source: planRead.entry.position, values: values)
                    record.inWindow = planDate >= from
                    result.records.append(record)
                }
            }
        }
        return result
    }

    /// One record per month the prestazione ran within [from, to].
    private func benefitRecords(
        _ start: CalendarDate?, _ end: CalendarDate?, _ deliveries: [(day: CalendarDate, minutes: Int, cents: Int)],
        request: Read, code: String?, fundingLine: String?, ambito: String?, section: SiussLayout.Section
    ) -> [SiussRecord] {
        guard let start, start <= to else { return [] }
        let last = min(end ?? to, to)
        guard last >= from, last >= start else { return [] }
        let table = reference.versions[request.stored.codeTable] ?? reference.current
        let siuss = code.flatMap { table.interventions[$0]?.siuss ?? reference.current.interventions[$0]?.siuss } ?? ""
        var records: [SiussRecord] = []
        var month = Self.firstOfMonth(max(start, from))
        while month <= last {
            let monthEnd = Self.lastOfMonth(month)
            let periodStart = max(start, month)
            let periodEnd = min(end ?? monthEnd, monthEnd)
            let inMonth = deliveries.filter { $0.day >= month && $0.day <= min(monthEnd, to) }
            let period = String(month.description.prefix(4) + month.description.dropFirst(5).prefix(2))
            records.append(
                SiussRecord(
                    section: section.name, id: "P\(request.entry.position)M\(period)", source: request.entry.position,
                    values: [
                        .codiceEnte: ambito.flatMap { layout.enti[$0] } ?? "",
                        .prestazione: siuss, .localCode: code ?? "", .fundingLine: fundingLine ?? "",
                        .period: period, .startDate: periodStart.description, .endDate: periodEnd.description,
                        .deliveries: String(inMonth.count), .minutes: String(inMonth.reduce(0) { $0 + $1.minutes }),
                        .amount: Self.euro(inMonth.reduce(0) { $0 + $1.cents }), .isee: "",
                    ]))
            month = CalendarDate(daysSinceEpoch: monthEnd.daysSinceEpoch + 1)
        }
        return records
    }

    private func value(_ data: [(key: String, value: JSON)], _ key: String) -> String? {
        guard let value = data.first(where: { $0.key == key })?.value else { return nil }
        switch value {
        case .string(let text): return text
        case .number(let text): return text
        case .bool(let flag): return flag ? "true" : "false"
        default: return nil
        }
    }

    static func firstOfMonth(_ day: CalendarDate) -> CalendarDate {
        CalendarDate(daysSinceEpoch: day.daysSinceEpoch - day.day + 1)
    }

    static func lastOfMonth(_ day: CalendarDate) -> CalendarDate {
        // The first of a month plus 31 days is always in the next month.
        let next = firstOfMonth(CalendarDate(daysSinceEpoch: firstOfMonth(day).daysSinceEpoch + 31))
        return CalendarDate(daysSinceEpoch: next.daysSinceEpoch - 1)
    }

    /// "120.5" / "120.50" / "120" → 12050.
    static func cents(_ text: String) -> Int? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = Int(parts[0]) else { return nil }
        guard parts.count == 2 else { return whole * 100 }
        let fraction = parts[1]
        guard (1...2).contains(fraction.count), let value = Int(fraction) else { return nil }
        return whole * 100 + (fraction.count == 1 ? value * 10 : value)
    }

    /// 12050 → "120,50" (the layout's decimal comma).
    static func euro(_ cents: Int) -> String {
        let fraction = cents % 100
        return "\(cents / 100)," + (fraction < 10 ? "0" : "") + String(fraction)
    }
}
