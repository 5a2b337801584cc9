import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloTesting
import FascicoloWorkload
import Glibc
import Testing

// The SIUSS feed: records derived from generated paths and from a scripted one, checked by a
// validator written here from the rules docs/siuss.md documents (not with the export's own
// checks); rectifications and voids give cancellations; an export with no change is empty; no
// codice fiscale in clear in the data directory.

/// The layout file read directly (the validator does not use `SiussLayout`).
private struct LayoutRules {
    struct Field {
        let name, source, required, pattern: String
        let check: String?
    }
    struct Section {
        let name, file, kind: String
        let fields: [Field]
    }
    let separator: String
    let sections: [Section]

    init() throws {
        let json = try JSON.parse(readBytes(packageDirectory() + "/Config/reference/siuss/2026.1.json"))
        separator = json["separator"]?.string ?? "?"
        sections = (json["sections"]?.array ?? []).map { section in
            Section(
                name: section["name"]?.string ?? "", file: section["file"]?.string ?? "", kind: section["kind"]?.string ?? "",
                fields: (section["fields"]?.array ?? []).map {
                    Field(
                        name: $0["name"]?.string ?? "", source: $0["source"]?.string ?? "", required: $0["required"]?.string ?? "",
                        pattern: $0["pattern"]?.string ?? "", check: $0["check"]?.string)
                })
        }
    }
}

/// The codice fiscale's check character (DM 23/12/1976), computed here independently.
private func codiceFiscaleCheckIsValid(_ code: String) -> Bool {
    let bytes = Array(code.utf8)
    guard bytes.count == 16 else { return false }
    let odd: [Int] = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]
    var sum = 0
    for (index, byte) in bytes.prefix(15).enumerated() {
        let value = byte >= UInt8(ascii: "A") ? Int(byte - UInt8(ascii: "A")) : Int(byte - UInt8(ascii: "0"))
        sum += index % 2 == 0 ? odd[value] : value
    }
    return Int(bytes[15]) == Int(UInt8(ascii: "A")) + sum % 26
}

/// Checks every file of one export against the documented rules, and the export against the
/// ones before it (`standing`: record ids inserted and not cancelled). Returns the problems.
private func validate(_ files: [SiussExportResult.File], rules: LayoutRules, standing: inout Set<String>) -> [String] {
    var problems: [String] = []
    for section in rules.sections {
        guard let file = files.first(where: { $0.name == section.file }) else {
            problems.append("\(section.file) missing")
            continue
        }
        let text = String(decoding: file.bytes, as: UTF8.self)
        guard text.hasSuffix("\n"), !text.contains("\r") else {
            problems.append("\(section.file): lines end with LF")
            continue
        }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.first != section.fields.map(\.name).joined(separator: rules.separator) { problems.append("\(section.file): header") }
        var seen: Set<String> = []
        for (number, line) in lines.dropFirst().enumerated() {
            let values = line.split(separator: Character(rules.separator), omittingEmptySubsequences: false).map(String.init)
            guard values.count == section.fields.count else {
                problems.append("\(section.file) line \(number + 2): \(values.count) fields")
                continue
            }
            var byName: [String: String] = [:]
            for (field, value) in zip(section.fields, values) { byName[field.source] = value }
            let operation = byName["operation"] ?? ""
            let id = byName["recordId"] ?? ""
            for (field, value) in zip(section.fields, values) {
                let required = field.required == "always" || (field.required == "insertion" && operation == "I")
                if required && value.isEmpty { problems.append("\(section.file) \(id): \(field.name) empty") }
                if !value.isEmpty, (try? Regex(field.pattern).wholeMatch(in: value)) == nil {
                    problems.append("\(section.file) \(id): \(field.name) does not match its pattern")
                }
                if field.check == "codiceFiscale", !value.isEmpty, !codiceFiscaleCheckIsValid(value) {
                    problems.append("\(section.file) \(id): \(field.name) has a wrong check character")
                }
            }
            if !seen.insert(operation + id).inserted { problems.append("\(section.file) \(id): twice") }
            switch operation {
            case "I":
                if standing.contains(id) { problems.append("\(section.file) \(id): inserted while it stands (a duplicate insertion)") }
                standing.insert(id)
                if section.kind == "benefits", let start = byName["startDate"], let end = byName["endDate"], let period = byName["period"] {
                    let month = String(period.prefix(4)) + "-" + String(period.suffix(2))
                    if !(start <= end && start.hasPrefix(month) && end.hasPrefix(month)) {
                        problems.append("\(section.file) \(id): period and dates disagree")
                    }
                }
            case "A":
                if standing.remove(id) == nil { problems.append("\(section.file) \(id): cancels a record that does not stand") }
            default:
                problems.append("\(section.file) \(id): operation \(operation)")
            }
        }
        if lines.count - 1 != file.records {
            problems.append("\(section.file): \(file.records) records announced, \(lines.count - 1) written")
        }
    }
    return problems
}

/// Data lines of a file, by operation.
private func lines(_ files: [SiussExportResult.File], section: String, operation: String) -> [String] {
    files.filter { $0.section == section }.flatMap {
        String(decoding: $0.bytes, as: UTF8.self).split(separator: "\n").dropFirst().map(String.init).filter {
            $0.hasPrefix(operation + ";")
        }
    }
}

@Suite struct SiussExportTests {
    static let reference = try! ReferenceData.load(directory: packageDirectory() + "/Config/reference")
    static let admin = Reader(author: "uid:0/root", role: "admin", purpose: SiussExport.purpose, operatorID: nil)
    static let codiceFiscale = "RSSMRA85T10A562S"
    static let actor = #"{"operator":"op-1","role":"assistente_sociale","ente":"Comune di Matera","ambito":"matera"}"#

    static func request(_ events: String, person: String = codiceFiscale) throws -> RecordRequest {
        try RecordRequest.parse(Array(#"{"person":"\#(person)","actor":\#(actor),"events":[\#(events)]}"#.utf8), eventsMax: 100)
    }

    static func export(_ files: CaseFiles, _ from: String, _ to: String) async throws -> SiussExportResult {
        try await files.exportToSiuss(
            from: CalendarDate(from)!, to: CalendarDate(to)!, layout: try #require(reference.siuss), reader: admin)
    }

    @Test func theShippedLayoutParses() throws {
        let layout = try #require(Self.reference.siuss)
        #expect(layout.sections.map(\.name) == ["PS_PSA", "SINBA", "SINA", "SIP"])
        #expect(Set(layout.enti.keys) == Set(Self.reference.current.labels[.ambiti]!.keys))
    }

    /// A scripted path: a prestazione over two months and a plan after an in-depth assessment;
    /// then a rectified start date, a voided delivery, a voided prestazione.
    @Test func rectificationsAndVoidsGiveCancellationsAndNoChangeGivesNothing() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory)
            defer { ledger.close() }
            let files = try CaseFiles.open(ledger: ledger, directory: directory, reference: Self.reference)
            let rules = try LayoutRules()
            var standing: Set<String> = []
            let path = [
                #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"F052"}}"#,
                #"{"type":"CaseOpened","occurredAt":"2026-01-11","data":{"area":"poverty","ente":"Comune di Matera","ambito":"matera"}}"#,
                #"{"type":"TakenInCharge","occurredAt":"2026-01-12","data":{"date":"2026-01-12","basis":"request"}}"#,
                #"{"type":"PreliminaryAnalysisCompleted","occurredAt":"2026-01-12","data":{"outcome":"in_depth_assessment","date":"2026-01-12"}}"#,
                #"{"type":"InDepthAssessmentCompleted","occurredAt":"2026-01-13","data":{"team":["as"],"dimensions":["income"],"instrument":"gepi_quadro","date":"2026-01-13"}}"#,
                #"{"type":"PlanDrafted","occurredAt":"2026-01-13","data":{"objectives":["x"]}}"#,
                #"{"type":"PlanSigned","occurredAt":"2026-01-14","data":{"plan":6,"date":"2026-01-14","signatories":["y"]}}"#,
                #"{"type":"InterventionRequested","occurredAt":"2026-01-15","data":{"code":"CONTR-REDD","provider":"Comune","fundingLine":"fondo_poverta"}}"#,
                #"{"type":"InterventionStarted","occurredAt":"2026-01-16","data":{"intervention":8,"date":"2026-01-16"}}"#,
                #"{"type":"ServiceDelivered","occurredAt":"2026-01-20","data":{"intervention":8,"date":"2026-01-20","amount":100.00}}"#,
                #"{"type":"ServiceDelivered","occurredAt":"2026-02-05","data":{"intervention":8,"date":"2026-02-05","amount":50.5}}"#,
            ]
            _ = try await files.record(Self.request(path.joined(separator: ",")), author: "uid:1/test")

            let first = try await Self.export(files, "2026-01-01", "2026-02-28")
            #expect(validate(first.files, rules: rules, standing: &standing) == [])
            #expect(first.insertions == 3 && first.cancellations == 0 && first.persons == 1 && first.withoutCodiceFiscale == 0)
            let inserted = lines(first.files, section: "PS_PSA", operation: "I")
            #expect(inserted.count == 2)
            #expect(inserted.allSatisfy { $0.contains(";\(Self.codiceFiscale);A1.04;CONTR-REDD;fondo_poverta;") })
            #expect(inserted.contains { $0.hasSuffix(";202601;2026-01-16;2026-01-31;1;0;100,00;") })
            #expect(inserted.contains { $0.hasSuffix(";202602;2026-02-01;2026-02-28;1;0;50,50;") })
            #expect(lines(first.files, section: "SIP", operation: "I").count == 1)
            // The opening of the codice fiscale is a recorded read of the person.
            let person = try files.pseudonym(for: PersonIdentifier(parsing: Self.codiceFiscale))
            let reads = try ledger.readStream(person.accessStream, limit: 10)
            #expect(reads.count == 1 && String(decoding: reads[0].payload, as: UTF8.self).contains(#""what":"siuss_export""#))

            // 2. Nothing changed: nothing is sent, nothing is opened.
            let second = try await Self.export(files, "2026-01-01", "2026-02-28")
            #expect(second.insertions == 0 && second.cancellations == 0 && second.persons == 0)
            #expect(validate(second.files, rules: rules, standing: &standing) == [])
            #expect(try ledger.streamVersion(person.accessStream) == 1)

            // 3. A rectified start date: January's record is cancelled and inserted again.
            let rectified =
                #"{"type":"Rectified","occurredAt":"2026-02-10","data":{"target":9,"field":"date","newValue":"2026-01-18","reason":"typo","authorisedBy":"op-2"}}"#
            _ = try await files.record(Self.request(rectified), author: "uid:1/test")
            let third = try await Self.export(files, "2026-01-01", "2026-02-28")
            #expect(validate(third.files, rules: rules, standing: &standing) == [])
            #expect(third.insertions == 1 && third.cancellations == 1)
            #expect(
                lines(third.files, section: "PS_PSA", operation: "I").first?.hasSuffix(";202601;2026-01-18;2026-01-31;1;0;100,00;") == true)

            // 4. A voided delivery: February's record again, without it.
            let voidedDelivery =
                #"{"type":"Voided","occurredAt":"2026-02-11","data":{"target":11,"reason":"wrong person","authorisingAct":"prot. 1"}}"#
            _ = try await files.record(Self.request(voidedDelivery), author: "uid:1/test")
            let fourth = try await Self.export(files, "2026-01-01", "2026-02-28")
            #expect(validate(fourth.files, rules: rules, standing: &standing) == [])
            #expect(fourth.insertions == 1 && fourth.cancellations == 1)
            #expect(
                lines(fourth.files, section: "PS_PSA", operation: "I").first?.hasSuffix(";202602;2026-02-01;2026-02-28;0;0;0,00;") == true)

            // 5. A voided prestazione: every record of it is cancelled, even outside the window.
            let voidedRequest =
                #"{"type":"Voided","occurredAt":"2026-02-12","data":{"target":8,"reason":"recorded by mistake","authorisingAct":"prot. 2"}}"#
            _ = try await files.record(Self.request(voidedRequest), author: "uid:1/test")
            let fifth = try await Self.export(files, "2026-02-01", "2026-02-28")
            #expect(validate(fifth.files, rules: rules, standing: &standing) == [])
            #expect(fifth.insertions == 0 && fifth.cancellations == 2)
            #expect(standing.count == 1 && standing.first?.hasPrefix("V") == true)
            let empty = try await Self.export(files, "2026-01-01", "2026-02-28")
            #expect(empty.insertions == 0 && empty.cancellations == 0)

            // Every export is in the log; no codice fiscale is.
            #expect(try ledger.streamVersion(SiussExport.stream) == 6)
            expectNotInDirectory([Self.codiceFiscale], directory)
        }
    }

    /// A provisional record's codice fiscale is kept from its IdentityLinked on (its records go
    /// out with it); a void of the link takes it back; an erasure deletes it.
    @Test func aLinkedRecordGetsItsCodiceFiscaleAndAVoidOrAnErasureTakesItBack() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory)
            defer { ledger.close() }
            let files = try CaseFiles.open(ledger: ledger, directory: directory, reference: Self.reference)
            let linkedCode = "MRTMTT25D09F205Z"
            let path = [
                #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"F052"}}"#,
                #"{"type":"CaseOpened","occurredAt":"2026-01-11","data":{"area":"poverty","ente":"Comune di Matera","ambito":"matera"}}"#,
                #"{"type":"InterventionRequested","occurredAt":"2026-01-15","data":{"code":"PIS","provider":"Comune","fundingLine":"fondo_poverta"}}"#,
                #"{"type":"InterventionStarted","occurredAt":"2026-01-16","data":{"intervention":3,"date":"2026-01-16"}}"#,
            ]
            _ = try await files.record(Self.request(path.joined(separator: ","), person: "provisional:walk-in-7"), author: "uid:1/test")
            let before = try await Self.export(files, "2026-01-01", "2026-01-31")
            #expect(before.insertions == 0 && before.withoutCodiceFiscale == 1)
            let link = #"{"type":"IdentityLinked","occurredAt":"2026-01-20","data":{"codiceFiscale":"\#(linkedCode)","source":"anagrafe"}}"#
            _ = try await files.record(Self.request(link, person: "provisional:walk-in-7"), author: "uid:1/test")
            let after = try await Self.export(files, "2026-01-01", "2026-01-31")
            #expect(
                after.insertions == 1 && lines(after.files, section: "PS_PSA", operation: "I").first?.contains(";\(linkedCode);") == true)
            let person = try files.pseudonym(for: PersonIdentifier(parsing: "provisional:walk-in-7"))
            let table = try ledger.sideTable(named: PersonIdentities.tableName)
            func row() throws -> [UInt8]? { try ledger.read { log in try log.value(in: table, key: person.bytes) } }
            #expect(try row() != nil)
            let void =
                #"{"type":"Voided","occurredAt":"2026-01-21","data":{"target":5,"reason":"wrong person","authorisingAct":"prot. 3"}}"#
            _ = try await files.record(Self.request(void, person: "provisional:walk-in-7"), author: "uid:1/test")
            #expect(try row() == nil)
            // Registered by a codice fiscale, then erased: the row goes with the key.
            _ = try await files.record(Self.request(path[0]), author: "uid:1/test")
            let registered = try files.pseudonym(for: PersonIdentifier(parsing: Self.codiceFiscale))
            #expect(try ledger.read { log in try log.value(in: table, key: registered.bytes) } != nil)
            _ = try await files.erase(
                PersonIdentifier(parsing: Self.codiceFiscale), legalGround: "art17_request", reference: "prot. 4", author: "uid:0/root")
            #expect(try ledger.read { log in try log.value(in: table, key: registered.bytes) } == nil)
            expectNotInDirectory([Self.codiceFiscale, linkedCode], directory)
        }
    }

    /// GDPR art. 19: a person erased after their records were sent has them cancelled by the
    /// next export, whatever its window, with the codice fiscale the erasure kept sealed under
    /// records.key for it; that export forgets it (and rotates records.key), sends nothing more
    /// for the person, and the one after is empty.
    @Test func anErasedPersonsRecordsAreCancelledWithTheCodiceFiscaleKeptForIt() async throws {
        try await withTemporaryDirectory { directory in
            var ledger = try Ledger.open(directory: directory)
            defer { ledger.close() }
            var files = try CaseFiles.open(ledger: ledger, directory: directory, reference: Self.reference)
            let rules = try LayoutRules()
            var standing: Set<String> = []
            let path = [
                #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"F052"}}"#,
                #"{"type":"CaseOpened","occurredAt":"2026-01-11","data":{"area":"poverty","ente":"Comune di Matera","ambito":"matera"}}"#,
                #"{"type":"InterventionRequested","occurredAt":"2026-01-15","data":{"code":"PIS","provider":"Comune","fundingLine":"fondo_poverta","isee":9360.5}}"#,
                #"{"type":"InterventionStarted","occurredAt":"2026-01-16","data":{"intervention":3,"date":"2026-01-16"}}"#,
            ]
            _ = try await files.record(Self.request(path.joined(separator: ",")), author: "uid:1/test")
            let first = try await Self.export(files, "2026-01-01", "2026-02-28")
            #expect(validate(first.files, rules: rules, standing: &standing) == [])
            #expect(first.insertions == 2 && standing.count == 2)
            // The ISEE the request gave (sealed in the log) goes out as VALORE_ISEE.
            #expect(lines(first.files, section: "PS_PSA", operation: "I").allSatisfy { $0.hasSuffix(";9360,50") })
            let person = try files.pseudonym(for: PersonIdentifier(parsing: Self.codiceFiscale))
            let request = try #require(try ledger.readStream(person.stream, from: 3, limit: 1).first)
            #expect(!String(decoding: request.payload, as: UTF8.self).contains("9360"), "the ISEE is sealed")

            func rows() throws -> Int {
                let table = try ledger.sideTable(named: "siuss_cancellations")
                return try ledger.read { log in
                    var count = 0
                    try log.forEachRow(in: table) { _, _ in
                        count += 1
                        return true
                    }
                    return count
                }
            }
            _ = try await files.erase(
                PersonIdentifier(parsing: Self.codiceFiscale), legalGround: "art17_request", reference: "prot. 5", author: "uid:0/root")
            #expect(try rows() == 1, "the codice fiscale is kept for the cancellations")
            expectNotInDirectory([Self.codiceFiscale], directory)
            // verify accepts the row (an erased person's, opening with records.key), after a restart too.
            ledger.close()
            #expect(try DomainTablesCheck.verify(directory: directory) != nil)
            ledger = try Ledger.open(directory: directory)
            files = try CaseFiles.open(ledger: ledger, directory: directory, reference: Self.reference)

            // Another window: the erased person's records are cancelled all the same, with their code.
            let second = try await Self.export(files, "2026-05-01", "2026-05-31")
            #expect(validate(second.files, rules: rules, standing: &standing) == [])
            #expect(second.insertions == 0 && second.cancellations == 2 && standing.isEmpty, "\(standing)")
            let cancelled = lines(second.files, section: "PS_PSA", operation: "A")
            #expect(cancelled.count == 2 && cancelled.allSatisfy { $0.contains(";\(Self.codiceFiscale);") }, "\(cancelled)")
            #expect(try rows() == 0, "forgotten once sent")
            #expect(try files.keys.rotationDue() == false)

            let third = try await Self.export(files, "2026-01-01", "2026-05-31")
            #expect(third.insertions == 0 && third.cancellations == 0 && third.withoutCodiceFiscale == 0)
            expectNotInDirectory([Self.codiceFiscale], directory)
        }
    }

    /// The workload generator's paths (codici fiscali, STP/ENI and provisional records, links,
    /// voids, rectifications, erasures): every record passes the documented rules, a second
    /// export is empty, no codice fiscale is in clear in the data directory.
    @Test func everyGeneratedPathGivesValidRecords() async throws {
        try await withTemporaryDirectory { directory in
            var generator = PathGenerator(seed: 0x5EED_5155, persons: 200, reference: Self.reference.current)
            generator.readProbability = 0
            let rules = try LayoutRules()
            var standing: Set<String> = []
            var codes: Set<String> = []
            try await WorkloadTests.withCaseFiles(directory) { ledger, files in
                var steps: [WorkloadStep] = []
                while let step = generator.next() { steps.append(step) }
                for step in steps {
                    if case .codiceFiscale(let code)? = try? PersonIdentifier(parsing: step.person) { codes.insert(code) }
                }
                var replay = PathGenerator(seed: 0x5EED_5155, persons: 200, reference: Self.reference.current)
                replay.readProbability = 0
                guard await WorkloadTests.apply(&replay, to: files, seed: 0x5EED_5155) != nil else { return }

                let clock = ContinuousClock()
                let started = clock.now
                let first = try await Self.export(files, "2024-01-01", "2026-06-30")
                let elapsed = clock.now - started
                #expect(validate(first.files, rules: rules, standing: &standing) == [])
                let bySection = Dictionary(uniqueKeysWithValues: first.files.map { ($0.section, $0.records) })
                #expect(bySection["PS_PSA", default: 0] > 100, "\(bySection)")
                #expect(bySection["SINBA", default: 0] + bySection["SINA", default: 0] + bySection["SIP", default: 0] > 0, "\(bySection)")
                #expect(first.withoutCodiceFiscale > 0, "provisional, STP and ENI records are held back")
                #expect(lines(first.files, section: "PS_PSA", operation: "I").contains { !$0.hasSuffix(";") }, "some carry an ISEE")
                print(
                    "siuss export of 200 generated persons: \(first.insertions) insertions \(bySection), \(first.persons) persons, "
                        + "\(first.withoutCodiceFiscale) held back without a codice fiscale, \(ledger.size) entries, in \(elapsed)")

                let second = try await Self.export(files, "2024-01-01", "2026-06-30")
                #expect(second.insertions == 0 && second.cancellations == 0)
                #expect(validate(second.files, rules: rules, standing: &standing) == [])
            }
            WorkloadTests.verify(directory, seed: 0x5EED_5155, when: "after the SIUSS exports")
            #expect(codes.count > 50)
            expectNotInDirectory(codes, directory)
        }
    }
}

/// No file of the directory (subdirectories included) holds one of `codes` (16 characters,
/// A-Z and 0-9): each file is read once, and only runs of 16 such characters are looked up.
func expectNotInDirectory(_ codes: Set<String>, _ directory: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let wanted = Set(codes.map { Array($0.utf8) })
    var folders = [directory]
    var scanned = 0
    while let folder = folders.popLast() {
        guard let handle = opendir(folder) else { continue }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            let path = folder + "/" + name
            if entry.pointee.d_type == UInt8(DT_DIR) { folders.append(path) }
            guard entry.pointee.d_type == UInt8(DT_REG) else { continue }
            let bytes = readBytes(path)
            scanned += 1
            var run = 0
            var found = 0
            for (index, byte) in bytes.enumerated() {
                let alphanumeric =
                    (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                run = alphanumeric ? run + 1 : 0
                if run >= 16, wanted.contains(Array(bytes[(index - 15)...index])) { found += 1 }
            }
            // The count and the file only: the failure output must not show the value.
            #expect(found == 0, "\(found) codici fiscali in clear in \(name)", sourceLocation: sourceLocation)
        }
        closedir(handle)
    }
    #expect(scanned > 0, sourceLocation: sourceLocation)
}
