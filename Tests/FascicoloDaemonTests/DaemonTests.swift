import FascicoloCrypto
import FascicoloDaemon
import FascicoloLedger
import FascicoloTesting
import Foundation
import Glibc
import Logging
import Testing

@Suite struct DaemonTests {
    @Test func firstStartCreatesAPrivateKeyAndASecondDaemonIsRefused() throws {
        try withTemporaryDirectory { directory in
            var configuration = DaemonConfiguration()
            configuration.dataDirectory = directory + "/data"
            let daemon = try Daemon(configuration: configuration, logger: Logger(label: "test"))
            var info = stat()
            #expect(stat(configuration.dataDirectory + "/signing.key", &info) == 0)
            #expect(info.st_mode & 0o777 == 0o600)
            #expect(stat(configuration.dataDirectory, &info) == 0 && info.st_mode & 0o077 == 0)
            // The read models' environment is as private as the log's.
            #expect(stat(configuration.dataDirectory + "/projections", &info) == 0 && info.st_mode & 0o077 == 0)
            #expect(stat(configuration.dataDirectory + "/projections/data.mdb", &info) == 0 && info.st_mode & 0o077 == 0)
            #expect(throws: DataDirectoryLock.Held.self) { try Daemon(configuration: configuration, logger: Logger(label: "test")) }
            daemon.shutdown()
        }
    }

    @Test func aKeyFileReadableByOthersIsRefusedNamingTheFileAndTheFix() throws {
        try withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory)
            ledger.close()
            let keyPath = directory + "/signing.key"
            chmod(keyPath, 0o640)
            do {
                _ = try Ledger.open(directory: directory)
                Issue.record("opened with a group-readable key")
            } catch let failure as KeyFile.Failure {
                #expect(failure.description.contains(keyPath) && failure.description.contains("chmod 600 \(keyPath)"))
            }
        }
    }

    @Test func aMissingKeyOnALogWithEntriesIsRefusedNotReplaced() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory)
            _ = try await ledger.append(AppendRequest(stream: "s", events: [NewEvent(type: "T", payload: Array("1".utf8))], author: "t"))
            ledger.close()
            unlink(directory + "/signing.key")
            do {
                _ = try Ledger.open(directory: directory)
                Issue.record("opened a log whose signing key is missing")
            } catch let failure as KeyFile.Failure {
                #expect(failure.description.contains("missing but the log has 1 entries"))
            }
            #expect(access(directory + "/signing.key", F_OK) != 0, "no new key was made")
        }
    }

    /// The real binary: starts on a fresh directory, refuses a second instance and a bad
    /// configuration with a clear message, and exits 0 on SIGTERM after signing a checkpoint.
    @Test func theDaemonBinaryStartsRefusesAndStopsCleanly() throws {
        let binary = productsDirectory() + "/fascicolod"
        try #require(access(binary, X_OK) == 0, "build fascicolod first (tools/test does)")
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            let log = directory + "/first.log"
            let pid = try spawn(binary, ["--data-dir", data], outputFile: log)
            var started = false
            for _ in 0..<500 where !started {
                usleep(10_000)
                started = readFile(log).contains("fascicolod started")
            }
            #expect(started, "\(readFile(log))")
            // The README's log line: UTC time, level, label, message, then key=value in key order.
            let line = readFile(log).split(separator: "\n").first { $0.contains("fascicolod started") }.map(String.init) ?? ""
            #expect(
                line.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z notice fascicolod: fascicolod started( \w+=\S+)+/) != nil,
                "\(line)")
            let keys = line.split(separator: " ").compactMap { word in word.firstIndex(of: "=").map { String(word[..<$0]) } }
            #expect(keys.contains("dataDirectory") && keys == keys.sorted(), "\(line)")
            let seed = readBytes(data + "/signing.key")
            #expect(seed.count == 32)
            #expect(
                !readFile(log).contains(Hex.encode(seed)) && !readFile(log).contains(Base64.encode(seed)),
                "the log must not contain the secret key")

            let second = try runProcess(binary, ["--data-dir", data])
            #expect(second.status == 1 && second.output.contains("another fascicolod holds"), "\(second.output)")

            let badConfig = directory + "/bad.toml"
            try writeFile(badConfig, "[limits]\nevents_per_append_max = -5\n")
            let refused = try runProcess(binary, ["--config", badConfig, "--data-dir", directory + "/other"])
            #expect(refused.status == 1 && refused.output.contains("limits.events_per_append_max = -5"), "\(refused.output)")
            let badFlag = try runProcess(binary, ["--data-dirr", directory + "/other"])
            #expect(badFlag.status == 2 && badFlag.output.contains("--data-dirr"), "\(badFlag.output)")
            let unreadable = directory + "/unreadable"
            try writeFile(unreadable, "")
            let notADirectory = try runProcess(binary, ["--data-dir", unreadable])
            #expect(notADirectory.status == 1 && !notADirectory.output.contains("another fascicolod"), "\(notADirectory.output)")

            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 0, "exit status \(status): \(readFile(log))")
            #expect(readFile(log).contains("fascicolod stopped"))
        }
    }

    /// A damaged log is refused at start with a report, instead of a crash at the first read;
    /// damaged read models are set aside and rebuilt from the log.
    @Test func aDamagedStoreIsRefusedAtStartAndDamagedReadModelsAreRebuilt() throws {
        var data = ""
        try withDaemon { daemon in
            data = daemon.directory + "/data"
            _ = try daemon.append("case-d", #"{"events":[{"type":"X","data":{"n":1}}]}"#)
            #expect(try daemon.json("/v1/caseload?by=ambito").count > 0)
            daemon.kill(SIGTERM)

            let binary = productsDirectory() + "/fascicolod"
            let readModels = data + "/projections/data.mdb"
            #expect(truncate(readModels, 100) == 0)
            try daemon.restart()
            #expect(try daemon.json("/v1/health/ready")["entries"] as? Int == 1)
            let aside = try FileManager.default.contentsOfDirectory(atPath: data).filter { $0.hasPrefix("projections.damaged-") }
            #expect(aside.count == 1, "\(aside)")
            daemon.kill(SIGTERM)

            let size = try #require(try FileManager.default.attributesOfItem(atPath: data + "/data.mdb")[.size] as? Int)
            #expect(truncate(data + "/data.mdb", off_t(size / 2)) == 0)
            let refused = try runProcess(binary, ["--config", daemon.configPath])
            #expect(refused.status == 1, "\(refused.output)")
            #expect(refused.output.contains("store is damaged"), "\(refused.output)")
            #expect(!refused.output.contains("listening"), "\(refused.output)")
        }
    }
}

/// A disk that fills up under the running daemon (every write and sync of data.mdb fails while a
/// marker file exists, through tools/faults/faultshim.c): the failing append is not
/// acknowledged, the next ones are refused at once with 503 storage_unavailable, health says
/// read_only and the metric 0, reads go on — and when space returns, appends are stored again.
@Suite struct DiskFullTests {
    @Test func theDaemonTurnsReadOnlyWhenTheDiskFailsAndRecovers() throws {
        try withTemporaryDirectory { directory in
            let shim = directory + "/faultshim.so"
            let built = try runProcess(
                "/usr/bin/env",
                [
                    "cc", "-shared", "-fPIC", "-O1", "-o", shim,
                    packageDirectory() + "/tools/faults/faultshim.c", "-ldl",
                ])
            try #require(built.status == 0, "\(built.output)")
            let full = directory + "/disk-is-full"
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
                [ledger]
                commit_retry_milliseconds = 100
                [domain]
                reference_directory = "\(packageDirectory())/Config/reference"
                """)
            let log = directory + "/daemon.log"
            let pid = try spawn(
                "/usr/bin/env",
                [
                    "LD_PRELOAD=\(shim)", "FAULT_AT=1", "FAULT_COUNT=0", "FAULT_ERRNO=ENOSPC",
                    "FAULT_OPS=pwrite,writev,fdatasync", "FAULT_WHILE=\(full)",
                    productsDirectory() + "/fascicolod", "--config", config,
                ], outputFile: log)
            defer {
                kill(pid, SIGTERM)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
            for _ in 0..<500 where !readFile(log).contains("listening") { sleepMilliseconds(10) }
            try #require(readFile(log).contains("listening"), "\(readFile(log))")
            func call(_ path: String, body: String? = nil) throws -> (status: Int, body: String) {
                var arguments = ["curl", "-s", "--max-time", "10", "--unix-socket", socket, "-w", "\n%{http_code}"]
                if let body { arguments += ["-H", "content-type: application/json", "--data-binary", body] }
                let result = try runProcess("/usr/bin/env", arguments + ["http://localhost" + path])
                let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
                return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
            }
            let append = #"{"events":[{"type":"X","data":1}]}"#
            #expect(try call("/v1/streams/case-full/events", body: append).status == 201)

            try writeFile(full, "")
            let failed = try call("/v1/streams/case-full/events", body: append)
            #expect(failed.status == 500 && failed.body.contains("storage_failure"), "\(failed)")
            let refused = try call("/v1/streams/case-full/events", body: append)
            #expect(refused.status == 503 && refused.body.contains("storage_unavailable"), "\(refused)")
            let ready = try call("/v1/health/ready")
            #expect(ready.status == 503 && ready.body.contains(#""status":"read_only""#), "\(ready)")
            #expect(try call("/metrics").body.contains("fascicolo_storage_writable 0"))
            let read = try call("/v1/streams/case-full/events")
            #expect(
                read.status == 200 && read.body.contains(#""streamVersion":1"#) && !read.body.contains(#""streamVersion":2"#), "\(read)")

            unlink(full)
            var stored = false
            for _ in 0..<50 where !stored {
                sleepMilliseconds(100)
                stored = try call("/v1/streams/case-full/events", body: append).status == 201
            }
            #expect(stored, "appends were not stored again once the disk had room")
            #expect(try call("/v1/health/ready").status == 200)
            #expect(try call("/metrics").body.contains("fascicolo_storage_writable 1"))
        }
    }
}
