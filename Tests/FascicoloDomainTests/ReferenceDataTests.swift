import FascicoloJSON
import FascicoloTesting
import Testing

@testable import FascicoloDomain

/// The shipped reference data (Config/reference): its versions, the lists that became reference
/// data in 2026.2, and the SIUSS codes against INPS's published list.
@Suite struct ReferenceDataTests {
    static let shipped = try! ReferenceData.load(directory: packageDirectory() + "/Config/reference")
    static var current: ReferenceTable { shipped.current }
    static var first: ReferenceTable { shipped.versions["2026.1"]! }

    /// INPS's list of social benefits (`PrestazioneDaErogare`, the codes SIUSS and the ISEE
    /// services share): see Config/reference/README.md for the source.
    static let publishedSIUSSCodes: Set<String> = Set(
        (1...20).map { "A1." + twoDigits($0) } + (1...12).map { "A2." + twoDigits($0) }
            + (1...3).map { "A3." + twoDigits($0) } + ["Z9.99"])

    static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    static func validate(_ type: String, _ data: String, against table: ReferenceTable) throws(DomainError) {
        let json = try! JSON.parse(data)
        _ = try EventValidator.validate(json, schema: EventCatalogue.schema(type)!, reference: table, fieldPrefix: "data")
    }

    @Test func theNewVersionIsCurrentAndThePublishedOneIsKept() {
        #expect(Self.current.version == "2026.2")
        #expect(Self.shipped.versions.keys.sorted() == ["2026.1", "2026.2"])
        // Every code of the first version still resolves in its own table, so its events keep their meaning.
        #expect(Self.first.interventions["COMUNITA-MIN"]?.siuss == "A3.01")
        #expect(Self.first.labels[.fundingLines]?["adi"] != nil)
    }

    @Test func thePUAIsAnAccessChannel() throws {
        #expect(Self.current.labels[.accessChannels]?["pua"]?.contains("punto unico di accesso") == true)
        let contact = #"{"channel":"pua","needArea":"elderly","outcome":"referral"}"#
        try Self.validate("AccessContactRecorded", contact, against: Self.current)
        #expect(throws: DomainError.self) { try Self.validate("AccessContactRecorded", contact, against: Self.first) }
        // The channels the schema accepted before they were reference data stay valid in both.
        try Self.validate(
            "AccessContactRecorded", #"{"channel":"home_visit","needArea":"elderly","outcome":"referral"}"#, against: Self.first)
        try Self.validate(
            "AccessContactRecorded", #"{"channel":"home_visit","needArea":"elderly","outcome":"referral"}"#, against: Self.current)
    }

    @Test func fundingLinesAreReferenceData() throws {
        let lines = try #require(Self.current.labels[.fundingLines])
        for code in [
            "po_fse_plus", "pn_inclusione", "pnrr", "fondo_poverta", "fna", "fnps", "regionale", "comunale", "dopo_di_noi", "other",
        ] {
            #expect(lines[code] != nil, "\(code)")
        }
        #expect(lines["fondo_poverta"]?.contains("Quota servizi") == true && lines["fna"]?.contains("non autosufficienze") == true)
        func request(_ line: String) -> String { #"{"code":"SAD","provider":"Coop","fundingLine":"\#(line)"}"# }
        try Self.validate("InterventionRequested", request("po_fse_plus"), against: Self.current)
        #expect(throws: DomainError.self) { try Self.validate("InterventionRequested", request("po_fse_plus"), against: Self.first) }
        // "adi" was ambiguous (Assegno di Inclusione or home care): valid for the entries recorded
        // under 2026.1, not for new ones.
        try Self.validate("InterventionRequested", request("adi"), against: Self.first)
        #expect(throws: DomainError.self) { try Self.validate("InterventionRequested", request("adi"), against: Self.current) }
        // Every other value the schema accepted before stays valid.
        for line in ReferenceList.valuesBeforeReferenceData[.fundingLines]! where line != "adi" {
            try Self.validate("InterventionRequested", request(line), against: Self.current)
        }
    }

    @Test func aVersionWithoutTheNewListsReadsAsBefore() throws {
        let bytes = Array(
            #"{"version":"2025.1","interventions":[{"code":"SAD","siuss":"A2.07","istat":"F1","label":"x"}],"closureReasons":[{"code":"death","label":"decesso"}],"userAreas":[{"code":"poverty","label":"p"}],"ambiti":[{"code":"matera","label":"Matera"}]}"#
                .utf8)
        let table = try ReferenceTable.parse(bytes, file: "old")
        #expect(table.contains("online", in: .accessChannels) && !table.contains("pua", in: .accessChannels))
        #expect(table.contains("adi", in: .fundingLines) && !table.contains("po_fse_plus", in: .fundingLines))
        let empty = Array(
            #"{"version":"2026.3","interventions":[{"code":"SAD","siuss":"A2.07","istat":"F1","label":"x"}],"closureReasons":[{"code":"death","label":"decesso"}],"userAreas":[{"code":"poverty","label":"p"}],"ambiti":[{"code":"matera","label":"Matera"}],"fundingLines":[]}"#
                .utf8)
        #expect(throws: ReferenceTable.Invalid.self) { try ReferenceTable.parse(empty, file: "x") }
    }

    @Test func everySIUSSCodeIsOnePublishedByINPS() {
        for version in Self.shipped.versions.values where version.version != "2026.1" {
            for intervention in version.interventions.values {
                #expect(
                    Self.publishedSIUSSCodes.contains(intervention.siuss), "\(version.version) \(intervention.code) \(intervention.siuss)")
            }
        }
        let siuss = Self.current.interventions.mapValues(\.siuss)
        // Corrected in 2026.2: A2.01 is "mensa sociale", A3.01 semi-residential facilities.
        #expect(siuss["SEGR"] == "Z9.99" && siuss["SSP"] == "Z9.99" && siuss["COMUNITA-MIN"] == "A3.02")
        #expect(siuss["SAD"] == "A2.07" && siuss["ADI"] == "A2.08" && siuss["CONTR-REDD"] == "A1.04" && siuss["CONTR-CASA"] == "A1.05")
    }

    @Test func residentialCareAndAssegnoDiCuraHaveCodes() {
        let interventions = Self.current.interventions
        #expect(interventions["RSA"]?.siuss == "A1.14" && interventions["RSA"]?.label.contains("RSA") == true)
        #expect(interventions["COMUNITA-ALL"]?.siuss == "A3.02" && interventions["COMUNITA-RES"]?.siuss == "A3.02")
        #expect(interventions["ASS-CURA"]?.siuss == "A1.11" && interventions["ASS-CURA"]?.label.contains("assegno di cura") == true)
        #expect(interventions["CENTRO-DIURNO"]?.siuss == "A3.01")
    }

    @Test func labelsSayWhatTheyMean() {
        #expect(Self.current.labels[.userAreas]?["disability"] == "persone con disabilità")
        // The intervention ADI is home care, not the Assegno di Inclusione.
        let adi = Self.current.interventions["ADI"]?.label ?? ""
        #expect(adi.contains("assistenza domiciliare integrata") && adi.contains("non l'Assegno di Inclusione"))
        #expect(Self.current.labels[.fundingLines]?["fondo_poverta"]?.contains("Assegno di Inclusione") == true)
    }
}
