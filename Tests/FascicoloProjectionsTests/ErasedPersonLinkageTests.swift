import FascicoloJSON
import FascicoloLedger
import FascicoloProjections
import Testing

@testable import FascicoloDomain

/// Issue 21: an erased person cannot be singled out from what remains. A generated population
/// (families sharing a household, children among them) is recorded, some persons are erased —
/// the workload's own erasures and, on top, a member of every household that has two or more —
/// and then, for each erased person:
/// - their entries keep no quasi-identifier in clear (birth year, sex, citizenship, comune,
///   household: sealed under their key, so shredded with it);
/// - no clear value of their entries that could name a group of persons (a free-text field that
///   is not an operator's, an organisation's or a code) is shared with another person's entries;
/// - no row of any read model that holds their pseudonym holds a household id or another
///   person's pseudonym.
@Suite struct ErasedPersonLinkageTests {
    static let quasiIdentifiers: Set<String> = ["birthYear", "sex", "citizenship", "comuneOfResidence", "household"]
    /// Clear free-text fields that name no group of persons: who acted (operators), organisations
    /// and codes chosen from lists, the corrected field's name, the person's own second pseudonym
    /// (IdentityLinked), the correction's reason, an authority's act (docs/domain.md, "What
    /// erasure leaves in clear").
    static let notLinking: Set<String> = [
        "operator", "authorisedBy", "ente", "provider", "toAmbito", "recipient", "field", "linkedPseudonym", "reason",
        "authorisingAct", "reference", "purpose",
    ]

    @Test func anErasedPersonCannotBeSingledOut() async throws {
        try await withCaseFiles { _, ledger, files in
            try await applyWorkload(files, seed: 21, persons: 240)
            let persons = try Self.personStreams(ledger)
            // A member of every household of two or more is erased too (a child when there is one).
            var byHousehold: [String: [(Pseudonym, Int)]] = [:]
            for person in persons {
                guard let registration = try Self.registration(of: person, files: files, ledger: ledger),
                    let household = registration["household"]?.string
                else { continue }
                byHousehold[household, default: []].append((person, registration["birthYear"]?.int ?? 0))
            }
            var erased = Set(try persons.filter { try Self.isErased($0, ledger) })
            for (_, members) in byHousehold where members.count >= 2 {
                guard let youngest = members.max(by: { $0.1 < $1.1 })?.0, !erased.contains(youngest) else { continue }
                _ = try await files.eraseKeepingRecordsKey(youngest, legalGround: "court_order", reference: "test", author: "test")
                erased.insert(youngest)
            }
            try await files.rotateRecordsKey()
            try #require(byHousehold.values.contains { $0.count >= 2 }, "the workload has households")
            try #require(erased.count >= 5)

            // The log.
            var clearValues: [String: [String: Set<Pseudonym>]] = [:]  // field → value → persons
            for person in persons {
                for entry in try ledger.readStream(person.stream, from: 1, limit: 100_000) {
                    guard let stored = StoredEvent(payload: entry.payload) else { continue }
                    let schema = EventCatalogue.schema(entry.eventType)
                    let rectifiedField = stored.data.first { $0.key == "field" }?.value.string
                    for (field, value) in stored.data {
                        guard let text = value.string ?? value.int.map(String.init) else { continue }
                        // A rectification's values are of the field it corrects.
                        let kindOf = entry.eventType == "Rectified" && (field == "newValue" || field == "oldValue") ? rectifiedField : field
                        if let kindOf, Self.isFreeText(kindOf, in: entry.eventType == "Rectified" && kindOf != field ? nil : schema) {
                            clearValues[kindOf, default: [:]][text, default: []].insert(person)
                        }
                        if erased.contains(person) {
                            #expect(!Self.quasiIdentifiers.contains(field), "an erased person's \(entry.eventType) keeps \(field) in clear")
                        }
                    }
                }
            }
            for (field, values) in clearValues where !Self.notLinking.contains(field) {
                for (_, holders) in values where holders.count > 1 && !holders.isDisjoint(with: erased) {
                    Issue.record("\(field) in clear links an erased person to \(holders.count - 1) other person(s)")
                }
            }

            // Every row of every read model.
            let engine = try makeEngine(ledger, files: files)
            try engine.start()
            defer { engine.stop() }
            try await waitFor(engine, "the read models") { caughtUp(ledger)($0) }
            let others = persons.filter { !erased.contains($0) }.map(\.bytes)
            for kind in ReadModels.all {
                let rows = try await engine.query(kind.name, reflecting: ledger.size - 1) { view in
                    try view.tables.flatMap { table in
                        try view.transaction.withCursor(table) { cursor in
                            var rows: [[UInt8]] = []
                            var record = try cursor.first()
                            while let current = record {
                                rows.append(Array(current.key) + [0xff] + Array(current.value))
                                record = try cursor.next()
                            }
                            return rows
                        }
                    }
                }
                for row in rows {
                    guard let person = erased.first(where: { row.containsBytes($0.bytes) }) else { continue }
                    #expect(!row.containsBytes(Array("hh-".utf8)), "\(kind.name) joins an erased person to a household")
                    #expect(!others.contains { row.containsBytes($0) }, "\(kind.name) joins an erased person to another person")
                    _ = person
                }
            }
        }
    }

    /// Whether `field` is free text (not a date, a code, a choice, a number or an entry's
    /// version): in `schema` when given, else in any schema that has a field of that name.
    static func isFreeText(_ field: String, in schema: EventSchema?) -> Bool {
        (schema.map { [$0] } ?? EventCatalogue.all).contains { schema in
            schema.fields.contains { candidate in
                guard candidate.name == field else { return false }
                if case .text = candidate.kind { return true }
                return false
            }
        }
    }

    static func personStreams(_ ledger: Ledger) throws -> [Pseudonym] {
        try ledger.read { log in
            var persons: [Pseudonym] = []
            try log.forEachStream(withPrefix: Pseudonym.personPrefix) { name, _ in
                if let person = Pseudonym.owning(stream: String(decoding: name, as: UTF8.self)) { persons.append(person) }
                return true
            }
            return persons
        }
    }

    static func isErased(_ person: Pseudonym, _ ledger: Ledger) throws -> Bool {
        try ledger.readStream(person.stream, from: 1, limit: 100_000).contains { $0.eventType == "ErasureExecuted" }
    }

    /// The person's registration as recorded: its clear fields and, while their key exists, the
    /// sealed ones opened.
    static func registration(of person: Pseudonym, files: CaseFiles, ledger: Ledger) throws -> [String: JSON]? {
        guard let entry = try ledger.readStream(person.stream, from: 1, limit: 1).first,
            entry.eventType == "PersonRegistered", let stored = StoredEvent(payload: entry.payload)
        else { return nil }
        var fields: [String: JSON] = [:]
        for (key, value) in stored.data { fields[key] = value }
        if let sealed = stored.sealed, let key = try files.keys.key(for: person),
            let opened = key.open(sealed, associatedData: StoredEvent.sealAssociatedData(stream: person.stream, type: entry.eventType)),
            let members = try JSON.parse(opened).members
        {
            for (name, value) in members { fields[name] = value }
        }
        return fields
    }
}

extension Array where Element == UInt8 {
    /// Whether `part` occurs as consecutive bytes.
    func containsBytes(_ part: [UInt8]) -> Bool {
        guard !part.isEmpty, part.count <= count else { return false }
        return (0...(count - part.count)).contains { self[$0..<$0 + part.count].elementsEqual(part) }
    }
}
