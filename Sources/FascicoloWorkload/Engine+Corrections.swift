import FascicoloDomain
import FascicoloJSON

extension Engine {
    // MARK: Corrections

    /// A rectification, a voiding (a delivery voided is recorded again, right), a restriction or
    /// its lifting — whichever has a target. False when none has.
    mutating func correct(_ person: inout Person, _ batch: inout Batch) -> Bool {
        enum Correction { case rectify, void, restrict, lift, hold, release }
        guard
            let correction = random.weighted([
                (person.rectifiable.isEmpty ? 0 : 3, Correction.rectify), (person.voidable.isEmpty ? 0 : 2, .void),
                (person.restrictable.isEmpty ? 0 : 1.5, .restrict), (person.restrictions.isEmpty ? 0 : 3, .lift),
                // Legal holds (issue 21): a litigation, an inspection, a Tribunale's measure; released later.
                (person.holds.isEmpty ? 0.4 : 0, .hold), (person.holds.isEmpty ? 0 : 1, .release),
            ])
        else { return false }
        batch.actorRole = random.chance(0.5) ? "coordinatore" : "assistente_sociale"
        let authoriser = random.pick(operatorsOf(person.ambito))
        switch correction {
        case .rectify:
            let index = random.below(person.rectifiable.count)
            let target = person.rectifiable[index]
            let new: String
            var reason = "errore materiale nella registrazione"
            switch target.kind {
            case .date:
                let old = CalendarDate(target.old)!.daysSinceEpoch
                let shift = target.onlyLater ? random.pick([1, 2]) : random.pick([-3, -2, -1, 1, 2])
                new = CalendarDate(daysSinceEpoch: max(firstDay, min(old + shift, lastDay))).description
                reason = "data trascritta in modo errato"
            case .address:
                new = note(
                    "\(random.pick(Places.streets)) \(random.between(1, 180)), \(person.residence.postcode) \(person.residence.name)")
                reason = "cambio di indirizzo comunicato dall'interessato"
            case .phone:
                new = note(phoneNumber())
                reason = "recapito aggiornato su richiesta dell'interessato"
            case .interventionEndReason:
                new = random.pick(
                    ["completed", "objectives_met", "dropped_out", "no_longer_eligible", "other"].filter { $0 != target.old })
                reason = "motivo di chiusura corretto dopo verifica"
            }
            var data: [(key: String, value: JSON)] = [
                ("target", .number(String(target.version))), ("field", .string(target.field)),
                ("newValue", .string(new)),
            ]
            if random.chance(0.8) { data.append(("oldValue", .string(target.old))) }
            data += [("reason", .string(reason)), ("authorisedBy", .string(authoriser))]
            add(&person, &batch, "Rectified", data)
            person.rectifiable[index].old = new
        case .void:
            voidEntry(&person, &batch, person.voidable[random.below(person.voidable.count)])
        case .restrict:
            // A restricted entry may still be voided: the restriction holds on the voided entry.
            // Contested contacts and referrals most of all (and those may later be voided too).
            let contested = person.restrictable.indices.filter { person.voidable.contains(person.restrictable[$0]) }
            let target = person.restrictable.remove(
                at: !contested.isEmpty && random.chance(0.5)
                    ? random.pick(contested)
                    : random.below(person.restrictable.count))
            let ground = random.pick(["accuracy_contested", "unlawful_processing", "legal_claims", "objection_pending"])
            let restriction = add(&person, &batch, "Restricted", [("target", .number(String(target))), ("ground", .string(ground))])
            person.restrictions[restriction] = target
            // Contested, checked, found wrong: the entry is voided (the restriction holds on it).
            if person.voidable.contains(target), ground == "accuracy_contested" || random.chance(0.3) { person.pendingVoid = target }
        case .lift:
            let restriction = random.pick(person.restrictions.keys.sorted())
            person.restrictions[restriction] = nil
            add(
                &person, &batch, "RestrictionLifted",
                [
                    ("restriction", .number(String(restriction))),
                    ("reason", .string(random.pick(["esattezza verificata", "opposizione respinta", "contenzioso concluso"]))),
                ])
        case .hold:
            let ground = random.weighted([(3, "litigation"), (2, "judicial_measure"), (1, "inspection"), (1, "open_case")])!
            let reference =
                ground == "inspection"
                ? "Verbale ispezione n. \(random.between(1, 99))/\(random.between(2024, 2026))"
                : "R.G. \(random.between(100, 9_999))/\(random.between(2024, 2026))"
            person.holds.append(
                add(
                    &person, &batch, "LegalHoldPlaced",
                    [("ground", .string(ground)), ("reference", .string(reference)), ("authorisedBy", .string(authoriser))]))
        case .release:
            let hold = person.holds.removeFirst()
            add(
                &person, &batch, "LegalHoldReleased",
                [
                    ("hold", .number(String(hold))),
                    ("reason", .string(random.pick(["giudizio concluso", "ispezione chiusa", "provvedimento revocato"]))),
                    ("authorisedBy", .string(authoriser)),
                ])
        }
        return true
    }

    /// Voids a contact, referral, delivery or breach (a delivery is recorded again, right, while
    /// its intervention runs).
    mutating func voidEntry(_ person: inout Person, _ batch: inout Batch, _ target: UInt64) {
        batch.actorRole = "coordinatore"
        person.voidable.removeAll { $0 == target }
        person.restrictable.removeAll { $0 == target }
        add(
            &person, &batch, "Voided",
            [
                ("target", .number(String(target))),
                (
                    "reason",
                    .string(
                        random.pick(["registrazione duplicata", "registrata sulla persona sbagliata", "dati non corrispondenti al verbale"])
                    )
                ),
                (
                    "authorisingAct",
                    .string(
                        "Disposizione del responsabile del servizio prot. n. \(random.between(100, 9_999))/\(CalendarDate(daysSinceEpoch: batch.day).year)"
                    )
                ),
            ])
        if person.phase == .takenInCharge, let running = person.interventions(in: .active).first, random.chance(0.6) {
            deliver(&person, &batch, running)
        }
    }
}

extension Array {
    /// `count` elements in a random order (fewer if the array is shorter).
    func shuffledPrefix(_ count: Int, _ random: inout WorkloadRandom) -> [Element] {
        var elements = self
        var result: [Element] = []
        while result.count < count, !elements.isEmpty { result.append(elements.remove(at: random.below(elements.count))) }
        return result
    }
}

func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
}
