import FascicoloDomain
import FascicoloLedger
import FascicoloTesting
import FascicoloWorkload
import Foundation
import Glibc
import Testing

/// A daemon killed (SIGKILL) in the middle of building its projections resumes each build from
/// its last committed batch, and ends with exactly the rows an uninterrupted rebuild produces.
@Suite(.serialized) struct ProjectionCrashTests {
    @Test func aBuildKilledMidwayResumesAndEqualsAnUninterruptedRebuild() async throws {
        try await withTemporaryDirectory { directory in
            chmod(directory, 0o755)
            // A generated log, written before any daemon ran: the first start builds every projection.
            do {
                let ledger = try Ledger.open(directory: directory + "/data")
                defer { ledger.close() }
                let reference = try ReferenceData.load(directory: packageDirectory() + "/Config/reference")
                let files = try CaseFiles.open(ledger: ledger, directory: directory + "/data", reference: reference)
                var generator = PathGenerator(seed: 0xC4A5_2026, persons: 80, reference: reference.current)
                generator.readProbability = 0.5
                try await WorkloadDriver(files: files).run(&generator)
            }
            let socket = directory + "/api.sock"
            let config = directory + "/fascicolod.toml"
            try writeFile(
                config,
                """
                [storage]
                data_directory = "\(directory)/data"
                [socket]
                path = "\(socket)"
                [access]
                admin = "uid:0"
                [domain]
                reference_directory = "\(packageDirectory())/Config/reference"
                [projections]
                build_batch_entries_max = 8
                """)
            let daemon = try RunningDaemon(directory: directory, configPath: config, socket: socket)
            defer { daemon.kill(SIGKILL) }

            func statuses() throws -> [[String: Any]] {
                try #require(try daemon.json("/v1/projections")["projections"] as? [[String: Any]])
            }
            func buildPosition(_ status: [String: Any]) -> Int { (status["build"] as? [String: Any])?["position"] as? Int ?? 0 }
            // Kill it once every build has committed something, well before any has finished.
            var midway: [[String: Any]] = []
            for _ in 0..<2_000 {
                midway = try statuses()
                if midway.allSatisfy({ buildPosition($0) > 0 }) { break }
                sleepMilliseconds(5)
            }
            daemon.kill(SIGKILL)
            #expect(
                midway.contains { $0["state"] as? String == "building" && buildPosition($0) < ($0["logSize"] as? Int ?? 0) },
                "the builds finished before the kill: \(midway)")

            try daemon.restart()
            func waitUntilLive(_ what: String, _ done: ([[String: Any]]) -> Bool) throws {
                for _ in 0..<6_000 {
                    if done(try statuses()) { return }
                    sleepMilliseconds(10)
                }
                Issue.record("timed out waiting for \(what): \(try statuses())")
            }
            try waitUntilLive("the resumed builds") { $0.allSatisfy { $0["state"] as? String == "live" && $0["lag"] as? Int == 0 } }
            let resumed = try statuses()
            for status in resumed {
                let name = try #require(status["name"] as? String)
                let resumedRecord = try #require(status["lastRebuild"] as? [String: Any])
                #expect(resumedRecord["position"] as? Int == status["position"] as? Int)
                // The serving generation's digest now equals the one recorded when the build finished…
                #expect(try daemon.json("/v1/projections/\(name)/digest")["digest"] as? String == resumedRecord["digest"] as? String)
                // … and an uninterrupted rebuild of the same log produces the same digest.
                #expect(try daemon.call("/v1/projections/\(name)/rebuild", method: "POST").status == 202)
            }
            try waitUntilLive("the uninterrupted rebuilds") { statuses in
                statuses.allSatisfy { status in
                    let finished = (status["lastRebuild"] as? [String: Any])?["finishedAt"] as? String
                    let before = resumed.first { $0["name"] as? String == status["name"] as? String }
                    return status["build"] is NSNull && finished != ((before?["lastRebuild"] as? [String: Any])?["finishedAt"] as? String)
                }
            }
            for status in try statuses() {
                let before = try #require(resumed.first { $0["name"] as? String == status["name"] as? String })
                let rebuilt = try #require(status["lastRebuild"] as? [String: Any])
                let resumedRecord = try #require(before["lastRebuild"] as? [String: Any])
                #expect(rebuilt["digest"] as? String == resumedRecord["digest"] as? String, "\(status["name"] ?? "?")")
                #expect(rebuilt["position"] as? Int == resumedRecord["position"] as? Int)
            }
        }
    }
}
