import FascicoloLedger

/// Why a person's data may not be erased now (issue 21): a LegalHoldPlaced entry in force, or
/// the person's open case file.
///
/// A LegalHoldPlaced in force blocks an erasure at the person's request (`art17_request`) and
/// at the end of a retention period (`retention_ended`); an erasure for `unlawful_processing` or
/// by `court_order` is an authority's decision and is not blocked. An open case file blocks
/// `retention_ended` only (a retention period starts when the case closes): whether an art. 17
/// request on a case still in progress falls under art. 17(3)(b) is the data protection
/// officer's decision, which the erasure then records — the daemon cannot make it.
public struct LegalHold: Sendable, Equatable {
    /// The grounds of a LegalHoldPlaced entry.
    public static let grounds = ["judicial_measure", "litigation", "inspection", "open_case"]
    /// The erasure grounds a hold blocks.
    public static let blockedErasureGrounds: Set<String> = ["art17_request", "retention_ended"]

    public let ground: String
    /// The hold's reference (the measure's or the case's number), as stored in clear; for an
    /// open case file, the ambito holding it and the day it opened.
    public let reference: String
    /// The LegalHoldPlaced entry's stream version; nil for an open case file.
    public let version: UInt64?

    /// The English sentence of a refused erasure: the ground and reference, codes and stored
    /// values only (nothing of the erasure request).
    public var refusal: String {
        "the person's data are under a legal hold (ground \(ground), reference \(reference)); "
            + "they cannot be erased by a request or by retention until the hold is released"
    }
}

extension CaseState {
    /// Whether the case file is open: opened, taken in charge, suspended, or on its way to
    /// another ambito — and the person alive (a death ends the path, closed or not). An open
    /// case file is a hold of its own (ground `open_case`): its data are in use for the service
    /// the person receives.
    public var caseIsOpen: Bool {
        switch phase {
        case .opened, .takenInCharge, .suspended, .transferredOut: !deceased
        case .noCase, .closed: false
        }
    }
}

extension CaseFiles {
    /// The holds in force on `person`: the LegalHoldPlaced entries not released, oldest first,
    /// then (`includingOpenCase`) the open case file, if any.
    func legalHolds(of person: Pseudonym, history: CaseHistory, includingOpenCase: Bool = true) throws -> [LegalHold] {
        var holds: [LegalHold] = []
        for version in history.state.legalHolds {
            guard let entry = try ledger.readStream(person.stream, from: version, limit: 1).first,
                let stored = StoredEvent(payload: entry.payload)
            else { continue }
            func value(_ name: String) -> String { stored.data.first { $0.key == name }?.value.string ?? "" }
            holds.append(LegalHold(ground: value("ground"), reference: value("reference"), version: version))
        }
        if includingOpenCase && history.state.caseIsOpen {
            let ambito = history.state.ambito ?? "?"
            let since = history.state.periods.last?.start.map { " since \($0)" } ?? ""
            holds.append(LegalHold(ground: "open_case", reference: "case file of \(ambito)\(since)", version: nil))
        }
        return holds
    }

    /// The holds in force on the person named by `identifier` (empty when none, or unknown).
    public func legalHolds(_ identifier: PersonIdentifier) throws(DomainError) -> [LegalHold] {
        do {
            let person = try pseudonym(for: identifier)
            let history = try self.history(of: person)
            return try legalHolds(of: person, history: history)
        } catch let error as DomainError {
            throw error
        } catch {
            throw storageFailure(error)
        }
    }
}
