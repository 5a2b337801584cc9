import FascicoloServer
import Hummingbird
import Testing

/// `GET /metrics`: the Prometheus registry's text, with the names the daemon has always used.
@Suite struct MetricsTests {
    @Test func theMetricNamesAndTheirValuesStay() async throws {
        try await TestServer.run { server in
            #expect(try await server.append("case-1", #"{"events":[{"type":"X","data":1},{"type":"Y","data":2}]}"#).status == 201)
            try await server.append("case-1", #"{"events":[{"type":"X","data":1}],"expectedVersion":0}"#)
                .expectProblem(409, "wrong_expected_version")
            let scrape = try await server.call(.get, "/metrics")
            #expect(scrape.status == 200 && scrape.headers[.contentType] == "text/plain; version=0.0.4")
            let text = scrape.body
            for line in [
                "fascicolo_appends_total 1", "fascicolo_events_appended_total 2", "fascicolo_log_entries 2.0",
                #"fascicolo_rejections_total{code="wrong_expected_version"} 1"#, "fascicolo_storage_writable 1.0",
                "fascicolo_commit_failures_total 0", "fascicolo_connections 0.0", "fascicolo_request_read_timeouts_total 0",
                #"fascicolo_connections_refused_total{reason="per_uid"} 0"#, #"fascicolo_append_latency_seconds_bucket{le="+Inf"} 1"#,
                "fascicolo_append_latency_seconds_count 1", #"fascicolo_projection_failed{projection="timeline"} 0.0"#,
            ] {
                #expect(text.split(separator: "\n").contains { $0 == line }, "\(line) missing in\n\(text)")
            }
            for name in [
                "fascicolo_commits_total", #"fascicolo_commit_seconds_total{phase="sync"}"#,
                #"fascicolo_append_latency_seconds_bucket{le="0.0005"}"#, #"fascicolo_projection_position{projection="cases"}"#,
                #"fascicolo_projection_lag_entries{projection="compliance"}"#,
            ] {
                #expect(text.contains("\n" + name + " "), "\(name) missing")
            }
            #expect(text.contains("# TYPE fascicolo_appends_total counter") && text.contains("# TYPE fascicolo_log_entries gauge"))
            #expect(text.contains("# HELP fascicolo_append_latency_seconds Time from receiving an append to its durable commit."))
        }
    }

    /// The age of the latest checkpoint is left to Prometheus (`time() - …`): the daemon says
    /// when it was signed.
    @Test func theLatestCheckpointIsExportedAsItsSigningTime() async throws {
        try await TestServer.run { server in
            #expect(try await server.append("s", #"{"events":[{"type":"X","data":1}]}"#).status == 201)
            var note = try await server.call(.get, "/v1/checkpoints/latest")
            for _ in 0..<100 where note.status != 200 {
                try await Task.sleep(for: .milliseconds(20))
                note = try await server.call(.get, "/v1/checkpoints/latest")
            }
            let signed = try #require(try server.ledger.latestCheckpoint()?.timestampSeconds)
            let text = try await server.call(.get, "/metrics").body
            #expect(text.contains("\nfascicolo_checkpoint_timestamp_seconds \(Double(signed))\n"), "\(text)")
            #expect(!text.contains("fascicolo_checkpoint_age_seconds"))
        }
    }

    /// Request metrics are labelled with the route's pattern, never the URL: no position,
    /// stream name or other client text reaches the scrape.
    @Test func requestMetricsCarryRoutePatternsNotURLs() async throws {
        try await TestServer.run { server in
            #expect(try await server.append("case-zqxjwv", #"{"events":[{"type":"X","data":1}]}"#).status == 201)
            #expect(try await server.call(.get, "/v1/streams/case-zqxjwv/events").status == 200)
            try await server.call(.get, "/v1/entries/918273645").expectProblem(404, "not_found")
            try await server.call(.get, "/nowhere/kwyjibo").expectProblem(404, "not_found")
            try await server.call(.get, "/v1/log", as: TestServer.writer).expectProblem(403, "forbidden")
            let text = try await server.call(.get, "/metrics").body
            #expect(text.contains(#"http_route="/v1/entries/{position}""#), "\(text)")
            #expect(text.contains(#"http_route="/v1/streams/{stream}/events""#))
            #expect(text.contains("http_server_request_duration"))
            for secret in ["zqxjwv", "918273645", "kwyjibo", "nowhere"] {
                #expect(!text.contains(secret), "\(secret) is in the scrape")
            }
        }
    }
}
