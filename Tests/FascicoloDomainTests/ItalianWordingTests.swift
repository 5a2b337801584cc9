import Testing

@testable import FascicoloDomain

/// What an operator reads: the Italian refusals and labels name entries by their Italian term,
/// never by the catalogue's English type names.
@Suite struct ItalianWordingTests {
    static let typeNames = EventCatalogue.all.map(\.type)

    /// Every refusal of the path rules, the parameterised ones with every catalogue type. A new
    /// rule belongs in this list.
    static var everyRefusal: [PathRuleViolation] {
        var rules: [PathRuleViolation] = [
            Rule.personNotRegistered, Rule.alreadyRegistered, Rule.personErased, Rule.alreadyLinked, Rule.noOpenCase,
            Rule.caseAlreadyOpen, Rule.notTakenInCharge, Rule.alreadyTakenInCharge, Rule.noSignedPlan, Rule.caseClosed,
            Rule.caseTransferred, Rule.caseSuspended, Rule.caseNotClosed, Rule.sameAmbito, Rule.transferMismatch,
            Rule.unknownTarget, Rule.targetVoided, Rule.targetNotCounting, Rule.outcomeWithoutReference,
            Rule.alreadyRestricted, Rule.notRestricted, Rule.closureAfterDeath, Rule.holdNotInForce,
        ]
        let day = CalendarDate(daysSinceEpoch: 20_500)
        let other = CalendarDate(daysSinceEpoch: 20_400)
        rules += [
            Rule.dateBeforeCaseOpened(day, openedOn: other), Rule.dateBeforeTakenInCharge(day, takenInChargeOn: other),
            Rule.dateBeforeReferencedEntry(day, referencedOn: other), Rule.dateBeforeInterventionStarted(day, startedOn: other),
            Rule.dateAfterInterventionEnded(day, endedOn: other), Rule.dateAfterClosure(day, closedOn: other),
            Rule.dateAfterSuspension(day, suspendedOn: other), Rule.dateBeforeClosure(day, closedOn: other),
            Rule.dateBeforeSuspension(day, suspendedOn: other), Rule.dateOutsideOpenPeriods(day),
            Rule.dateAfterDeath(day, diedOn: other), Rule.dateInFuture(day, today: other),
            Rule.personDeceased(on: day), Rule.personDeceased(on: nil), Rule.cameOfAgeUnder18(closedOn: day, birthYear: 2010),
        ]
        let fact = CaseFact(version: 1, type: "GoalSet")
        rules += [Rule.appointmentConcluded(fact), Rule.planNotSigned(fact), Rule.goalClosed(fact)]
        rules += [nil, .requested, .active, .suspended, .ended].map { Rule.interventionStep(current: $0) }
        var everyKind = EventKinds()
        for kind in EventKind.allCases { everyKind.insert(kind) }
        for type in EventKind.allCases {
            rules.append(Rule.wrongTarget(found: type, expected: everyKind))
            rules.append(Rule.unknownField(type: type))
            for correction in [CorrectionKind.rectified, .voided, .superseded, .replacedByNext, .none] {
                for attempted in [CorrectionKind.rectified, .voided] {
                    rules.append(Rule.notCorrectable(type: type, correction: correction, attempted: attempted))
                }
            }
        }
        return rules
    }

    @Test func noItalianRefusalContainsAnEnglishTypeName() {
        for rule in Self.everyRefusal {
            for name in Self.typeNames {
                #expect(!rule.italian.contains(name), "\(rule.code): \(rule.italian)")
            }
        }
    }

    @Test func theDaemonsOwnFieldIsRefusedInItalian() {
        let error = CaseFiles.systemField(field: "events[0].data.endedWith")
        let italian = error.messageItalian ?? ""
        #expect(!italian.isEmpty)
        for name in Self.typeNames { #expect(!italian.contains(name), "\(italian)") }
        #expect(!italian.contains("endedWith"))
    }

    @Test func refusalsNameEntriesByTheirItalianTerm() {
        let wrong = Rule.wrongTarget(found: .interventionStarted, expected: EventKinds(.goalSet, .interventionRequested))
        #expect(
            wrong.italian == "La voce indicata è «attivazione dell'intervento», non «obiettivo / risultato atteso» o «sostegno disposto».")
        #expect(Rule.unknownField(type: .takenInCharge).italian == "Il campo rettificato non è un campo della voce «presa in carico».")
        #expect(
            Rule.notCorrectable(type: .planSigned, correction: .replacedByNext, attempted: .rectified).italian
                == "La voce «sottoscrizione del patto» si corregge con una nuova voce «sottoscrizione del patto».")
    }

    @Test func catalogueLabelsAreItalianTerms() {
        for schema in EventCatalogue.all {
            #expect(!schema.label.isEmpty)
            for name in Self.typeNames { #expect(!schema.label.contains(name), "\(schema.type): \(schema.label)") }
        }
    }
}
