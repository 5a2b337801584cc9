import FascicoloLedger

/// A person whose retention period has ended on a given day (issue 21), and why: the schedule's
/// rule, the day it ran from and the day it ended. Pseudonyms only, never personal data.
public struct RetentionDue: Sendable {
    public let person: Pseudonym
    public let rule: RetentionSchedule.Rule
    public let startedOn: CalendarDate
    public let dueOn: CalendarDate
    /// A legal hold in force: the person is due but may not be erased.
    public let heldBy: LegalHold?
}

/// One pass over persons in pseudonym order: those due among them, and where to go on.
public struct RetentionScan: Sendable {
    public let schedule: String
    public let due: [RetentionDue]
    /// Persons looked at.
    public let scanned: Int
    /// Where the next pass starts (persons to skip, in pseudonym order), when persons remain.
    /// A cursor by count, so that no pseudonym travels in a URL: a person registered meanwhile
    /// may shift it by one, which costs a person looked at twice or once less — never an
    /// erasure that should not be (erasure is checked again for each person).
    public let next: Int?
}

/// What `applyRetention` did with one batch.
public struct RetentionBatch: Sendable {
    public let erased: [RetentionDue]
    /// Due but held (or refused when erased: a hold placed meanwhile).
    public let held: Int
    public let scanned: Int
    public let next: Int?
}

extension RetentionSchedule {
    /// The rule that keeps a file longest among those that apply, with the day it ran from and
    /// the day it ends; nil while the file has no end yet (an open case, an erased person).
    ///
    /// A closed case file is kept `default` from its last closure (the end of its last open
    /// period: a closure, a transfer to another region, a death), or `minors_protection` when the
    /// path has a JudicialMeasureRecorded or the person was under 18 in the closure's year; a
    /// person who never had a case file is kept `no_case` from their last entry; a path with
    /// deliveries is also kept `economic_benefits` from the last one.
    public func due(_ state: CaseState, facts: [CaseFact]) -> (rule: Rule, startedOn: CalendarDate, dueOn: CalendarDate)? {
        guard state.registered, !state.erased, !state.caseIsOpen else { return nil }
        var candidates: [(Rule?, CalendarDate?)] = []
        let counting = facts.filter { state.counts($0.version) }
        if state.periods.isEmpty {
            candidates.append((caseRecord("no_case"), counting.compactMap(\.day).max()))
        } else {
            let closedOn = state.periods.last?.end ?? counting.compactMap(\.day).max()
            candidates.append((caseRecord("default"), closedOn))
            let judicial = counting.contains { $0.kind == .judicialMeasureRecorded }
            let minor = state.birthYear.map { birthYear in closedOn.map { $0.year - birthYear < 18 } ?? false } ?? false
            if judicial || minor { candidates.append((caseRecord("minors_protection"), closedOn)) }
        }
        if let delivered = counting.filter({ $0.kind == .serviceDelivered }).compactMap(\.day).max() {
            candidates.append((caseRecord("economic_benefits"), delivered))
        }
        var best: (rule: Rule, startedOn: CalendarDate, dueOn: CalendarDate)?
        for case (let rule?, let start?) in candidates {
            let end = start.adding(months: rule.months)
            if best.map({ end > $0.dueOn }) ?? true { best = (rule, start, end) }
        }
        return best
    }
}

extension CaseFiles {
    /// The retention schedule in force; nil when the reference data have none.
    public var retentionSchedule: RetentionSchedule? { reference.retention }

    /// The persons due for erasure on `date` (their period ended on or before it), looking at
    /// up to `scanMax` persons after the first `skip` in pseudonym order.
    public func retentionDue(on date: CalendarDate, skip: Int, scanMax: Int) throws(DomainError) -> RetentionScan {
        guard let schedule = reference.retention else {
            throw DomainError(.notFound, code: "no_retention_schedule", "the reference data have no retention schedule")
        }
        do {
            let (persons, more) = try self.persons(skip: skip, limit: scanMax)
            var due: [RetentionDue] = []
            for person in persons {
                let history = try self.history(of: person)
                guard let found = schedule.due(history.state, facts: history.facts), found.dueOn <= date else { continue }
                let held = history.state.legalHolds.isEmpty ? nil : try legalHolds(of: person, history: history).first
                due.append(RetentionDue(person: person, rule: found.rule, startedOn: found.startedOn, dueOn: found.dueOn, heldBy: held))
            }
            return RetentionScan(schedule: schedule.version, due: due, scanned: persons.count, next: more ? skip + persons.count : nil)
        } catch let error as DomainError {
            throw error
        } catch {
            throw storageFailure(error)
        }
    }

    /// Erases, with ground `retention_ended`, the persons due on `date` among the next `scanMax`
    /// after the first `skip`, then rotates `records.key` once for the batch.
    /// Held persons are left. Erasure is idempotent for this purpose: an erased person is no
    /// longer due, so a batch run again after a crash erases only what it had not.
    public func applyRetention(
        on date: CalendarDate, skip: Int, scanMax: Int, author: String
    ) async throws(DomainError) -> RetentionBatch {
        let scan = try retentionDue(on: date, skip: skip, scanMax: scanMax)
        var erased: [RetentionDue] = []
        var held = 0
        for due in scan.due {
            if due.heldBy != nil {
                held += 1
                continue
            }
            let reference = "retention schedule \(scan.schedule), \(due.rule.retentionClass)/\(due.rule.scope), due \(due.dueOn)"
            do {
                _ = try await eraseKeepingRecordsKey(due.person, legalGround: "retention_ended", reference: reference, author: author)
                erased.append(due)
            } catch  where error.code == "legal_hold" || error.code == "person_erased" {
                held += error.code == "legal_hold" ? 1 : 0
            }
        }
        if !erased.isEmpty { try await rotateRecordsKey() }
        return RetentionBatch(erased: erased, held: held, scanned: scan.scanned, next: scan.next)
    }

    /// Persons (their case-file streams) after the first `skip`, in pseudonym order: at most
    /// `limit`, and whether more follow.
    func persons(skip: Int, limit: Int) throws -> (persons: [Pseudonym], more: Bool) {
        let prefixCount = Pseudonym.personPrefix.utf8.count
        var persons: [Pseudonym] = []
        var more = false
        var skipped = 0
        try ledger.read { log in
            try log.forEachStream(withPrefix: Pseudonym.personPrefix) { name, _ in
                if skipped < skip {
                    skipped += 1
                    return true
                }
                guard let person = Pseudonym(hexUTF8: UnsafeRawBufferPointer(rebasing: name[prefixCount...])) else { return true }
                if persons.count == limit {
                    more = true
                    return false
                }
                persons.append(person)
                return true
            }
        }
        return (persons, more)
    }
}
