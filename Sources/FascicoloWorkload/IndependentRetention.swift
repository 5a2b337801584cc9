import FascicoloCrypto
import FascicoloDomain
import FascicoloJSON
import FascicoloLedger

/// Who is due for erasure on a day, computed from the schedule's rules and the entries' own
/// payloads — not from `CaseState` nor `RetentionSchedule.due` — so that the domain's answer
/// can be checked against it (RetentionTests on a small population, `fascicolo-bench retention`
/// on 100,000 persons). The birth year is sealed since issue 21: opened with the person's key.
public enum IndependentRetention {
    /// Persons due on `date` (pseudonym in hex → whether a legal hold keeps them).
    public static func due(_ ledger: Ledger, files: CaseFiles, schedule: RetentionSchedule, on date: CalendarDate) throws
        -> [String: Bool]
    {
        let reference = files.reference.current
        var streams: [String] = []
        try ledger.read { log in
            try log.forEachStream(withPrefix: "person:") { name, _ in
                streams.append(String(decoding: name, as: UTF8.self))
                return true
            }
        }
        var due: [String: Bool] = [:]
        for stream in streams {
            guard let person = Pseudonym.owning(stream: stream) else { continue }
            let entries = try ledger.readStream(stream, from: 1, limit: 1_000_000)
            let payloads = entries.map { try? JSON.parse($0.payload) }
            let voided = Set(zip(entries, payloads).filter { $0.0.eventType == "Voided" }.compactMap { $0.1?["data"]?["target"]?.int })
            let key = try files.keys.key(for: person)
            func sealedField(_ index: Int, _ name: String) -> JSON? {
                guard let key, let text = payloads[index]?["sealed"]?.string, let sealed = Base64.decode(text),
                    let opened = key.open(
                        sealed, associatedData: StoredEvent.sealAssociatedData(stream: stream, type: entries[index].eventType))
                else { return nil }
                return (try? JSON.parse(opened))?[name]
            }
            var open = false
            var hadCase = false
            var deceased = false
            var end: CalendarDate?
            var lastDay: CalendarDate?
            var lastDelivery: CalendarDate?
            var judicial = false
            var birthYear: Int?
            var holds: Set<Int> = []
            var erased = false
            for (index, entry) in entries.enumerated() where !voided.contains(index + 1) {
                let data = payloads[index]?["data"]
                let occurred = payloads[index]?["occurredAt"]?.string.flatMap { CalendarDate(String($0.prefix(10))) }
                let day =
                    entry.eventType == "AppointmentScheduled" ? occurred : data?["date"]?.string.flatMap(CalendarDate.init) ?? occurred
                if let day, lastDay.map({ day > $0 }) ?? true { lastDay = day }
                func endOn(_ day: CalendarDate?) {
                    guard let day else { return }
                    end = end.map { min($0, day) } ?? day
                }
                switch entry.eventType {
                case "PersonRegistered": birthYear = (data?["birthYear"] ?? sealedField(index, "birthYear"))?.int
                case "Rectified" where data?["field"]?.string == "birthYear":
                    birthYear = (data?["newValue"] ?? sealedField(index, "newValue"))?.string.flatMap { Int($0) }
                case "CaseOpened", "CaseTransferredIn":
                    (open, hadCase, end) = (true, true, nil)
                case "CaseReopened" where !open:
                    (open, end) = (true, nil)
                case "InterventionRequested" where !hadCase && !open:
                    if let code = data?["code"]?.string, reference.interventions[code]?.emergency == true {
                        (open, hadCase, end) = (true, true, nil)
                    }
                case "CaseTransferredOut":
                    let here = data?["toAmbito"]?.string.map { reference.labels[.ambiti]?[$0] != nil } ?? false
                    if !here { open = false }
                    endOn(day)
                case "CaseClosed":
                    open = false
                    endOn(day)
                case "PersonDied":
                    deceased = true
                    if hadCase { endOn(day) }
                case "JudicialMeasureRecorded": judicial = true
                case "ServiceDelivered": if let day, lastDelivery.map({ day > $0 }) ?? true { lastDelivery = day }
                case "LegalHoldPlaced": holds.insert(index + 1)
                case "LegalHoldReleased": if let hold = data?["hold"]?.int { holds.remove(hold) }
                case "ErasureExecuted": erased = true
                default: break
                }
            }
            // A transfer to an ambito here keeps the case open until the transfer in.
            let stillOpen =
                (open || (hadCase && end != nil && awaitingTransferIn(entries, payloads, voided, reference: reference))) && !deceased
            if erased || stillOpen { continue }
            var ends: [CalendarDate] = []
            func add(_ scope: String, _ start: CalendarDate?) {
                if let start, let rule = schedule.caseRecord(scope) { ends.append(start.adding(months: rule.months)) }
            }
            if hadCase {
                add("default", end)
                if judicial || (birthYear.map { by in end.map { $0.year - by < 18 } ?? false } ?? false) { add("minors_protection", end) }
            } else {
                add("no_case", lastDay)
            }
            add("economic_benefits", lastDelivery)
            guard let dueOn = ends.max(), dueOn <= date else { continue }
            due[String(stream.dropFirst("person:".count))] = !holds.isEmpty
        }
        return due
    }

    /// Whether the last counting opening or closing entry is a transfer out to an ambito here.
    static func awaitingTransferIn(_ entries: [Entry], _ payloads: [JSON?], _ voided: Set<Int>, reference: ReferenceTable) -> Bool {
        let moves: Set<String> = ["CaseOpened", "CaseTransferredIn", "CaseReopened", "CaseTransferredOut", "CaseClosed"]
        guard let last = entries.indices.last(where: { !voided.contains($0 + 1) && moves.contains(entries[$0].eventType) }),
            entries[last].eventType == "CaseTransferredOut"
        else { return false }
        return payloads[last]?["data"]?["toAmbito"]?.string.map { reference.labels[.ambiti]?[$0] != nil } ?? false
    }
}
