import FascicoloConcurrency
import FascicoloDaemon
import FascicoloDomain
import FascicoloTesting
import Foundation
import Glibc
import Logging
import Testing

/// The routes read "today" from the daemon's clock: a daemon in this process, its clock fixed,
/// asked over its socket with curl.
@Suite(.serialized) struct WallClockEndToEndTests {
    @Test func theCaseloadCountsOverdueReviewsAsOfTheDaemonsToday() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = DaemonConfiguration()
            configuration.dataDirectory = directory + "/data"
            configuration.referenceDirectory = packageDirectory() + "/Config/reference"
            configuration.ledger.unsafeNoSync = true
            // 2026-02-15T10:00:00Z: the review due 2026-03-01 is not overdue yet (it is by the
            // system's clock, long after this test was written).
            var logger = Logger(label: "test")
            logger.logLevel = .critical  // cancelling the server at the end is not news
            let daemon = try Daemon(
                configuration: configuration, wallClock: .fixed(millisecondsSinceEpoch: 1_771_149_600_000),
                logger: logger)
            let running = Task { try await daemon.run() }
            defer { running.cancel() }
            let socket = configuration.resolvedSocketPath
            // Up to a minute: on a loaded machine (CI, parallel builds) the start has taken longer than 5 s.
            for _ in 0..<6_000 where access(socket, F_OK) != 0 { try await Task.sleep(for: .milliseconds(10)) }

            let events = """
                \(DomainEndToEndTests.registration),
                {"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}},
                {"type":"TakenInCharge","occurredAt":"2026-01-15","data":{"date":"2026-01-15","basis":"request"}},
                {"type":"ReviewHeld","occurredAt":"2026-02-01","data":{"date":"2026-02-01","nextReviewDue":"2026-03-01","findings":"ok"}}
                """
            let request = try RecordRequest.parse(Array(DomainEndToEndTests.body(events).utf8), eventsMax: 100)
            let recorded = try await daemon.caseFiles.record(request, author: "uid:0/test")
            let last = try #require(recorded.append.positions.last)

            let result = try runProcess(
                "/usr/bin/env",
                [
                    "curl", "-s", "--max-time", "60", "--unix-socket", socket,
                    "http://localhost/v1/caseload?by=ambito&reflects=\(last)&timeoutMs=30000",
                ])
            let answer = try #require(
                try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
            let rows = try #require(answer["rows"] as? [[String: Any]], "\(answer)")
            #expect(rows.count == 1 && rows.first?["takenInCharge"] as? Int == 1, "\(rows)")
            #expect(rows.first?["reviewsOverdue"] as? Int == 0, "\(rows)")

            running.cancel()
            _ = try? await running.value
        }
    }
}
