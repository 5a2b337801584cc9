import FascicoloTesting
import Foundation
import Glibc
import Testing

/// `fascicolo person …` and `fascicolo catalogue` against a real daemon, and backup/restore of
/// the domain's secret keys: the codice fiscale goes to the daemon and never comes back out.
@Suite(.serialized) struct PersonCLITests {
    static let codiceFiscale = "RSSMRA85T10A562S"
    static let actor = [
        "--actor-operator", "op-7", "--actor-role", "assistente_sociale", "--actor-ente", "Comune di Potenza",
        "--actor-ambito", "potenza",
    ]
    static let registration =
        #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"G942","givenName":"Mario","familyName":"Rossi","address":"Via Pretoria 12, Potenza"}}"#
    static let opening = """
        [{"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}},
         {"type":"CaseManagerAssigned","occurredAt":"2026-01-12","data":{"operator":"op-7"}},
         {"type":"TakenInCharge","occurredAt":"2026-01-15","data":{"date":"2026-01-15","basis":"request"}}]
        """

    @Test func recordShowEraseAndCatalogueNeverPrintTheCodiceFiscale() throws {
        try withDaemon(access: "auditor = \"uid:4242\"") { daemon in
            var outputs: [String] = []
            /// Runs the CLI against the daemon; every output is kept, to check at the end that none holds the codice fiscale.
            func run(_ arguments: [String], input: String? = nil, as uid: UInt32? = nil) throws -> (status: Int32, output: String) {
                let result = try cliWithInput(arguments + ["--socket", daemon.socket], input: input ?? "/dev/null", as: uid)
                outputs.append(result.output)
                return result
            }
            let person = ["--person", Self.codiceFiscale]

            // One event from a file, the actor from options.
            let registrationFile = daemon.directory + "/registration.json"
            try writeFile(registrationFile, Self.registration)
            let registered = try run(["person", "record"] + person + Self.actor + ["--idempotency-key", "reg-1", registrationFile])
            #expect(registered.status == 0, "\(registered.output)")
            let pseudonym = try #require(firstPseudonym(in: registered.output), "\(registered.output)")
            #expect(registered.output.contains("recorded 1 event for person \(pseudonym): stream version 1"), "\(registered.output)")
            #expect(
                registered.output.contains("stream      person:\(pseudonym)") && registered.output.contains("code table  2026.2"),
                "\(registered.output)")
            #expect(
                registered.output.contains("POSITION  VERSION  TYPE") && registered.output.contains("1        PersonRegistered"),
                "\(registered.output)")
            // A retry with the same key and content: the first answer, nothing new.
            let retried = try run(["person", "record"] + person + Self.actor + ["--idempotency-key", "reg-1", registrationFile])
            #expect(
                retried.status == 0 && retried.output.contains("already recorded") && retried.output.contains(pseudonym),
                "\(retried.output)")

            // An array of events from standard input, the actor from a file; the person in lower case is the same person.
            let openingFile = daemon.directory + "/opening.json"
            try writeFile(openingFile, Self.opening)
            let actorFile = daemon.directory + "/actor.json"
            try writeFile(actorFile, #"{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"}"#)
            let opened = try run(
                [
                    "person", "record", "--person", Self.codiceFiscale.lowercased(), "--actor", actorFile,
                    "--expected-version", "1", "-",
                ], input: openingFile)
            #expect(opened.status == 0, "\(opened.output)")
            #expect(opened.output.contains("recorded 3 events for person \(pseudonym): stream versions 2–4"), "\(opened.output)")
            #expect(opened.output.contains("TakenInCharge"), "\(opened.output)")
            let openedJSON = try parseObject(
                try cliStandardOutput(
                    ["person", "record"] + person + Self.actor
                        + ["--json", "--expected-version", "1", openingFile, "--socket", daemon.socket]))
            #expect(openedJSON["code"] as? String == "wrong_expected_version", "a refusal with --json is the problem document")

            // A step the path does not allow: exit 1, the code, and the sentence in Italian.
            let interventionFile = daemon.directory + "/intervention.json"
            try writeFile(
                interventionFile,
                #"{"type":"InterventionRequested","occurredAt":"2026-01-16","data":{"code":"SAD","provider":"Coop Aurora","fundingLine":"fnps"}}"#
            )
            let refused = try run(["person", "record"] + person + Self.actor + [interventionFile])
            #expect(refused.status == 1, "\(refused.output)")
            #expect(refused.output.contains("(no_signed_plan, HTTP 422)"), "\(refused.output)")
            #expect(refused.output.contains("Un intervento richiede un progetto personalizzato sottoscritto (patto)"), "\(refused.output)")
            // Other refusals: an invalid codice fiscale (not echoed either), a schema violation with its field.
            let wrongCheck = try run(["person", "record", "--person", "RSSMRA85T10A562X"] + Self.actor + [registrationFile])
            #expect(wrongCheck.status == 1 && wrongCheck.output.contains("(invalid_codice_fiscale, HTTP 422)"), "\(wrongCheck.output)")
            #expect(!wrongCheck.output.contains("RSSMRA85T10A562X"), "\(wrongCheck.output)")
            let badAmbitoFile = daemon.directory + "/bad-ambito.json"
            try writeFile(badAmbitoFile, #"{"type":"ReviewHeld","occurredAt":"2026-02-01","data":{}}"#)
            let schema = try run(["person", "record"] + person + Self.actor + [badAmbitoFile])
            #expect(
                schema.status == 1 && schema.output.contains("(schema_violation, HTTP 422)")
                    && schema.output.contains("field: events[0].data."),
                "\(schema.output)")

            // Bad arguments exit 2 before anything is sent, without repeating the person.
            let preparedWithPerson = daemon.directory + "/with-person.json"
            try writeFile(preparedWithPerson, #"{"person":"\#(Self.codiceFiscale)","events":[\#(Self.registration)]}"#)
            for arguments in [
                ["person", "record"] + person + [registrationFile],  // no actor
                ["person", "record"] + person + Self.actor + ["--actor", actorFile, registrationFile],  // two actors
                ["person", "record"] + person + ["--actor-operator", "op-7", registrationFile],  // half an actor
                ["person", "record"] + person + Self.actor + [preparedWithPerson],
                ["person", "record"] + person + Self.actor + [daemon.directory + "/missing.json"],
                ["person", "show", "--person", ""], ["person", "show", "--person", "RSSMRA85T10A562S\r\nX-Evil: 1"],
                ["person", "show"] + person + ["--limit", "0"], ["person", "show"] + person + ["--purpose", "a\nb"],
                ["person", "show", Self.codiceFiscale], ["person", "show"] + person + [Self.codiceFiscale],
            ] {
                let result = try run(arguments)
                #expect(result.status == 2, "\(arguments) → \(result.status) \(result.output)")
            }
            #expect(outputs.last?.contains("Unexpected argument '<person>'") == true, "\(outputs.last ?? "")")
            // Nothing of the refusals was stored but the records of the reads they were: the stale
            // --expected-version's and the no_signed_plan refusal's.
            #expect(try daemon.json("/v1/health/ready")["entries"] as? Int == 6, "nothing of the refusals was stored")

            // The case file: the state and the entries, the personal fields opened.
            let shown = try run(["person", "show"] + person)
            #expect(shown.status == 0, "\(shown.output)")
            for expected in [
                "person              \(pseudonym)", "entries             4", "taken_in_charge (presa in carico)",
                "ambito              potenza", "case manager        op-7", "taken in charge on  2026-01-15, ",
                "signed plan         no", "open interventions  none",
                "VERSION  OCCURRED AT  TYPE", "registrazione anagrafica", "presa in carico", #""familyName":"Rossi""#,
            ] {
                #expect(shown.output.contains(expected), "\(expected) in \(shown.output)")
            }
            #expect(!shown.output.contains("erased") && !shown.output.contains("more entries follow"), "\(shown.output)")
            let page = try run(
                ["person", "show"] + person + ["--from", "2", "--limit", "2", "--operator", "op-9", "--purpose", "verifica è interna"])
            #expect(page.status == 0 && page.output.contains("more entries follow (4 in all): add --from 4"), "\(page.output)")
            #expect(!page.output.contains("PersonRegistered") && page.output.contains("CaseManagerAssigned"), "\(page.output)")
            let fileJSON = try parseObject(try cliStandardOutput(["person", "show"] + person + ["--json", "--socket", daemon.socket]))
            #expect(fileJSON["person"] as? String == pseudonym && (fileJSON["entries"] as? [Any])?.count == 4)
            // The reads were recorded, with the purpose given.
            let reads = try #require(try daemon.json("/v1/streams/access:\(pseudonym)/events")["entries"] as? [[String: Any]])
            #expect(reads.count == 5, "\(reads)")  // the two revealing refusals', then the three shows
            #expect(
                reads.contains {
                    (($0["data"] as? [String: Any])?["data"] as? [String: Any])?["purpose"] as? String == "verifica è interna"
                })
            let unknown = try run(["person", "show", "--person", "RSSMRA80A01H501U"])
            #expect(unknown.status == 1 && unknown.output.contains("(person_not_found, HTTP 404)"), "\(unknown.output)")
            #expect(!unknown.output.contains("RSSMRA80A01H501U"))
            if getuid() == 0 {
                // Auditors say why they read.
                let auditor = try run(["person", "show"] + person, as: 4242)
                #expect(auditor.status == 1 && auditor.output.contains("(purpose_required, HTTP 400)"), "\(auditor.output)")
                let audited = try run(["person", "show"] + person + ["--purpose", "internal audit 2026/14"], as: 4242)
                #expect(audited.status == 0 && audited.output.contains("Rossi"), "\(audited.output)")
                let notAdmin = try run(
                    ["person", "erase"] + person + ["--legal-ground", "art17_request", "--reference", "x", "--yes"], as: 4242)
                #expect(notAdmin.status == 1 && notAdmin.output.contains("(forbidden, HTTP 403)"), "\(notAdmin.output)")
            }

            // Erasure: refused without --yes when nobody can be asked; nothing is sent.
            let erasure = person + ["--legal-ground", "art17_request", "--reference", "prot. 2026/118"]
            let unconfirmed = try run(["person", "erase"] + erasure)
            #expect(
                unconfirmed.status == 2 && unconfirmed.output.contains("--yes") && unconfirmed.output.contains("nothing was sent"),
                "\(unconfirmed.output)")
            if access("/usr/bin/script", X_OK) == 0 {
                // On a terminal it asks; anything but yes erases nothing.
                let command = ([fascicoloBinary(), "person", "erase"] + erasure + ["--socket", daemon.socket])
                    .map { "'" + $0.replacingOccurrences(of: "'", with: #"'\''"#) + "'" }.joined(separator: " ")
                let declined = try runProcess("/bin/sh", ["-c", "printf 'no\\n' | /usr/bin/script -qec \"\(command)\" /dev/null"])
                outputs.append(declined.output)
                #expect(
                    declined.status == 2 && declined.output.contains("Type yes to erase:") && declined.output.contains("not erased"),
                    "\(declined.output)")
            }
            #expect(try run(["person", "show"] + person).output.contains("Rossi"), "not erased")
            let badGround = try run(["person", "erase"] + person + ["--legal-ground", "whim", "--reference", "x", "--yes"])
            #expect(badGround.status == 1 && badGround.output.contains("(schema_violation, HTTP 422)"), "\(badGround.output)")
            let erased = try run(["person", "erase"] + erasure + ["--yes"])
            #expect(erased.status == 0, "\(erased.output)")
            #expect(erased.output.contains("erased: the personal data of person \(pseudonym) can no longer be read"), "\(erased.output)")
            #expect(erased.output.contains("ErasureExecuted recorded at position"), "\(erased.output)")
            let afterwards = try run(["person", "show"] + person)
            #expect(afterwards.status == 0 && !afterwards.output.contains("Rossi"), "\(afterwards.output)")
            #expect(
                afterwards.output.contains("erased              yes") && afterwards.output.contains("cancellazione"), "\(afterwards.output)"
            )
            let firstRow = afterwards.output.split(separator: "\n").first { $0.hasPrefix("1 ") }
            #expect(firstRow?.contains("PersonRegistered") == true && firstRow?.contains("  erased  ") == true, "\(afterwards.output)")
            let tooLate = try run(["person", "record"] + person + Self.actor + [interventionFile])
            #expect(
                tooLate.status == 1 && tooLate.output.contains("(person_erased, HTTP 422)")
                    && tooLate.output.contains("I dati personali di questa persona sono stati cancellati"), "\(tooLate.output)")

            // The catalogue.
            let catalogue = try run(["catalogue"])
            #expect(catalogue.status == 0, "\(catalogue.output)")
            #expect(catalogue.output.hasPrefix("TYPE") && catalogue.output.contains("PERSONAL FIELDS"), "\(catalogue.output)")
            let takenInCharge = catalogue.output.split(separator: "\n").first { $0.hasPrefix("TakenInCharge ") }
            #expect(
                takenInCharge?.contains("presa in carico") == true && takenInCharge?.contains("case_management") == true,
                "\(catalogue.output)")
            let registry = catalogue.output.split(separator: "\n").first { $0.hasPrefix("PersonRegistered ") }
            #expect(registry?.hasSuffix("givenName, familyName, address, phone, household") == true, "\(registry ?? "")")
            #expect(catalogue.output.contains("(written by the daemon)"))
            let types = try #require(try parseObject(try cliStandardOutput(daemon, "catalogue", "--json"))["types"] as? [[String: Any]])
            #expect(types.count >= 40 && types.count == catalogue.output.split(separator: "\n").count - 1)
            let one = try run(["catalogue", "PersonRegistered"])
            #expect(
                one.status == 0 && one.output.contains("familyName         text ≤ 200") && one.output.contains("yes (sealed)"),
                "\(one.output)")
            #expect(try run(["catalogue", "Gossip"]).status == 1)

            for output in outputs {
                #expect(!output.uppercased().contains(Self.codiceFiscale), "the codice fiscale was printed: \(output)")
            }
        }
    }

    /// The codice fiscale never needs to be on the command line (which every local user can read
    /// in /proc/PID/cmdline): it comes from a file, standard input or FASCICOLO_PERSON — exactly
    /// one source, or the command exits 2 and sends nothing.
    /// `fascicolo person reads`: who read the person's file, as a table, as Italian sentences to
    /// hand over, and as the daemon's JSON; each listing recorded and listed by the next.
    @Test func personReadsTellsThePersonWhoReadTheirFile() throws {
        try withDaemon(access: "auditor = \"uid:4242\"") { daemon in
            func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
                let result = try cliWithInput(arguments + ["--socket", daemon.socket], input: "/dev/null", as: nil)
                #expect(!result.output.contains(Self.codiceFiscale), "\(result.output)")
                return result
            }
            let person = ["--person", Self.codiceFiscale]
            let registrationFile = daemon.directory + "/registration.json"
            try writeFile(registrationFile, Self.registration)
            #expect(try run(["person", "record"] + person + Self.actor + [registrationFile]).status == 0)
            #expect(try run(["person", "timeline"] + person + ["--operator", "op-7"]).status == 0)

            let table = try run(["person", "reads"] + person + ["--operator", "sportello-1"])
            #expect(table.status == 0, "\(table.output)")
            #expect(table.output.contains("AT") && table.output.contains("OPERATOR") && table.output.contains("SERVICE"), "\(table.output)")
            #expect(
                table.output.contains("sportello-1") && table.output.contains("op-7") && table.output.contains("timeline"),
                "\(table.output)")

            let text = try run(["person", "reads"] + person + ["--operator", "sportello-1", "--text"])
            #expect(text.status == 0, "\(text.output)")
            #expect(text.output.contains("Consultazioni del fascicolo sociale dal "), "\(text.output)")
            #expect(text.output.contains("Nel periodo il fascicolo è stato consultato 3 volte:"), "\(text.output)")
            #expect(text.output.contains("l'operatore op-7 del servizio unnamed"), "\(text.output)")
            #expect(text.output.contains("ha consultato la cronologia del fascicolo"), "\(text.output)")
            #expect(text.output.contains("ha consultato l'elenco di chi ha consultato il fascicolo"), "\(text.output)")

            let json = try parseObject(
                try cliStandardOutput(
                    ["person", "reads"] + person + ["--operator", "sportello-1", "--json", "--limit", "1", "--socket", daemon.socket]))
            let reads = try #require(json["reads"] as? [[String: Any]])
            #expect(reads.count == 1 && reads.first?["what"] as? String == "reads" && json["next"] is Int, "\(json)")
            #expect(try run(["person", "reads"] + person + ["--from", "2026-13-01"]).status != 0)

            // The household: none named by this registration (exit 1, the code), then a parent's entries from the child's file.
            let none = try run(["person", "household"] + person + ["--operator", "op-7"])
            #expect(none.status == 1 && none.output.contains("household_not_found"), "\(none.output)")
            let member = Self.registration.replacingOccurrences(of: "}}", with: #","household":"hh-1"}}"#)
            let memberFile = daemon.directory + "/member.json"
            try writeFile(memberFile, member)
            for identifier in ["provisional:genitore-1", "provisional:figlio-1"] {
                #expect(try run(["person", "record", "--person", identifier] + Self.actor + [memberFile]).status == 0)
            }
            let household = try run(["person", "household", "--person", "provisional:figlio-1", "--operator", "op-7"])
            #expect(household.status == 0, "\(household.output)")
            #expect(
                household.output.contains("MEMBER") && household.output.contains("household") && household.output.contains("self"),
                "\(household.output)")
            #expect(!household.output.contains("Mario"), "\(household.output)")
            #expect(try run(["person", "reads"] + person + ["--text", "--json"]).status == 2)
        }
    }

    @Test func thePersonComesFromAFileStandardInputOrTheEnvironment() throws {
        try withDaemon { daemon in
            var outputs: [String] = []
            /// The CLI with `environment` added, standard input from `input`; output and errors together.
            func run(_ arguments: [String], input: String = "/dev/null", environment: [String] = []) throws -> (
                status: Int32, output: String
            ) {
                let command = ["/usr/bin/env"] + environment + [fascicoloBinary()] + arguments + ["--socket", daemon.socket]
                let quoted = command.map { "'" + $0.replacingOccurrences(of: "'", with: #"'\''"#) + "'" }
                let result = try runProcess("/bin/sh", ["-c", quoted.joined(separator: " ") + " < '\(input)' 2>&1"])
                outputs.append(result.output)
                return result
            }
            let personFile = daemon.directory + "/person.txt"
            try writeFile(personFile, Self.codiceFiscale.lowercased() + "\r\nthe rest is ignored\n")
            let registrationFile = daemon.directory + "/registration.json"
            try writeFile(registrationFile, Self.registration)

            // From a file (its first line).
            let registered = try run(["person", "record", "--person-file", personFile] + Self.actor + [registrationFile])
            #expect(registered.status == 0, "\(registered.output)")
            let pseudonym = try #require(firstPseudonym(in: registered.output), "\(registered.output)")
            #expect(!registered.output.contains("warning"), "\(registered.output)")
            // From standard input.
            let fromInput = try run(["person", "show", "--person-file", "-"], input: personFile)
            #expect(fromInput.status == 0 && fromInput.output.contains("person              \(pseudonym)"), "\(fromInput.output)")
            // From the environment.
            let fromEnvironment = try run(["person", "timeline"], environment: ["FASCICOLO_PERSON=\(Self.codiceFiscale)"])
            #expect(fromEnvironment.status == 0 && fromEnvironment.output.contains(pseudonym), "\(fromEnvironment.output)")
            let state = try run(["person", "state"], environment: ["FASCICOLO_PERSON=\(Self.codiceFiscale)"])
            #expect(state.status == 0 && state.output.contains(pseudonym), "\(state.output)")
            // --person still works, with a warning that others can read it.
            let onTheCommandLine = try run(["person", "show", "--person", Self.codiceFiscale])
            #expect(onTheCommandLine.status == 0 && onTheCommandLine.output.contains(pseudonym), "\(onTheCommandLine.output)")
            #expect(
                onTheCommandLine.output.contains("warning: --person puts the person's code on the command line"),
                "\(onTheCommandLine.output)")

            // Two sources, or none, or an unusable one: exit 2, nothing sent.
            let entries = try daemon.json("/v1/health/ready")["entries"] as? Int
            let emptyFile = daemon.directory + "/empty.txt"
            try writeFile(emptyFile, "\n")
            let refusals: [([String], [String], String)] = [
                (["person", "show", "--person", Self.codiceFiscale, "--person-file", personFile], [], "give exactly one"),
                (["person", "show", "--person-file", personFile], ["FASCICOLO_PERSON=\(Self.codiceFiscale)"], "give exactly one"),
                (
                    ["person", "erase", "--person", Self.codiceFiscale, "--legal-ground", "art17_request", "--reference", "x", "--yes"],
                    ["FASCICOLO_PERSON=\(Self.codiceFiscale)"], "give exactly one"
                ),
                (["person", "show"], [], "which person?"),
                (["person", "show", "--person-file", emptyFile], [], "the person is empty"),
                (["person", "show", "--person-file", daemon.directory + "/missing.txt"], [], "--person-file"),
                (["person", "show"], ["FASCICOLO_PERSON=RSS MRA"], "printable ASCII, no spaces"),
                (["person", "record", "--person-file", "-"] + Self.actor + ["-"], [], "can come from standard input"),
            ]
            for (arguments, environment, message) in refusals {
                let result = try run(arguments, input: personFile, environment: environment)
                #expect(
                    result.status == 2 && result.output.contains(message), "\(arguments) \(environment) → \(result.status) \(result.output)"
                )
            }
            #expect(try daemon.json("/v1/health/ready")["entries"] as? Int == entries, "nothing was sent")
            #expect(try daemon.call("/v1/streams/access:\(pseudonym)/events").body.contains("\"entries\":[") == true)

            // The help says how, and why.
            let help = try cli(["person", "show", "--help"])
            #expect(
                help.output.contains("--person-file <path>") && help.output.contains("FASCICOLO_PERSON")
                    && help.output.contains("Other local users"), "\(help.output)")
            for output in outputs {
                #expect(!output.uppercased().contains(Self.codiceFiscale), "the codice fiscale was printed: \(output)")
            }
        }
    }

    @Test func backupWithTheSecretKeysThenRestoreKeepsThePersonalDataReadable() throws {
        try withDaemon { daemon in
            let data = daemon.directory + "/data"
            let registrationFile = daemon.directory + "/registration.json"
            try writeFile(registrationFile, Self.registration)
            let registered = try cli(daemon, ["person", "record", "--person", Self.codiceFiscale] + Self.actor + [registrationFile])
            #expect(registered.status == 0, "\(registered.output)")
            let pseudonym = try #require(firstPseudonym(in: registered.output))
            let secrets = ["signing.key", "pseudonym.key", "records.key"]

            // With the secret keys: all three, private, identical.
            let withKeys = daemon.directory + "/backup-keys"
            let copied = try cli(["backup", data, withKeys, "--include-secret-keys"])
            #expect(copied.status == 0, "\(copied.output)")
            #expect(copied.output.contains("signing.key, pseudonym.key and records.key copied (mode 0600)"), "\(copied.output)")
            var info = stat()
            for name in secrets {
                #expect(stat(withKeys + "/" + name, &info) == 0 && info.st_mode & 0o777 == 0o600, "\(name)")
                #expect(readBytes(withKeys + "/" + name) == readBytes(data + "/" + name), "\(name)")
            }
            let json = try parseObject(
                try cliStandardOutput(["backup", data, daemon.directory + "/backup-json", "--include-secret-keys", "--json"]))
            #expect(json["secretKeysCopied"] as? [String] == secrets && json["secretKeyIncluded"] as? Bool == true)
            // Without: none of them, and the message names them all.
            let withoutKeys = daemon.directory + "/backup-plain"
            let plain = try cli(["backup", data, withoutKeys])
            #expect(plain.status == 0, "\(plain.output)")
            #expect(
                plain.output.contains("signing.key, pseudonym.key and records.key not copied")
                    && plain.output.contains("--signing-key, --pseudonym-key, --records-key"), "\(plain.output)")
            #expect(secrets.allSatisfy { access(withoutKeys + "/" + $0, F_OK) != 0 })

            // A records.key that is not this log's is refused before anything is touched.
            let stranger = daemon.directory + "/stranger.key"
            try writeFile(stranger, String(repeating: "k", count: 32))
            chmod(stranger, 0o600)
            let wrong = try cli(["restore", withoutKeys, daemon.directory + "/restored-wrong", "--records-key", stranger])
            #expect(wrong.status == 2 && wrong.output.contains("is not this log's records.key"), "\(wrong.output)")
            #expect(access(daemon.directory + "/restored-wrong", F_OK) != 0)
            chmod(stranger, 0o644)
            let open = try cli(["restore", withoutKeys, daemon.directory + "/restored-wrong", "--pseudonym-key", stranger])
            #expect(open.status == 2 && open.output.contains("chmod 600"), "\(open.output)")
            // A pseudonym.key is checked against the value the daemon stored for it.
            chmod(stranger, 0o600)
            let wrongPseudonym = try cli(["restore", withoutKeys, daemon.directory + "/restored-wrong", "--pseudonym-key", stranger])
            #expect(
                wrongPseudonym.status == 2 && wrongPseudonym.output.contains("is not this log's pseudonym.key"), "\(wrongPseudonym.output)")
            #expect(access(daemon.directory + "/restored-wrong", F_OK) != 0)

            // Restored without the domain's keys: the warning names them, and the daemon indeed refuses the log.
            let partial = daemon.directory + "/restored-partial"
            let warned = try cli(["restore", withoutKeys, partial, "--signing-key", data + "/signing.key"])
            #expect(warned.status == 0, "\(warned.output)")
            #expect(
                warned.output.contains("WARNING: \(partial) has no pseudonym.key and records.key")
                    && warned.output.contains("--pseudonym-key, --records-key"), "\(warned.output)")
            let partialConfig = try restoredConfig(daemon, partial, socket: daemon.directory + "/partial.sock")
            let refusal = try runProcess("/usr/bin/timeout", ["20", productsDirectory() + "/fascicolod", "--config", partialConfig])
            #expect(refusal.status == 1 && refusal.output.contains("pseudonym.key"), "\(refusal.output)")
            // Then given: installed, the replaced files kept, no warning.
            let completed = try cli([
                "restore", withoutKeys, partial, "--force", "--pseudonym-key", data + "/pseudonym.key",
                "--records-key", data + "/records.key",
            ])
            #expect(
                completed.status == 0 && completed.output.contains("installed pseudonym.key and records.key (mode 0600)"),
                "\(completed.output)")
            #expect(completed.output.contains("signing.key is the key that signed this log: left in place"), "\(completed.output)")
            #expect(!completed.output.contains("WARNING"), "\(completed.output)")

            // From the backup with the keys: all three back, private; then the daemon serves the case file, personal fields opened.
            let restored = daemon.directory + "/restored"
            let result = try cli(["restore", withKeys, restored])
            #expect(result.status == 0, "\(result.output)")
            #expect(
                result.output.contains("installed signing.key, pseudonym.key and records.key (mode 0600)")
                    && !result.output.contains("WARNING"),
                "\(result.output)")
            for name in secrets {
                #expect(stat(restored + "/" + name, &info) == 0 && info.st_mode & 0o777 == 0o600, "\(name)")
                #expect(readBytes(restored + "/" + name) == readBytes(data + "/" + name), "\(name)")
            }
            // Again over it with --force: the keys in place are this log's, and stay.
            let again = try parseObject(try cliStandardOutput(["restore", withKeys, restored, "--force", "--json"]))
            #expect(
                again["secretKeysKeptInPlace"] as? [String] == secrets && again["secretKeysMissing"] as? [String] == []
                    && again["hasPersons"] as? Bool == true, "\(again)")

            daemon.kill(SIGTERM)
            let socket = daemon.directory + "/restored.sock"
            let second = try RunningDaemon(
                directory: daemon.directory, configPath: try restoredConfig(daemon, restored, socket: socket),
                socket: socket)
            defer { second.kill(SIGKILL) }
            let shown = try cli(["person", "show", "--person", Self.codiceFiscale, "--socket", socket])
            #expect(shown.status == 0, "\(shown.output)")
            #expect(
                shown.output.contains("person              \(pseudonym)") && shown.output.contains(#""familyName":"Rossi""#)
                    && shown.output.contains(#""address":"Via Pretoria 12, Potenza""#), "\(shown.output)")
            #expect(!shown.output.uppercased().contains(Self.codiceFiscale))
        }
    }

    /// A configuration for a daemon on `directory`, like `withDaemon`'s.
    func restoredConfig(_ daemon: RunningDaemon, _ directory: String, socket: String) throws -> String {
        let config = directory + ".toml"
        try writeFile(
            config,
            """
            [storage]
            data_directory = "\(directory)"
            [socket]
            path = "\(socket)"
            [access]
            admin = "uid:0"
            [ledger]
            checkpoint_every_milliseconds = 50
            [domain]
            reference_directory = "\(packageDirectory())/Config/reference"
            """)
        return config
    }
}

/// Runs `fascicolo` with standard input from `input` (a path), as `uid` when given; output and errors together.
func cliWithInput(_ arguments: [String], input: String, as uid: UInt32? = nil) throws -> (status: Int32, output: String) {
    try #require(access(fascicoloBinary(), X_OK) == 0, "build fascicolo first (tools/test does)")
    var command = [fascicoloBinary()] + arguments
    if let uid { command = ["setpriv", "--reuid=\(uid)", "--regid=0", "--clear-groups"] + command }
    let quoted = command.map { "'" + $0.replacingOccurrences(of: "'", with: #"'\''"#) + "'" }
    return try runProcess("/bin/sh", ["-c", quoted.joined(separator: " ") + " < '\(input)' 2>&1"])
}

/// The first 32 lower-case hex digits in `text`: a pseudonym.
func firstPseudonym(in text: String) -> String? {
    text.range(of: "[0-9a-f]{32}", options: .regularExpression).map { String(text[$0]) }
}

/// `fascicolo person export` against a real daemon: the bundle file (mode 0600) and its HTML
/// page, the person kept off the command line, the refusals.
@Suite(.serialized) struct PersonExportCLITests {
    @Test func exportWritesTheBundleAndThePageWithModeSixHundred() throws {
        try withDaemon(access: "auditor = \"uid:4242\"") { daemon in
            let personFile = daemon.directory + "/person.txt"
            try writeFile(personFile, PersonCLITests.codiceFiscale + "\n")
            let person = ["--person-file", personFile]
            let registrationFile = daemon.directory + "/registration.json"
            try writeFile(registrationFile, PersonCLITests.registration)
            let registered = try cliWithInput(
                ["person", "record"] + person + PersonCLITests.actor + [registrationFile, "--socket", daemon.socket], input: "/dev/null")
            try #require(registered.status == 0, "\(registered.output)")
            let pseudonym = try #require(firstPseudonym(in: registered.output))

            let bundlePath = daemon.directory + "/bundle.json"
            let htmlPath = daemon.directory + "/bundle.html"
            let exported = try cliWithInput(
                ["person", "export"] + person
                    + ["--purpose", "richiesta di accesso art. 15", "--out", bundlePath, "--html", htmlPath, "--socket", daemon.socket],
                input: "/dev/null")
            #expect(exported.status == 0, "\(exported.output)")
            #expect(
                exported.output.contains("exported person \(pseudonym) at checkpoint size")
                    && exported.output.contains("1 in person:\(pseudonym), 1 in access:\(pseudonym)"), "\(exported.output)")
            for path in [bundlePath, htmlPath] {
                var status = stat()
                #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600, "\(path) is mode 0600")
            }
            let bundle = try parseObject(readFile(bundlePath))
            #expect(bundle["format"] as? String == "fascicolo-person-bundle/1" && bundle["person"] as? String == pseudonym)
            #expect(bundle["purpose"] as? String == "richiesta di accesso art. 15")
            let html = readFile(htmlPath)
            #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("Via Pretoria 12, Potenza") && html.contains("<td>export</td>"))
            for text in [exported.output, readFile(bundlePath), html] { #expect(!text.contains(PersonCLITests.codiceFiscale)) }

            // Without --out the bundle is standard output (an auditor's here); a uid without
            // the role is refused (exit 1), and so is an export without a purpose (exit 2:
            // ArgumentParser, nothing sent).
            let standardOutput = try cliStandardOutput(
                ["person", "export"] + person + ["--purpose", "verifica", "--socket", daemon.socket])
            #expect(try parseObject(standardOutput)["person"] as? String == pseudonym)
            let auditor = try cliWithInput(
                ["person", "export", "--person-file", "-", "--purpose", "verifica", "--socket", daemon.socket], input: personFile,
                as: 4242)
            #expect(auditor.status == 0 && auditor.output.contains("exported person \(pseudonym)"), "\(auditor.output)")
            let writer = try cliWithInput(
                ["person", "export"] + person + ["--purpose", "verifica", "--socket", daemon.socket], input: "/dev/null", as: 4343)
            #expect(writer.status == 1 && writer.output.contains("forbidden"), "\(writer.output)")
            let noPurpose = try cliWithInput(["person", "export"] + person + ["--socket", daemon.socket], input: "/dev/null")
            #expect(noPurpose.status == 2, "\(noPurpose.output)")
        }
    }
}
