import FascicoloTesting
import Glibc
import Testing

@testable import FascicoloDomain

// Property tests of the case lifecycle (`CaseState.apply` / `CaseState.fold`) against an
// independent model written here from DOMAIN.md ("Path rules worth enforcing at append time" and
// the catalogue's correction column) and CaseState's documented intent — not from its code.
//
// Every random sequence comes from a SplitMix64 generator. A failure names the seed of the
// sequence; `FASCICOLO_SEED=<that seed>` replays it as sequence 0 of the same property.

// MARK: - The properties

@Suite struct CaseLifecyclePropertyTests {
    private let interpretation = Interpretation.believed

    @Test func modelTablesMatchTheCatalogue() {
        // RecordAccessed and SiussExported are never entries of a person's stream.
        for schema in EventCatalogue.all where !["RecordAccessed", "PersonRegistered", "SiussExported"].contains(schema.type) {
            #expect(phaseTable[schema.type] != nil, "the model has no row for \(schema.type)")
        }
        for schema in EventCatalogue.all {
            #expect((schema.correction == .rectified) == rectifiable.contains(schema.type), "\(schema.type): \(schema.correction)")
            #expect((schema.correction == .voided) == voidable.contains(schema.type), "\(schema.type): \(schema.correction)")
            // InterventionEnded's `endedWith` is the daemon's (the closure an automatic end depends on), not a path reference.
            let entryFields = schema.fields.filter { if case .entry = $0.kind { $0.name != "endedWith" } else { false } }.map(\.name)
            #expect(entryFields == (referenceSpec[schema.type].map { [$0.field] } ?? []), "\(schema.type)'s entry reference")
        }
    }

    /// 1. Random walks: the model and CaseState agree on every candidate, and on the state after it.
    @Test func randomWalksAgreeWithTheModel() {
        let clock = ContinuousClock()
        let start = clock.now
        let base = baseSeed(1)
        var findings = Findings("random walks", base: base, interpretation)
        var codes: Set<String> = []
        for index in 0..<2_000 {
            let seed = sequenceSeed(base, index)
            var random = SeededGenerator(seed: seed)
            var model = LifecycleModel(interpretation)
            var live = Live()
            findings.sequences += 1
            walk: for _ in 0..<60 {
                var fact = candidate(random.pick(weightedTypes), after: model, &random)
                if random.chance(50) {
                    for _ in 0..<10 where model.verdict(fact) != nil {
                        fact = candidate(random.pick(weightedTypes), after: model, &random)
                    }
                }
                findings.steps += 1
                let expected = model.verdict(fact)
                let actual = live.verdict(fact)
                if let actual {
                    codes.insert(actual.code)
                    if !checkSentences(actual) {
                        findings.add("\(actual.code) lacks a sentence", seed: seed, facts: live.facts, "\(actual)")
                    }
                }
                if (expected == nil) != (actual == nil) {
                    findings.add(
                        "\(fact.type): model \(describe(expected)), CaseState \(describe(actual))", seed: seed, facts: live.facts + [fact],
                        "model \(describe(expected)), CaseState \(describe(actual))")
                    break walk
                }
                guard expected == nil else { continue }
                _ = model.append(fact)
                _ = live.append(fact)
                let differences = Snapshot(model).differences(from: Snapshot(live.state))
                if !differences.isEmpty {
                    let fields = differences.map { String($0.prefix { $0 != ":" }) }.joined(separator: ",")
                    findings.add(
                        "state after \(fact.type) differs in \(fields)", seed: seed, facts: live.facts,
                        "model ≠ CaseState: " + differences.joined(separator: "; "))
                    break walk
                }
            }
        }
        findings.report(clock.now - start)
        // The walks reach the named rules.
        for code in [
            "person_not_registered", "no_open_case", "not_taken_in_charge", "no_signed_plan", "case_closed",
            "transfer_mismatch", "outcome_without_reference", "intervention_step", "target_voided", "not_correctable",
        ] {
            #expect(codes.contains(code), "no random walk met \(code)")
        }
    }

    /// 2. Every step the model calls legal, CaseState accepts (and ends in the same state).
    @Test func alwaysAcceptsALegalStep() {
        let clock = ContinuousClock()
        let start = clock.now
        let base = baseSeed(2)
        var findings = Findings("legal walks", base: base, interpretation)
        var accepted: [String: Int] = [:]
        var phases: [String: Int] = [:]
        for index in 0..<2_000 {
            let seed = sequenceSeed(base, index)
            var random = SeededGenerator(seed: seed)
            var model = LifecycleModel(interpretation)
            var live = Live()
            findings.sequences += 1
            walk: for _ in 0..<40 {
                guard let fact = legalStep(after: model, &random, voids: true) else { break }
                findings.steps += 1
                accepted[fact.type, default: 0] += 1
                _ = model.append(fact)
                phases[model.phase.rawValue, default: 0] += 1
                if let refusal = live.append(fact) {
                    findings.add(
                        "legal \(fact.type) refused (\(refusal.code))", seed: seed, facts: live.facts + [fact],
                        "CaseState refuses the last step: \(refusal.code) — \(refusal.english)")
                    break walk
                }
                let differences = Snapshot(model).differences(from: Snapshot(live.state))
                if !differences.isEmpty {
                    let fields = differences.map { String($0.prefix { $0 != ":" }) }.joined(separator: ",")
                    findings.add(
                        "state after \(fact.type) differs in \(fields)", seed: seed, facts: live.facts,
                        "model ≠ CaseState: " + differences.joined(separator: "; "))
                    break walk
                }
            }
        }
        findings.report(clock.now - start)
        print(
            "legal walks: steps ending in each phase \(phases.sorted { $0.key < $1.key }); fewest accepted: "
                + accepted.sorted { $0.value < $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        for type in streamTypes {
            #expect(accepted[type, default: 0] >= 50, "legal walks accepted \(type) only \(accepted[type, default: 0]) times")
        }
    }

    /// 3. After a legal prefix, every step the model calls illegal is refused, and a refused step
    /// leaves the state as it was: the next legal step then gives the same state as without it.
    @Test func neverAcceptsAnIllegalStep() {
        let clock = ContinuousClock()
        let start = clock.now
        let base = baseSeed(3)
        var findings = Findings("illegal steps", base: base, interpretation)
        for index in 0..<1_000 {
            let seed = sequenceSeed(base, index)
            var random = SeededGenerator(seed: seed)
            var model = LifecycleModel(interpretation)
            var live = Live()
            findings.sequences += 1
            var prefixIsLegal = true
            let voids = random.chance(50)
            for _ in 0..<Int.random(in: 0...60, using: &random) {
                guard let fact = legalStep(after: model, &random, voids: voids) else { break }
                _ = model.append(fact)
                if live.append(fact) != nil {
                    prefixIsLegal = false
                    break
                }
            }
            guard prefixIsLegal else { continue }  // property 2's business
            let next = legalStep(after: model, &random)
            var expected = live
            let nextRefusal = next.flatMap { expected.append($0) }
            let before = Snapshot(live.state)
            let probes =
                streamTypes.map { candidate($0, after: model, &random) }
                + (0..<10).map { _ in candidate(random.pick(streamTypes), after: model, &random) }
            for probe in probes {
                guard let reason = model.verdict(probe) else { continue }
                findings.steps += 1
                var attempt = live.state
                do throws(PathRuleViolation) {
                    try attempt.apply(probe)
                    findings.add(
                        "illegal \(probe.type) (\(reason.reason)) accepted", seed: seed, facts: live.facts + [probe],
                        "model refuses (\(reason.reason)), CaseState accepts")
                    continue
                } catch {
                    if !checkSentences(error) {
                        findings.add("\(error.code) lacks a sentence", seed: seed, facts: live.facts + [probe], "\(error)")
                    }
                }
                let differences = before.differences(from: Snapshot(attempt))
                if !differences.isEmpty {
                    findings.add(
                        "refused \(probe.type) changed the state", seed: seed, facts: live.facts + [probe],
                        differences.joined(separator: "; "))
                    continue
                }
                guard let next else { continue }
                var after = Live(facts: live.facts, state: attempt)
                let refusal = after.append(next)
                if refusal?.code != nextRefusal?.code {
                    findings.add(
                        "refused \(probe.type) changed the verdict on \(next.type)", seed: seed, facts: live.facts + [probe, next],
                        "after the refused attempt CaseState \(describe(refusal)) \(describe(next)), without it \(describe(nextRefusal))")
                } else if refusal == nil && Snapshot(after.state) != Snapshot(expected.state) {
                    findings.add(
                        "refused \(probe.type) changed the next step's result", seed: seed, facts: live.facts + [probe, next],
                        Snapshot(expected.state).differences(from: Snapshot(after.state)).joined(separator: "; "))
                }
            }
        }
        findings.report(clock.now - start)
    }

    /// 4. fold(facts) of an accepted stream is the state built step by step (by `apply`, and by the
    /// daemon's cached `CaseHistory` extended in batches); with Voided entries it is the model's
    /// fold (the stream without the voided entries and what depended on them).
    @Test func foldEqualsTheStepByStepState() {
        let clock = ContinuousClock()
        let start = clock.now
        let base = baseSeed(4)
        var findings = Findings("fold", base: base, interpretation)
        var withVoids = 0
        for index in 0..<1_000 {
            let seed = sequenceSeed(base, index)
            var random = SeededGenerator(seed: seed)
            var model = LifecycleModel(interpretation)
            var live = Live()
            var chain = CaseState()  // apply only, never folded again
            findings.sequences += 1
            let voids = random.chance(60)
            for _ in 0..<Int.random(in: 5...80, using: &random) {
                guard let fact = legalStep(after: model, &random, voids: voids) else { break }
                guard live.append(fact) == nil else { break }  // property 2's business
                _ = model.append(fact)
                try? chain.apply(fact)
                findings.steps += 1
            }
            let facts = live.facts
            let folded = Snapshot(CaseState.fold(facts))
            let hasVoids = facts.contains { $0.type == "Voided" }
            if hasVoids { withVoids += 1 }
            var differences = Snapshot(live.state).differences(from: folded)
            if !differences.isEmpty {
                findings.add("fold ≠ live state", seed: seed, facts: facts, "live ≠ fold: " + differences.joined(separator: "; "))
            }
            // The daemon's cached history, extended in batches as appends arrive.
            var history = CaseHistory()
            var offset = 0
            while offset < facts.count {
                let end = min(facts.count, offset + Int.random(in: 1...5, using: &random))
                history.extend(with: Array(facts[offset..<end]))
                offset = end
            }
            differences = Snapshot(history.state).differences(from: folded)
            if !differences.isEmpty {
                findings.add(
                    "fold ≠ cached history extended in batches", seed: seed, facts: facts,
                    "CaseHistory ≠ fold: " + differences.joined(separator: "; "))
            }
            if !hasVoids {
                differences = Snapshot(chain).differences(from: folded)
                if !differences.isEmpty {
                    findings.add(
                        "fold ≠ apply chain", seed: seed, facts: facts, "apply chain ≠ fold: " + differences.joined(separator: "; "))
                }
            }
            let modelFold = LifecycleModel.fold(model.facts, interpretation)
            differences = Snapshot(modelFold).differences(from: Snapshot(model))
            if !differences.isEmpty {
                findings.add("model fold ≠ model live (test bug)", seed: seed, facts: facts, differences.joined(separator: "; "))
            }
            differences = Snapshot(modelFold).differences(from: folded)
            if !differences.isEmpty {
                let fields = differences.map { String($0.prefix { $0 != ":" }) }.joined(separator: ",")
                findings.add(
                    "fold differs from the model's fold in \(fields)\(hasVoids ? " (with Voided)" : "")", seed: seed, facts: facts,
                    "model fold ≠ CaseState.fold: " + differences.joined(separator: "; "))
            }
        }
        print("fold: \(withVoids) of the sequences contain Voided entries")
        #expect(withVoids > 200)
        findings.report(clock.now - start)
    }
}
