import FascicoloTesting
import Foundation
import Glibc
import Testing

/// `fascicolo siuss export` and `siuss register` against a real daemon: the files are 0600 and
/// hold the codice fiscale; nothing else does — not the command's output, not the data directory,
/// not the daemon's log.
@Suite(.serialized) struct SiussCLITests {
    static let codiceFiscale = "BNCLRA80A41F052Z"

    @Test func exportWritesPrivateFilesAndTheRegisterShowsThem() throws {
        try withDaemon(access: "auditor = \"uid:4242\"\nwriter = \"uid:4343\"") { daemon in
            let path = """
                {"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1980,"sex":"F","citizenship":"italian","comuneOfResidence":"F052"}},
                {"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"families_minors","ente":"Comune di Potenza","ambito":"potenza"}},
                {"type":"TakenInCharge","occurredAt":"2026-01-15","data":{"date":"2026-01-15","basis":"request"}},
                {"type":"PreliminaryAnalysisCompleted","occurredAt":"2026-01-16","data":{"outcome":"in_depth_assessment","date":"2026-01-16"}},
                {"type":"InDepthAssessmentCompleted","occurredAt":"2026-01-18","data":{"team":["as"],"dimensions":["family"],"instrument":"icf","date":"2026-01-18"}},
                {"type":"PlanDrafted","occurredAt":"2026-01-20","data":{"objectives":["casa"]}},
                {"type":"PlanSigned","occurredAt":"2026-01-22","data":{"plan":6,"date":"2026-01-22","signatories":["interessata"]}},
                {"type":"InterventionRequested","occurredAt":"2026-01-23","data":{"code":"SAD","provider":"Coop Aurora","fundingLine":"fnps"}},
                {"type":"InterventionStarted","occurredAt":"2026-01-26","data":{"intervention":8,"date":"2026-01-26"}},
                {"type":"ServiceDelivered","occurredAt":"2026-01-27","data":{"intervention":8,"date":"2026-01-27","minutes":60}}
                """
            let recorded = try daemon.call(
                "/v1/persons/events", method: "POST", body: DomainEndToEndTests.body(path, person: Self.codiceFiscale), as: 4343)
            try #require(recorded.status == 201, "\(recorded.body)")

            let out = daemon.directory + "/../siuss-out"
            let exported = try cli(daemon, ["siuss", "export", "--from", "2026-01-01", "--to", "2026-02-28", out])
            #expect(exported.status == 0, "\(exported.output)")
            #expect(exported.output.contains("3 insertions, 0 cancellations, 1 persons"), "\(exported.output)")
            #expect(!exported.output.contains(Self.codiceFiscale))
            var info = stat()
            #expect(stat(out, &info) == 0 && info.st_mode & 0o777 == 0o700)
            for name in ["SIUSS_PS_PSA.csv", "SIUSS_SINBA.csv", "SIUSS_SINA.csv", "SIUSS_SIP.csv"] {
                #expect(stat(out + "/" + name, &info) == 0 && info.st_mode & 0o777 == 0o600, "\(name)")
            }
            let benefits = try String(contentsOfFile: out + "/SIUSS_PS_PSA.csv", encoding: .utf8)
            #expect(benefits.split(separator: "\n").count == 3 && benefits.contains(";\(Self.codiceFiscale);A2.07;SAD;fnps;202601;"))
            let sinba = try String(contentsOfFile: out + "/SIUSS_SINBA.csv", encoding: .utf8)
            #expect(sinba.contains("I;V6;80000000001;\(Self.codiceFiscale);1980;F;2026-01-18;icf;2026-01-22;families_minors"), "\(sinba)")

            // Again: nothing changed, nothing sent.
            let again = try cli(daemon, ["siuss", "export", "--json", "--from", "2026-01-01", "--to", "2026-02-28", out])
            let figures = try parseObject(again.output)
            #expect(figures["insertions"] as? Int == 0 && figures["cancellations"] as? Int == 0, "\(again.output)")

            // The register, as an auditor: the plan and the prestazione sent, with the file's digest.
            let register = try cliWithInput(
                ["siuss", "register", "--json", "--sent", "true", "--socket", daemon.socket], input: "/dev/null", as: 4242)
            let rows = try #require(try parseObject(register.output)["rows"] as? [[String: Any]], "\(register.output)")
            #expect(rows.map { $0["position"] as? Int } == [6, 7] && rows.allSatisfy { ($0["fileSHA256"] as? String)?.count == 64 })
            // A writer may not export.
            let refused = try cliWithInput(
                ["siuss", "export", "--from", "2026-01-01", "--to", "2026-02-28", out, "--socket", daemon.socket], input: "/dev/null",
                as: 4343)
            #expect(refused.status != 0)

            daemon.kill(SIGTERM)
            // No file of the data directory holds the codice fiscale (the daemon's log is one of them).
            for name in try FileManager.default.subpathsOfDirectory(atPath: daemon.directory) {
                let path = daemon.directory + "/" + name
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                    let data = FileManager.default.contents(atPath: path)
                else { continue }
                #expect(data.range(of: Data(Self.codiceFiscale.utf8)) == nil, "the codice fiscale is in clear in \(name)")
            }
        }
    }
}
