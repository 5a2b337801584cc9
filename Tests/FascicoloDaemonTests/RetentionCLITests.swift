import FascicoloTesting
import Foundation
import Testing

/// `fascicolo compliance holds` and `fascicolo retention due|apply` against a real daemon (issue
/// 21): two closed case files, one under a legal hold; the dry run erases nothing, `--apply`
/// erases the one not held, an auditor may look but not erase, no codice fiscale is printed.
@Suite(.serialized) struct RetentionCLITests {
    static let held = "RSSMRA85T10A562S"
    static let free = "VRDLGU70A41F052O"

    @Test func holdsAndRetentionThroughTheCommandLine() throws {
        try withDaemon(access: "auditor = \"uid:4242\"") { daemon in
            var outputs: [String] = []
            func run(_ arguments: [String], as uid: UInt32? = nil) throws -> (status: Int32, output: String) {
                let result = try cliWithInput(arguments + ["--socket", daemon.socket], input: "/dev/null", as: uid)
                outputs.append(result.output)
                return result
            }
            func record(_ person: String, _ events: String) throws {
                let file = daemon.directory + "/events.json"
                try writeFile(file, "[" + events + "]")
                let recorded = try run(["person", "record", "--person", person] + PersonCLITests.actor + [file])
                try #require(recorded.status == 0, "\(recorded.output)")
            }
            let path = [
                PersonCLITests.registration,
                #"{"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}}"#,
                #"{"type":"CaseClosed","occurredAt":"2026-03-01","data":{"reason":"needs_resolved","date":"2026-03-01"}}"#,
            ].joined(separator: ",")
            try record(Self.held, path)
            try record(Self.free, path)
            try record(
                Self.held,
                #"{"type":"LegalHoldPlaced","occurredAt":"2026-03-02","data":{"ground":"litigation","reference":"R.G. 812/2026","authorisedBy":"op-7"}}"#
            )
            let entries = try #require(try daemon.json("/v1/health/ready")["entries"] as? Int)

            let holds = try run(["compliance", "holds", "--reflects", String(entries - 1)], as: 4242)
            #expect(holds.status == 0 && holds.output.contains("litigation") && holds.output.contains("R.G. 812/2026"), "\(holds.output)")

            let due = try run(["retention", "due", "--date", "2040-01-01"], as: 4242)
            #expect(
                due.status == 0 && due.output.contains("default") && due.output.contains("2036-03-01")
                    && due.output.contains("2 due on 2040-01-01 under schedule 2026.1, 1 of them held"), "\(due.output)")
            let dueJSON = try parseObject(try cliStandardOutput(daemon, ["retention", "due", "--date", "2040-01-01", "--json"]))
            #expect((dueJSON["due"] as? [Any])?.count == 2, "\(dueJSON)")
            let none = try run(["retention", "due", "--date", "2030-01-01"])
            #expect(none.status == 0 && none.output.contains("nobody is due"), "\(none.output)")

            let dry = try run(["retention", "apply", "--date", "2040-01-01"])
            #expect(dry.status == 0 && dry.output.contains("dry run: 1 would be erased"), "\(dry.output)")
            let refused = try run(["retention", "apply", "--date", "2040-01-01", "--apply"], as: 4242)
            #expect(refused.status == 1, "\(refused.output)")
            let applied = try run(["retention", "apply", "--date", "2040-01-01", "--apply", "--batch", "1"])
            #expect(
                applied.status == 0 && applied.output.contains("erased 1 persons due on 2040-01-01")
                    && applied.output.contains("1 held") && applied.output.contains("resume with --from 1"), "\(applied.output)")
            let again = try run(["retention", "apply", "--date", "2040-01-01", "--apply"])
            #expect(again.status == 0 && again.output.contains("erased 0 persons"), "\(again.output)")
            let erasures = try run(["compliance", "register", "erasures", "--reflects", String(entries)], as: 4242)
            #expect(erasures.output.contains("retention_ended"), "\(erasures.output)")

            for output in outputs {
                #expect(!output.contains(Self.held) && !output.contains(Self.free), "a codice fiscale printed: \(output)")
            }
        }
    }
}
