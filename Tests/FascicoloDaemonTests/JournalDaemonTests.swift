import FascicoloTesting
import Glibc
import Testing

/// The daemon with the commit journal on (`storage.journal = true`): killed with SIGKILL after
/// acknowledged appends, with no checkpoint since (a long interval), it starts again — the start's
/// structure check reads the last synced snapshot, the open applies the journal — and serves
/// every acknowledged event; `fascicolo verify` refuses the directory while the journal is
/// unapplied and passes once the daemon has stopped cleanly.
@Suite(.serialized) struct JournalDaemonTests {
    @Test func aKilledDaemonWithTheJournalKeepsEveryAcknowledgedAppend() throws {
        try withTemporaryDirectory { directory in
            let socket = directory + "/api.sock"
            let config = directory + "/fascicolod.toml"
            try writeFile(
                config,
                """
                [storage]
                data_directory = "\(directory)/data"
                journal = true
                journal_bytes = 8_388_608
                journal_checkpoint_milliseconds = 600_000
                [socket]
                path = "\(socket)"
                [access]
                admin = "uid:\(getuid())"
                [domain]
                reference_directory = "\(packageDirectory())/Config/reference"
                """)
            func start(_ name: String) throws -> pid_t {
                let log = directory + "/\(name).log"
                let pid = try spawn(productsDirectory() + "/fascicolod", ["--config", config], outputFile: log)
                for _ in 0..<3000 where !readFile(log).contains("listening") { sleepMilliseconds(10) }
                try #require(readFile(log).contains("listening"), "\(readFile(log))")
                return pid
            }
            func call(_ path: String, body: String? = nil) throws -> (status: Int, body: String) {
                var arguments = ["curl", "-s", "--max-time", "10", "--unix-socket", socket, "-w", "\n%{http_code}"]
                if let body { arguments += ["-H", "content-type: application/json", "--data-binary", body] }
                let result = try runProcess("/usr/bin/env", arguments + ["http://localhost" + path])
                let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
                return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
            }
            let first = try start("first")
            for index in 1...20 {
                let append = try call("/v1/streams/case-journal/events", body: #"{"events":[{"type":"X","data":\#(index)}]}"#)
                #expect(append.status == 201, "\(append)")
            }
            kill(first, SIGKILL)
            var status: Int32 = 0
            waitpid(first, &status, 0)

            let verifyBefore = try runProcess(productsDirectory() + "/fascicolo", ["verify", "--fast", directory + "/data"])
            #expect(verifyBefore.status != 0 && verifyBefore.output.contains("data.journal"), "\(verifyBefore.output)")

            let second = try start("second")
            let read = try call("/v1/streams/case-journal/events")
            #expect(read.status == 200 && read.body.contains(#""streamVersion":20"#), "\(read)")
            kill(second, SIGTERM)
            waitpid(second, &status, 0)
            let verifyAfter = try runProcess(productsDirectory() + "/fascicolo", ["verify", "--fast", directory + "/data"])
            #expect(verifyAfter.status == 0, "\(verifyAfter.output)")
        }
    }
}
