import FascicoloTesting
import Foundation
import Glibc
import Testing

/// `fascicolo projections …` and the read-model queries (person timeline and state, caseload,
/// interventions, indicators, compliance) against a real daemon: tables for people, the daemon's
/// JSON with --json, the codice fiscale never printed, exit 1 for a refusal and 2 for bad arguments.
@Suite(.serialized) struct ProjectionCLITests {
    static let codiceFiscale = PersonCLITests.codiceFiscale
    static let projections = ["timeline", "cases", "interventions", "compliance", "households", "siuss-register"]

    @Test func readModelsThroughTheCommandLine() throws {
        try withDaemon(access: "auditor = \"uid:4242\"") { daemon in
            var outputs: [String] = []
            func run(_ arguments: [String], as uid: UInt32? = nil) throws -> (status: Int32, output: String) {
                let result = try cliWithInput(arguments + ["--socket", daemon.socket], input: "/dev/null", as: uid)
                outputs.append(result.output)
                return result
            }
            func json(_ arguments: [String]) throws -> [String: Any] {
                let output = try cliStandardOutput(daemon, arguments + ["--json"])
                outputs.append(output)
                return try parseObject(output)
            }
            let person = ["--person", Self.codiceFiscale]

            // A person registered, a case opened and taken in charge.
            let registrationFile = daemon.directory + "/registration.json"
            try writeFile(registrationFile, PersonCLITests.registration)
            let openingFile = daemon.directory + "/opening.json"
            try writeFile(openingFile, PersonCLITests.opening)
            let registered = try run(["person", "record"] + person + PersonCLITests.actor + [registrationFile])
            #expect(registered.status == 0, "\(registered.output)")
            let pseudonym = try #require(firstPseudonym(in: registered.output), "\(registered.output)")
            let opened = try run(["person", "record"] + person + PersonCLITests.actor + [openingFile])
            #expect(opened.status == 0, "\(opened.output)")
            let written = try #require(try daemon.json("/v1/health/ready")["entries"] as? Int)
            #expect(written == 4)

            // The four projections, live and caught up.
            var statuses: [[String: Any]] = []
            for _ in 0..<200 {
                statuses = try #require(try json(["projections", "list"])["projections"] as? [[String: Any]])
                if statuses.count == 4,
                    statuses.allSatisfy({ $0["state"] as? String == "live" && ($0["position"] as? Int ?? 0) >= written })
                {
                    break
                }
                sleepMilliseconds(50)
            }
            #expect(Set(statuses.compactMap { $0["name"] as? String }) == Set(Self.projections), "\(statuses)")
            #expect(statuses.allSatisfy { $0["state"] as? String == "live" }, "\(statuses)")
            let list = try run(["projections", "list"])
            #expect(list.status == 0 && list.output.hasPrefix("NAME"), "\(list.output)")
            for name in Self.projections {
                let line = list.output.split(separator: "\n").first { $0.hasPrefix(name + " ") }
                #expect(line?.contains(" live ") == true, "\(name) in \(list.output)")
            }
            #expect(list.output.contains("LAST REBUILD") && list.output.contains("…"), "\(list.output)")

            // The timeline: the rows, the pseudonym, the personal fields opened — and not the codice fiscale.
            let timeline = try run(["person", "timeline"] + person + ["--purpose", "case review"])
            #expect(timeline.status == 0, "\(timeline.output)")
            for expected in [
                "person      \(pseudonym)", "entries     4", "case files  1", "VERSION  CASE FILE  OCCURRED AT",
                "PersonRegistered", "CaseOpened", "CaseManagerAssigned", "TakenInCharge", #""familyName":"Rossi""#,
                "reflects",
            ] {
                #expect(timeline.output.contains(expected), "\(expected) in \(timeline.output)")
            }
            let timelineJSON = try json(["person", "timeline"] + person)
            #expect(
                (timelineJSON["rows"] as? [[String: Any]])?.map { $0["type"] as? String } == [
                    "PersonRegistered", "CaseOpened", "CaseManagerAssigned", "TakenInCharge",
                ], "\(timelineJSON)")
            #expect(timelineJSON["person"] as? String == pseudonym && timelineJSON["position"] is Int && timelineJSON["lag"] is Int)
            let page = try run(["person", "timeline"] + person + ["--from", "2", "--limit", "2"])
            #expect(
                page.status == 0 && page.output.contains("CaseOpened") && !page.output.contains("PersonRegistered")
                    && page.output.contains("more entries follow (4 in all): add --from 4"), "\(page.output)")

            // The case state.
            let state = try run(["person", "state"] + person)
            #expect(state.status == 0, "\(state.output)")
            for expected in ["taken_in_charge (presa in carico)", "potenza", "op-7", "2026-01-15", pseudonym] {
                #expect(state.output.contains(expected), "\(expected) in \(state.output)")
            }
            #expect(((try json(["person", "state"] + person))["state"] as? [String: Any])?["phase"] as? String == "taken_in_charge")

            // Caseload, interventions, indicators.
            let caseload = try json(["caseload"])
            let rows = try #require(caseload["rows"] as? [[String: Any]], "\(caseload)")
            #expect(
                rows.contains { $0["id"] as? String == "op-7" && $0["open"] as? Int == 1 && $0["takenInCharge"] as? Int == 1 },
                "\(caseload)")
            #expect(caseload["position"] is Int && caseload["lag"] is Int)
            let byAmbito = try run(["caseload", "--by", "ambito"])
            #expect(
                byAmbito.status == 0 && byAmbito.output.hasPrefix("AMBITO") && byAmbito.output.contains("potenza"), "\(byAmbito.output)")
            let reflected = try json(["caseload", "--reflects", String(written - 1)])
            #expect((reflected["position"] as? Int ?? 0) >= written, "\(reflected)")
            let interventions = try run(["interventions", "--month", "2026-01"])
            #expect(interventions.status == 0 && interventions.output.contains("no interventions"), "\(interventions.output)")
            #expect(try json(["interventions", "--code", "SAD"])["rows"] as? [Any] != nil)
            let indicators = try run(["indicators", "--year", "2026"])
            #expect(
                indicators.status == 0 && indicators.output.contains("caseFiles") && indicators.output.contains("<5"),
                "\(indicators.output)")
            #expect(try json(["indicators"])["indicators"] is [String: Any])

            // Compliance: who read the file (the reads above), and the registers.
            let accesses = try run(["compliance", "accesses"] + person + ["--purpose", "audit 2026/14"])
            #expect(
                accesses.status == 0 && accesses.output.contains("POSITION  AT") && accesses.output.contains("timeline")
                    && accesses.output.contains("case review"), "\(accesses.output)")
            let erasures = try run(["compliance", "register", "erasures"])
            #expect(erasures.status == 0 && erasures.output.contains("no erasures"), "\(erasures.output)")
            #expect(try json(["compliance", "register", "voids"])["rows"] as? [Any] != nil)

            // A rebuild (admin): followed to its record, whose digest is the serving rows' digest.
            let rebuilt = try run(["projections", "rebuild", "timeline"])
            #expect(
                rebuilt.status == 0 && rebuilt.output.contains("rebuilt timeline in") && rebuilt.output.contains("digest"),
                "\(rebuilt.output)")
            let status = try json(["projections", "status", "timeline"])
            let record = try #require(status["lastRebuild"] as? [String: Any], "\(status)")
            let digest = try json(["projections", "digest", "timeline"])
            #expect(
                record["digest"] as? String == digest["digest"] as? String && (digest["digest"] as? String)?.count == 64,
                "\(record) \(digest)")
            #expect(record["position"] as? Int == digest["position"] as? Int, "no person entry since: \(record) \(digest)")
            let shown = try run(["projections", "status", "timeline"])
            #expect(
                shown.status == 0 && shown.output.contains("last rebuild digest")
                    && shown.output.contains(digest["digest"] as? String ?? "?"),
                "\(shown.output)")
            let noWait = try json(["projections", "rebuild", "cases", "--no-wait"])
            #expect(noWait["name"] as? String == "cases", "\(noWait)")
            let plain = try run(["projections", "digest", "cases"])
            #expect(plain.status == 0 && plain.output.contains("digest"), "\(plain.output)")

            // Refusals exit 1, bad arguments 2; neither repeats the person.
            let unknown = try run(["projections", "status", "nope"])
            #expect(unknown.status == 1 && unknown.output.contains("(projection_not_found, HTTP 404)"), "\(unknown.output)")
            let stranger = try run(["person", "timeline", "--person", "RSSMRA80A01H501U"])
            #expect(stranger.status == 1 && stranger.output.contains("(person_not_found, HTTP 404)"), "\(stranger.output)")
            #expect(!stranger.output.contains("RSSMRA80A01H501U"))
            if getuid() == 0 {
                let notAdmin = try run(["projections", "rebuild", "timeline"], as: 4242)
                #expect(notAdmin.status == 1 && notAdmin.output.contains("(forbidden, HTTP 403)"), "\(notAdmin.output)")
                let noPurpose = try run(["compliance", "accesses"] + person, as: 4242)
                #expect(noPurpose.status == 1 && noPurpose.output.contains("(purpose_required, HTTP 400)"), "\(noPurpose.output)")
                let audited = try run(["person", "timeline"] + person + ["--purpose", "internal audit 2026/14"], as: 4242)
                #expect(audited.status == 0 && audited.output.contains("TakenInCharge"), "\(audited.output)")
            }
            for arguments in [
                ["caseload", "--by", "comune"], ["compliance", "register", "gossip"], ["interventions", "--month", "2026-13"],
                ["indicators", "--year", "12"], ["person", "timeline"] + person + ["--limit", "0"],
                ["person", "state", Self.codiceFiscale],
            ] {
                let result = try run(arguments)
                #expect(result.status == 2, "\(arguments) → \(result.status) \(result.output)")
            }

            for output in outputs {
                #expect(!output.uppercased().contains(Self.codiceFiscale), "the codice fiscale was printed: \(output)")
            }
        }
    }
}
