import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger

/// What one SIUSS export produced.
public struct SiussExportResult: Sendable {
    public struct File: Sendable {
        /// The layout section the file carries.
        public let section: String
        public let name: String
        /// Personal data (codici fiscali): written only to the file the admin asked for (0600).
        public let bytes: [UInt8]
        /// SHA-256 of `bytes`, lower-case hex: recorded in the log.
        public let sha256: String
        public let records: Int
    }

    public let from: CalendarDate
    public let to: CalendarDate
    public let layout: String
    public let files: [File]
    public let insertions: Int
    public let cancellations: Int
    /// Persons whose codice fiscale was opened (each read recorded in their access stream).
    public let persons: Int
    /// Insertions not sent because the person has no codice fiscale on record (provisional, STP
    /// or ENI record, registered before codici fiscali were kept, or erased): sent by a later
    /// export once there is one.
    public let withoutCodiceFiscale: Int
    /// The first SiussExported entry of this export, and how many parts it has.
    public let position: UInt64
    public let parts: Int
}

/// The SIUSS feed's bookkeeping in the log (Formats.md, "SIUSS transmissions").
public enum SiussExport {
    /// Every export's SiussExported entries, in order: the record of what was sent.
    public static let stream = "siuss:exports"
    /// Generic appends may not write here.
    public static let streamPrefix = "siuss:"
    /// Items per SiussExported entry (each ≤ 60 bytes: the payload stays far below 64 KiB).
    public static let itemsPerPart = 600
    /// The longest window of one export, in days.
    public static let windowDaysMax = 3_660
    /// The purpose recorded with each codice fiscale opened.
    public static let purpose = "trasmissione SIUSS (d.lgs. 147/2017 art. 24)"

    /// What the log says was sent and not cancelled: record id → (section, content digest, ente).
    static func sent(in entries: [Entry]) -> [String: (section: String, digest: String, ente: String)] {
        var sent: [String: (section: String, digest: String, ente: String)] = [:]
        for entry in entries where entry.eventType == EventKind.siussExported.name {
            guard let stored = StoredEvent(payload: entry.payload),
                let items = stored.data.first(where: { $0.key == "sent" })?.value.array
            else { continue }
            for item in items.compactMap(\.string) {
                let parts = item.split(separator: " ").map(String.init)
                if parts.count == 5, parts[0] == "I" { sent[parts[2]] = (parts[1], parts[3], parts[4]) }
                if parts.count == 3, parts[0] == "A" { sent[parts[2]] = nil }
            }
        }
        return sent
    }
}

extension CaseFiles {
    /// Derives the SIUSS records of [from, to] from the log, compares them with what earlier
    /// exports sent (the `siuss:exports` stream), and returns the transmission files of what
    /// changed: insertions of new records, cancellations of records whose prestazione or plan
    /// was voided or whose content changed (a rectification: cancelled, then inserted again).
    /// Each codice fiscale opened is a recorded read of that person (`siuss_export`), stored
    /// before the files exist; the export itself — the items sent and each file's SHA-256 — is
    /// stored as SiussExported entries in the same step, so the next export starts from it.
    /// Two exports at once: the second is refused (`siuss_export_concurrent`), never sent twice.
    public func exportToSiuss(
        from: CalendarDate, to: CalendarDate, layout: SiussLayout, reader: Reader
    ) async throws(DomainError) -> SiussExportResult {
        guard from <= to, to.daysSinceEpoch - from.daysSinceEpoch <= SiussExport.windowDaysMax else {
            throw DomainError(.invalid, code: "invalid_window", "from is on or before to, at most \(SiussExport.windowDaysMax) days apart")
        }
        guard to <= today() else { throw DomainError(.invalid, code: "invalid_window", "to is not after today") }
        await turns.begin(SiussExport.stream)
        defer { turns.end(SiussExport.stream) }

        let version: UInt64
        let sent: [String: (section: String, digest: String, ente: String)]
        var current: [(record: SiussRecord, person: Pseudonym)] = []
        var voidedSources: Set<UInt64> = []
        var owner: [UInt64: Pseudonym] = [:]
        // Erased persons send nothing more, and what of theirs stands is cancelled (GDPR art.
        // 19), with the codice fiscale the erasure kept for it when there is one.
        var erased: Set<Pseudonym> = []
        let kept: [Pseudonym: String]
        do {
            version = try ledger.streamVersion(SiussExport.stream)
            sent = SiussExport.sent(in: try readAll(SiussExport.stream))
            kept = try keys.keptForCancellation()
            let derivation = SiussDerivation(layout: layout, reference: reference, from: from, to: to)
            for person in try personStreams() {
                let entries = try readAll(person.stream)
                let result = derivation.records(of: entries)
                for source in result.sources { owner[source] = person }
                if entries.contains(where: { $0.eventType == EventKind.erasureExecuted.name }) {
                    erased.insert(person)
                    continue
                }
                voidedSources.formUnion(result.voidedSources)
                current += result.records.map { ($0, person) }
            }
        } catch { throw storageFailure(error) }

        // The difference with what was sent.
        let sections = Dictionary(uniqueKeysWithValues: layout.sections.map { ($0.name, $0) })
        var inserts: [(record: SiussRecord, person: Pseudonym, digest: String)] = []
        var cancels: [(id: String, section: String, ente: String, person: Pseudonym?)] = []
        var derivedIDs: Set<String> = []
        for (record, person) in current {
            guard let section = sections[record.section] else { continue }
            derivedIDs.insert(record.id)
            guard record.inWindow else { continue }
            let digest = record.contentDigest(section)
            if let previous = sent[record.id] {
                if previous.digest == digest && previous.section == record.section { continue }
                cancels.append((record.id, previous.section, previous.ente, person))
            }
            inserts.append((record, person, digest))
        }
        let window = (Self.period(from), Self.period(to))
        for (id, previous) in sent.sorted(by: { $0.key < $1.key }) where !derivedIDs.contains(id) {
            guard let source = SiussRecord.source(ofID: id) else { continue }
            // A prestazione's month is cancelled when the prestazione is voided, or by an export
            // whose window covers that month; a plan's record when the plan no longer gives one.
            let cancelled =
                switch SiussRecord.period(ofID: id) {
                case _ where owner[source].map(erased.contains) == true: true
                case let period?: voidedSources.contains(source) || (period >= window.0 && period <= window.1)
                case nil: true
                }
            if cancelled { cancels.append((id, previous.section, previous.ente, owner[source])) }
        }

        // The codici fiscali needed, each opening a recorded read of that person.
        var needed: [Pseudonym: Int] = [:]
        for insert in inserts { needed[insert.person, default: 0] += 1 }
        for cancel in cancels { if let person = cancel.person { needed[person, default: 0] += 1 } }
        var codes: [Pseudonym: String] = [:]
        for person in needed.keys where erased.contains(person) {
            if let code = kept[person] { codes[person] = code }
        }
        // Sex and birth year are sealed in registrations since issue 21 (erasure must destroy
        // them): opened here, for the persons whose records are sent, with the same recorded read
        // as their code. (A record has `.birthYear` set, possibly empty, when it takes them.)
        var registrations: [Pseudonym: [String: String]] = [:]
        // The ISEE of a prestazione, when its InterventionRequested gave one (sealed), by source.
        var isees: [UInt64: String] = [:]
        let needsRegistration = Set(
            inserts.filter {
                $0.record.values[.birthYear] != nil
                    && ($0.record.values[.sex, default: ""].isEmpty || $0.record.values[.birthYear, default: ""].isEmpty)
            }.map(\.person))
        for person in needed.keys where !erased.contains(person) {
            do {
                guard let key = try keys.key(for: person), let code = try identities.codiceFiscale(of: person, key: key, ledger: ledger)
                else { continue }
                codes[person] = code
                if needsRegistration.contains(person) { registrations[person] = try sealedRegistrationFields(of: person, key: key) }
                for source in Set(inserts.filter { $0.person == person && $0.record.values[.isee] != nil }.map(\.record.source)) {
                    if let isee = try sealedISEE(at: source, of: person, key: key) { isees[source] = isee }
                }
            } catch { throw storageFailure(error) }
        }
        let withoutCode = inserts.filter { codes[$0.person] == nil }.count
        inserts.removeAll { codes[$0.person] == nil }
        try await recordSiussReads(of: codes.keys.map { ($0, needed[$0] ?? 0) }, reader: reader)

        // The files: per section, a header line, the cancellations, then the insertions.
        var files: [SiussExportResult.File] = []
        var items: [String] = []
        for section in layout.sections {
            let patterns = section.fields.map { try? Regex($0.pattern) }
            var lines = [section.fields.map(\.name).joined(separator: layout.separator)]
            var count = 0
            for cancel in cancels.filter({ $0.section == section.name }).sorted(by: { $0.id < $1.id }) {
                var values: [SiussLayout.Source: String] = [.operation: "A", .recordId: cancel.id, .codiceEnte: cancel.ente]
                if let person = cancel.person { values[.codiceFiscale] = codes[person] }
                lines.append(try Self.line(values, section: section, patterns: patterns, separator: layout.separator, insertion: false))
                items.append("A \(section.name) \(cancel.id)")
                count += 1
            }
            for insert in inserts.filter({ $0.record.section == section.name }).sorted(by: { $0.record.id < $1.record.id }) {
                var values = insert.record.values
                values[.operation] = "I"
                values[.recordId] = insert.record.id
                values[.codiceFiscale] = codes[insert.person]
                if values[.sex, default: ""].isEmpty, let sex = registrations[insert.person]?["sex"] { values[.sex] = sex }
                if values[.isee, default: ""].isEmpty, let isee = isees[insert.record.source] { values[.isee] = isee }
                if values[.birthYear, default: ""].isEmpty, let year = registrations[insert.person]?["birthYear"] {
                    values[.birthYear] = year
                }
                lines.append(try Self.line(values, section: section, patterns: patterns, separator: layout.separator, insertion: true))
                items.append("I \(section.name) \(insert.record.id) \(insert.digest) \(values[.codiceEnte] ?? "-")")
                count += 1
            }
            let bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
            files.append(.init(section: section.name, name: section.file, bytes: bytes, sha256: SHA256.hash(bytes).hex, records: count))
        }

        // Recorded: what was sent, and the digest of each file.
        // Each item is at most 64 bytes in the payload: parts stay under the configured payload limit.
        let perPart = max(1, min(SiussExport.itemsPerPart, (ledger.configuration.limits.payloadBytesMax - 1_024) / 64))
        let partsCount = max(1, (items.count + perPart - 1) / perPart)
        guard let schema = EventCatalogue.schema(.siussExported) else { preconditionFailure("the catalogue has SiussExported") }
        var events: [NewEvent] = []
        for part in 0..<partsCount {
            let slice = items.dropFirst(part * perPart).prefix(perPart)
            var data: [(key: String, value: JSON)] = [
                ("from", .string(from.description)), ("to", .string(to.description)), ("layout", .string(layout.version)),
                ("part", .number(String(part + 1))), ("parts", .number(String(partsCount))),
            ]
            if part == 0 { data.append(("files", .array(files.map { .string("\($0.section) \($0.name) \($0.sha256) \($0.records)") }))) }
            data.append(("sent", .array(slice.map(JSON.string))))
            let stored = StoredEvent(
                schemaVersion: schema.version, occurredAt: ledger.wallClock.timestamp, codeTable: reference.current.version,
                purpose: schema.purpose.rawValue, actor: .object([]), correlationID: nil, causationID: nil, data: data, sealed: nil)
            events.append(NewEvent(type: schema.type, payload: stored.bytes))
        }
        let result: AppendResult
        do {
            // The codici fiscali kept for cancellations are forgotten with the export that sent them.
            result = try await ledger.append(
                AppendRequest(
                    stream: SiussExport.stream, events: events, expectedVersion: .exactly(version), author: reader.author,
                    attachedWrites: keys.forgetCancellations(of: Array(kept.keys))))
        } catch LedgerError.wrongExpectedVersion {
            throw DomainError(.conflict, code: "siuss_export_concurrent", "another SIUSS export was stored meanwhile; run this one again")
        } catch let error as LedgerError {
            throw DomainError(error)
        } catch {
            throw storageFailure(error)
        }
        // The forgotten rows' bytes may stay in LMDB's free pages: records.key is replaced.
        if !kept.isEmpty { try await rotateRecordsKey() }
        logger.notice(
            "SIUSS export stored",
            metadata: [
                "position": "\(result.firstPosition)", "insertions": "\(inserts.count)", "cancellations": "\(cancels.count)",
            ])
        return SiussExportResult(
            from: from, to: to, layout: layout.version, files: files, insertions: inserts.count, cancellations: cancels.count,
            persons: codes.count, withoutCodiceFiscale: withoutCode, position: result.firstPosition, parts: partsCount)
    }

    /// One record's line, checked against its section's rules: a value the layout refuses is
    /// never sent (the error names the record and the field, never the value).
    static func line(
        _ values: [SiussLayout.Source: String], section: SiussLayout.Section, patterns: [Regex<AnyRegexOutput>?], separator: String,
        insertion: Bool
    ) throws(DomainError) -> String {
        var columns: [String] = []
        for (index, field) in section.fields.enumerated() {
            let value = values[field.source] ?? ""
            let required = field.required == .always || (field.required == .insertion && insertion)
            let matches = value.isEmpty || ((try? patterns[index]?.wholeMatch(in: value)) ?? nil) != nil
            guard matches, !(required && value.isEmpty), !value.contains(separator), !value.contains("\n") else {
                throw DomainError(
                    .invalid, code: "siuss_record_invalid",
                    "record \(values[.recordId] ?? "?") of \(section.name): \(field.name) does not meet the layout's rule (Config/reference/siuss)"
                )
            }
            columns.append(value)
        }
        return columns.joined(separator: separator)
    }

    static func period(_ day: CalendarDate) -> String {
        String(day.description.prefix(4) + day.description.dropFirst(5).prefix(2))
    }

    /// Every entry of a stream.
    /// The ISEE sealed in the InterventionRequested at `position`, as the layout writes amounts
    /// (decimal comma); nil when it gave none.
    private func sealedISEE(at position: UInt64, of person: Pseudonym, key: SecretKey) throws -> String? {
        guard let entry = try ledger.entry(at: position), let fields = Self.openPersonal(entry, of: person, key: key),
            case .number(let text)? = fields.first(where: { $0.key == "isee" })?.value, let cents = SiussDerivation.cents(text)
        else { return nil }
        return SiussDerivation.euro(cents)
    }

    /// The personal fields of the person's registration (the newest PersonRegistered) that are
    /// strings or numbers, as text, opened with their data key; empty when there are none.
    private func sealedRegistrationFields(of person: Pseudonym, key: SecretKey) throws -> [String: String] {
        for entry in try readAll(person.stream).reversed() where entry.eventType == EventKind.personRegistered.name {
            guard let fields = Self.openPersonal(entry, of: person, key: key) else { continue }
            var texts: [String: String] = [:]
            for (name, value) in fields { texts[name] = value.string ?? value.int.map(String.init) }
            return texts
        }
        return [:]
    }

    func readAll(_ stream: String) throws -> [Entry] {
        var entries: [Entry] = []
        while true {
            let page = try ledger.readStream(stream, from: UInt64(entries.count) + 1, limit: 1_000)
            entries += page
            if page.count < 1_000 { return entries }
        }
    }

    /// Every person's case-file stream.
    func personStreams() throws -> [Pseudonym] {
        try ledger.read { log in
            var persons: [Pseudonym] = []
            try log.forEachStream(withPrefix: Pseudonym.personPrefix) { name, _ in
                if let person = Pseudonym.owning(stream: String(decoding: name, as: UTF8.self)) { persons.append(person) }
                return true
            }
            return persons
        }
    }

    /// One RecordAccessed per person whose codice fiscale the export opened, 32 at a time.
    private func recordSiussReads(of persons: [(Pseudonym, Int)], reader: Reader) async throws(DomainError) {
        let outcome: DomainError? = await withTaskGroup(of: DomainError?.self) { group in
            var next = 0
            var failure: DomainError?
            func add() {
                guard next < persons.count else { return }
                let (person, count) = persons[next]
                next += 1
                group.addTask {
                    do throws(DomainError) {
                        _ = try await self.recordAccess(to: person, by: reader, what: "siuss_export", entries: count)
                        return nil
                    } catch { return error }
                }
            }
            for _ in 0..<32 { add() }
            while let result = await group.next() {
                if let result, failure == nil { failure = result }
                if failure == nil { add() }
            }
            return failure
        }
        if let outcome { throw outcome }
    }
}
