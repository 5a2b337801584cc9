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
            Rule.alreadyRestricted, Rule.notRestricted,
        ]
        let fact = CaseFact(version: 1, type: "GoalSet")
        rules += [Rule.appointmentConcluded(fact), Rule.planNotSigned(fact), Rule.goalClosed(fact)]
        rules += [nil, .requested, .active, .suspended, .ended].map { Rule.interventionStep(current: $0) }
        for type in typeNames + ["SomethingElse"] {
            rules.append(Rule.wrongTarget(found: type, expected: typeNames))
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

    @Test func refusalsNameEntriesByTheirItalianTerm() {
        let wrong = Rule.wrongTarget(found: "InterventionStarted", expected: ["GoalSet", "InterventionRequested"])
        #expect(
            wrong.italian == "La voce indicata è «attivazione dell'intervento», non «obiettivo / risultato atteso» o «sostegno disposto».")
        #expect(Rule.unknownField(type: "TakenInCharge").italian == "Il campo da rettificare non fa parte della voce «presa in carico».")
        #expect(
            Rule.notCorrectable(type: "PlanSigned", correction: .replacedByNext, attempted: .rectified).italian
                == "Una voce «sottoscrizione del patto» si corregge con una nuova voce «sottoscrizione del patto».")
    }

    @Test func catalogueLabelsAreItalianTerms() {
        for schema in EventCatalogue.all {
            #expect(!schema.label.isEmpty)
            for name in Self.typeNames { #expect(!schema.label.contains(name), "\(schema.type): \(schema.label)") }
        }
    }
}
