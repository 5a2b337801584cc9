import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloTesting
import FascicoloWorkload
import Glibc
import Testing

// Generated paths, applied through a real ledger (LMDB + libsodium) in a temporary directory:
// every step accepted, every event type present, the log verifying offline, no personal value in
// clear in the files, erasure and recorded reads doing what they promise.
//
// FASCICOLO_SEED=<decimal or 0x…> adds a run with that seed to the fixed one; every failure
// message names the seed, so a failing run can be replayed.

private let referenceData: ReferenceData = {
    do { return try ReferenceData.load(directory: packageDirectory() + "/Config/reference") } catch {
        preconditionFailure("the shipped reference data: \(error)")
    }
}()

private let fixedSeed: UInt64 = 0x5EED_2026

/// The fixed seed, and FASCICOLO_SEED's if it is set.
private let workloadSeeds: [UInt64] = {
    guard let text = getenv("FASCICOLO_SEED").map({ String(cString: $0) }), !text.isEmpty else { return [fixedSeed] }
    let seed = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
    guard let seed else { preconditionFailure("FASCICOLO_SEED is a decimal or 0x-hexadecimal UInt64") }
    return seed == fixedSeed ? [fixedSeed] : [fixedSeed, seed]
}()

private let workloadPersons = 300

private func makeGenerator(seed: UInt64, persons: Int = workloadPersons) -> PathGenerator {
    var generator = PathGenerator(seed: seed, persons: persons, reference: referenceData.current)
    generator.readProbability = 0.2  // fewer than in life (3-8 per write), enough to test that each is recorded
    return generator
}

/// The kind of identifier a step names — never the identifier itself.
private func kind(_ person: String) -> String {
    (try? PersonIdentifier(parsing: person))?.kind ?? "unparseable"
}

private func hex(_ seed: UInt64) -> String { "0x" + String(seed, radix: 16) }

@Suite struct WorkloadGeneratorTests {
    @Test func theSameSeedGivesTheSameSteps() {
        var first = makeGenerator(seed: 42, persons: 60)
        var second = makeGenerator(seed: 42, persons: 60)
        var other = makeGenerator(seed: 43, persons: 60)
        let steps = first.steps()
        #expect(!steps.isEmpty)
        #expect(steps == second.steps())
        #expect(first.personalValues == second.personalValues)
        #expect(steps != other.steps())
    }

    /// Identifiers parse (codici fiscali with their check character, some omocodic), every kind of
    /// identifier and every ambito is there, dates stay in the window and in the past, and every
    /// event type the domain accepts is generated.
    @Test func generatedRequestsAreWellFormed() throws {
        for seed in workloadSeeds {
            var generator = makeGenerator(seed: seed)
            var kinds: [String: Int] = [:]
            var omocodic = 0
            var ambiti: Set<String> = []
            var linkedCodes = 0
            // Paths the rules allow since 0cf0bd4: pronto intervento started before the presa in
            // carico (here: in the request that opens the case), a restricted entry voided.
            var emergencyStartedOnOpening = 0
            var restrictedThenVoided = 0
            var restrictedTargets: [String: Set<UInt64>] = [:]
            let today = CalendarDate(daysSinceEpoch: Int(time(nil) / 86_400))
            let window = CalendarDate("2024-01-01")!...min(CalendarDate("2026-12-31")!, today)
            while let step = generator.next() {
                let identifier = try #require(
                    try? PersonIdentifier(parsing: step.person), "seed \(hex(seed)): an identifier does not parse")
                kinds[identifier.kind, default: 0] += 1
                // Omocodia puts letters where a base code has digits (characters 7, 8, 10, 11, 13, 14, 15).
                if case .codiceFiscale(let code) = identifier, [6, 7, 9, 10, 12, 13, 14].contains(where: { Array(code.utf8)[$0] >= 65 }) {
                    omocodic += 1
                }
                guard case .record(_, let body) = step else { continue }
                let request = try RecordRequest.parse(body, eventsMax: 100)
                if let ambito = request.actor["ambito"]?.string { ambiti.insert(ambito) }
                let types = request.events.map(\.type)
                if types.contains("CaseOpened"), types.contains("InterventionStarted") { emergencyStartedOnOpening += 1 }
                for event in request.events {
                    guard let target = event.data["target"]?.uint64 else { continue }
                    if event.type == "Restricted" { restrictedTargets[step.person, default: []].insert(target) }
                    if event.type == "Voided", restrictedTargets[step.person]?.contains(target) == true { restrictedThenVoided += 1 }
                }
                for event in request.events {
                    let occurred = try #require(CalendarDate(String(event.occurredAt.prefix(10))))
                    #expect(window.contains(occurred), "seed \(hex(seed)): \(event.type) occurredAt out of the window")
                    if let text = event.data["date"]?.string {
                        #expect(
                            window.contains(try #require(CalendarDate(text))), "seed \(hex(seed)): \(event.type).date out of the window")
                    }
                    if event.type == "IdentityLinked" {
                        let linked = try PersonIdentifier(parsing: try #require(event.data["codiceFiscale"]?.string))
                        #expect(linked.kind == "codice_fiscale", "seed \(hex(seed))")
                        linkedCodes += 1
                    }
                }
            }
            #expect(Set(kinds.keys) == ["codice_fiscale", "stp", "eni", "provisional"], "seed \(hex(seed)): \(kinds)")
            #expect(omocodic > 0, "seed \(hex(seed)): no omocodic codice fiscale")
            #expect(linkedCodes > 0, "seed \(hex(seed)): no identity linked")
            #expect(
                emergencyStartedOnOpening > 0 && restrictedThenVoided > 0,
                "seed \(hex(seed)): \(emergencyStartedOnOpening) emergencies started on opening, \(restrictedThenVoided) restricted entries voided"
            )
            #expect(ambiti == Set(referenceData.current.labels[.ambiti]!.keys), "seed \(hex(seed)): \(ambiti.count) ambiti")
            let expected = Set(EventCatalogue.all.filter { !EventCatalogue.systemKinds.contains($0.kind) }.map(\.type))
            let missing = expected.subtracting(generator.eventCounts.keys)
            #expect(missing.isEmpty, "seed \(hex(seed)): the generator never wrote \(missing.sorted())")
            #expect(generator.stepCounts["erase", default: 0] > 0 && generator.stepCounts["read", default: 0] > 0, "seed \(hex(seed))")
        }
    }
}

@Suite struct WorkloadTests {
    static let author = "uid:1000/workload-test"
    static let reader = Reader(author: author, role: "writer", purpose: nil, operatorID: "op-101")

    /// What a run sent and did, per person stream (pseudonym).
    struct Run {
        /// The personal fields sent, by stream version.
        var personal: [String: [UInt64: [(key: String, value: JSON)]]] = [:]
        /// The types sent, by stream version.
        var types: [String: [UInt64: String]] = [:]
        /// An identifier text that reaches the stream.
        var identifier: [String: String] = [:]
        var reads: [String: Int] = [:]
        var erased: Set<String> = []
        var steps = 0
        /// Retries answered from the first append (same idempotency key and body).
        var deduplicated = 0
        /// Time spent in each kind of step.
        var durations: [String: Duration] = [:]
    }

    @Test(arguments: workloadSeeds)
    func aGeneratedWorkloadThroughTheLedger(seed: UInt64) async throws {
        try await withTemporaryDirectory { directory in
            let clock = ContinuousClock()
            let started = clock.now
            var generator = makeGenerator(seed: seed)

            // 1. Every step is accepted; every event type ends up in the log.
            let applied = try await Self.withCaseFiles(directory) { ledger, files -> (run: Run, entries: UInt64)? in
                guard let run = await Self.apply(&generator, to: files, seed: seed) else { return nil }
                try Self.expectEveryTypeAndEveryRead(ledger, run, generator: generator, seed: seed)
                return (run, ledger.size)
            }
            guard let (run, entries) = applied else { return }
            let appliedAt = clock.now

            // 2. The log verifies offline; 3. no personal value is in any file of the directory.
            Self.verify(directory, seed: seed, when: "after the workload")
            Self.expectNoPersonalValueInClear(directory: directory, values: generator.personalValues, seed: seed)
            let checkedAt = clock.now

            // 4. Reopened: an erased person's file has no personal data left, the others' personal
            // fields read back as sent; the log still verifies.
            let markings = try await Self.withCaseFiles(directory) { _, files in
                var markings: [String: Int] = [:]
                for (pseudonym, sent) in run.personal {
                    let identifier = try PersonIdentifier(parsing: run.identifier[pseudonym]!)
                    let file = try await files.caseFile(for: identifier, reader: Self.reader)
                    #expect(file.person.description == pseudonym)
                    try Self.check(
                        file, sent: sent, erased: run.erased.contains(pseudonym), seed: seed, kind: identifier.kind,
                        markings: &markings)
                }
                return markings
            }
            #expect(markings["included", default: 0] > 1_000 && markings["erased", default: 0] > 0, "seed \(hex(seed)): \(markings)")
            Self.verify(directory, seed: seed, when: "after the erasure checks")
            print(
                """
                workload seed \(hex(seed)): \(run.steps) steps \(generator.stepCounts), \(entries) entries, \(run.personal.count) persons, \
                \(run.erased.count) erased, \(generator.personalValues.count) personal values, entries read back \(markings); \
                applied in \(appliedAt - started) \(run.durations), verified and scanned in \(checkedAt - appliedAt), \
                case files checked in \(clock.now - checkedAt)
                """)
        }
    }

    /// Opens the ledger and the domain layer on `directory`, and closes the ledger whatever happens
    /// (the Verifier must not open the LMDB file while this process has it open).
    static func withCaseFiles<T>(_ directory: String, _ body: (Ledger, CaseFiles) async throws -> T) async throws -> T {
        var configuration = LedgerConfiguration()
        configuration.unsafeNoSync = true  // throwaway data: durability is not what is tested here
        let ledger = try Ledger.open(directory: directory, configuration: configuration)
        defer { ledger.close() }
        return try await body(ledger, try CaseFiles.open(ledger: ledger, directory: directory, reference: referenceData))
    }

    /// Every type of the catalogue is in the log (the daemon's own, ErasureExecuted and
    /// RecordAccessed, written through erase and read); each read added one RecordAccessed entry
    /// to the person's access stream; each retry was answered from the first append.
    static func expectEveryTypeAndEveryRead(_ ledger: Ledger, _ run: Run, generator: PathGenerator, seed: UInt64) throws {
        var types: Set<String> = []
        var position: UInt64 = 0
        while true {
            let entries = try ledger.entries(from: position, limit: 4_096)
            if entries.isEmpty { break }
            types.formUnion(entries.map(\.eventType))
            position += UInt64(entries.count)
        }
        // SiussExported is written by a SIUSS export (SiussExportTests), not by a person's path.
        let missing = Set(EventCatalogue.all.map(\.type)).subtracting(types).subtracting(["SiussExported"])
        #expect(missing.isEmpty, "seed \(hex(seed)): no \(missing.sorted()) in the log")
        #expect(!run.erased.isEmpty, "seed \(hex(seed)): no erasure")
        let retries = generator.stepCounts["retry", default: 0]
        #expect(
            run.deduplicated == retries && retries > 0,
            "seed \(hex(seed)): \(run.deduplicated) of \(retries) retries answered from the first append")

        // 5. Reads are recorded.
        #expect(!run.reads.isEmpty, "seed \(hex(seed)): no read")
        for (pseudonym, count) in run.reads {
            let recorded = try ledger.streamVersion("access:" + pseudonym)
            #expect(recorded == UInt64(count), "seed \(hex(seed)): \(count) reads, \(recorded) access entries")
            let accesses = try ledger.readStream("access:" + pseudonym, limit: count)
            #expect(accesses.allSatisfy { $0.eventType == "RecordAccessed" && $0.author == author }, "seed \(hex(seed))")
        }
    }

    /// Applies every step; nil (with the issue recorded) at the first one refused.
    static func apply(_ generator: inout PathGenerator, to files: CaseFiles, seed: UInt64) async -> Run? {
        var run = Run()
        var index = 0
        let clock = ContinuousClock()
        while let step = generator.next() {
            defer { index += 1 }
            run.steps += 1
            let started = clock.now
            defer { run.durations[stepKind(step).split(separator: " ")[0].description, default: .zero] += clock.now - started }
            do {
                switch step {
                case .record(let person, let body):
                    let request = try RecordRequest.parse(body, eventsMax: files.limits.eventsPerRequestMax)
                    let result = try await files.record(request, author: author)
                    if result.append.deduplicated { run.deduplicated += 1 }
                    let pseudonym = result.person.description
                    run.identifier[pseudonym] = run.identifier[pseudonym] ?? person
                    for (offset, event) in request.events.enumerated() {
                        guard let schema = EventCatalogue.schema(event.type), let members = event.data.members else { continue }
                        let version = result.append.firstStreamVersion + UInt64(offset)
                        run.types[pseudonym, default: [:]][version] = event.type
                        var personal = members.filter { schema.field($0.key)?.personal == true }
                        // A rectification of a field kept in clear is kept in clear too (its values are not personal).
                        if event.type == "Rectified", let target = event.data["target"]?.uint64, let field = event.data["field"]?.string,
                            let type = run.types[pseudonym]?[target], EventCatalogue.schema(type)?.field(field)?.personal == false
                        {
                            personal.removeAll { $0.key == "newValue" || $0.key == "oldValue" }
                        }
                        if !personal.isEmpty { run.personal[pseudonym, default: [:]][version] = personal }
                    }
                    if run.personal[pseudonym] == nil { run.personal[pseudonym] = [:] }
                case .erase(let person, let legalGround, let reference):
                    let result = try await files.erase(
                        try PersonIdentifier(parsing: person), legalGround: legalGround, reference: reference,
                        author: author)
                    run.erased.insert(result.person.description)
                case .read(let person):
                    let file = try await files.caseFile(for: try PersonIdentifier(parsing: person), reader: reader)
                    run.reads[file.person.description, default: 0] += 1
                }
            } catch let error as DomainError {
                Issue.record(
                    "seed \(hex(seed)): step \(index) (\(stepKind(step)), \(kind(step.person))) refused: \(error.code) at \(error.field ?? "-"): \(error.message)"
                )
                return nil
            } catch {
                Issue.record("seed \(hex(seed)): step \(index) (\(stepKind(step)), \(kind(step.person))) failed: \(error)")
                return nil
            }
        }
        return run
    }

    static func stepKind(_ step: WorkloadStep) -> String {
        switch step {
        case .record(_, let body):
            let types = (try? JSON.parse(body))?["events"]?.array?.compactMap { $0["type"]?.string } ?? []
            return "record " + types.joined(separator: "+")
        case .erase: return "erase"
        case .read: return "read"
        }
    }

    static func verify(_ directory: String, seed: UInt64, when: String) {
        do {
            _ = try Verifier.verify(directory: directory)
            // The side tables match a realistic log: registrations, erasures, links and their voids.
            let sideTables = try DomainTablesCheck.verify(directory: directory)
            #expect(
                (sideTables?.keyRows ?? 0) > 0 && sideTables?.keysOpened == true,
                "seed \(hex(seed)): the side tables were not checked \(when)")
        } catch {
            Issue.record("seed \(hex(seed)): verify fails \(when): \(error)")
        }
    }

    /// Each entry of the case file against what was sent: personal fields included and equal, or
    /// (restricted) withheld from a writer, or (erased) gone for good.
    static func check(
        _ file: CaseFile, sent: [UInt64: [(key: String, value: JSON)]], erased: Bool, seed: UInt64, kind: String,
        markings: inout [String: Int]
    ) throws {
        #expect(file.state.erased == erased, "seed \(hex(seed)): a \(kind) person's state says erased: \(file.state.erased)")
        let entries = file.entries
        #expect(entries.count == file.version, "seed \(hex(seed)): a case file is not whole")
        if erased { #expect(entries.last?.type == "ErasureExecuted", "seed \(hex(seed)): the erasure is not the last entry") }
        for entry in entries {
            let version = entry.version
            let type = entry.type
            let marking: String? = entry.personalData.rawValue
            markings[marking ?? "-", default: 0] += 1
            let data = JSON.object(try #require(entry.content).data)
            guard let personal = sent[version] else {
                #expect(marking == "none", "seed \(hex(seed)): \(type) at \(version) has no personal field, shown \(marking ?? "-")")
                continue
            }
            let expected = erased ? "erased" : entry.restrictedBy != nil ? "restricted" : "included"
            #expect(
                marking == expected,
                "seed \(hex(seed)): \(type) at \(version) of a \(kind) person shown \(marking ?? "-"), expected \(expected)")
            for (key, value) in personal {
                if expected == "included" {
                    #expect(data[key] == value, "seed \(hex(seed)): \(type).\(key) at \(version) does not read back as sent")
                } else {
                    #expect(data[key] == nil, "seed \(hex(seed)): \(type).\(key) at \(version) is shown though \(expected)")
                }
            }
        }
    }

    /// Scans every file of the directory for each value: as is when it is 8 bytes or longer (a
    /// shorter one would turn up by chance in the base64 of sealed fields), and as a JSON string
    /// (in quotes, which base64 never contains) whatever its length.
    static func expectNoPersonalValueInClear(directory: String, values: [String], seed: UInt64) {
        #expect(values.count > 100, "seed \(hex(seed)): only \(values.count) personal values")
        var patterns: [[UInt8]] = []
        for value in values {
            if value.utf8.count >= 8 { patterns.append(Array(value.utf8)) }
            patterns.append(Array("\"\(value)\"".utf8))
        }
        // Every file, subdirectories included (the projections' environment is one).
        var files: [String] = []
        var folders = [""]
        while let folder = folders.popLast() {
            guard let handle = opendir(directory + "/" + folder) else { continue }
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                let path = folder.isEmpty ? name : folder + "/" + name
                if entry.pointee.d_type == UInt8(DT_REG) { files.append(path) }
                if entry.pointee.d_type == UInt8(DT_DIR) && name != "." && name != ".." { folders.append(path) }
            }
            closedir(handle)
        }
        #expect(files.contains("data.mdb"), "seed \(hex(seed))")
        // The control: clear fields are found, as the JSON strings they are stored as.
        let control = MultiSearch([Array(#""Comune di Potenza""#.utf8), Array(#""assistente_sociale""#.utf8)])
        #expect(control.matches(in: readBytes(directory + "/data.mdb")).count == 2, "seed \(hex(seed)): the scan does not see clear fields")
        for name in files {
            // The count only: the failure output must not show the values either.
            let found = MultiSearch(patterns).matches(in: readBytes(directory + "/" + name)).count
            #expect(found == 0, "seed \(hex(seed)): \(found) personal values found in clear in \(name)")
        }
    }
}

/// Finds which of many byte strings (each 4 bytes or longer) occur in a buffer, in one pass: a
/// bitmap of their first four bytes filters the positions worth comparing.
private struct MultiSearch {
    private var byAnchor: [UInt32: [[UInt8]]] = [:]
    private var bitmap = [UInt64](repeating: 0, count: 1 << 14)  // 2^20 bits

    init(_ patterns: [[UInt8]]) {
        for pattern in patterns {
            precondition(pattern.count >= 4)
            let anchor = Self.word(pattern, 0)
            byAnchor[anchor, default: []].append(pattern)
            let bit = Self.bit(anchor)
            bitmap[bit >> 6] |= 1 << UInt64(bit & 63)
        }
    }

    static func word(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int) -> UInt32 {
        UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24
    }

    static func word(_ bytes: [UInt8], _ index: Int) -> UInt32 { bytes.withUnsafeBufferPointer { word($0, index) } }

    static func bit(_ anchor: UInt32) -> Int { Int((anchor &* 2_654_435_761) >> 12) }

    /// The patterns found (each once).
    func matches(in buffer: [UInt8]) -> Set<[UInt8]> {
        var found: Set<[UInt8]> = []
        buffer.withUnsafeBufferPointer { bytes in
            bitmap.withUnsafeBufferPointer { bitmap in
                guard bytes.count >= 4 else { return }
                for index in 0...(bytes.count - 4) {
                    let anchor = Self.word(bytes, index)
                    let bit = Self.bit(anchor)
                    guard bitmap[bit >> 6] & (1 << UInt64(bit & 63)) != 0, let candidates = byAnchor[anchor] else { continue }
                    for pattern in candidates
                    where index + pattern.count <= bytes.count
                        && pattern.indices.allSatisfy({ bytes[index + $0] == pattern[$0] })
                    {
                        found.insert(pattern)
                    }
                }
            }
        }
        return found
    }
}
