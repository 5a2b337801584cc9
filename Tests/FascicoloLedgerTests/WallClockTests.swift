import FascicoloConcurrency
import FascicoloLedger
import Testing

/// The writer reads the time of day from the ledger's clock, not from the system.
@Suite struct WallClockTests {
    /// 2020-09-13T12:26:40.123Z: years before any run of this test.
    static let instant: Int64 = 1_600_000_000_123

    @Test func entriesAndCheckpointsCarryTheInjectedTime() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = testConfiguration(noSync: true)
            configuration.checkpointEveryEntries = 1
            let ledger = try Ledger.open(
                directory: directory, configuration: configuration,
                wallClock: .fixed(millisecondsSinceEpoch: Self.instant))
            defer { ledger.close() }
            _ = try await ledger.append(AppendRequest(stream: "s", events: [event("1")], author: "uid:1/app"))
            #expect(try ledger.entry(at: 0)?.recordedAtMilliseconds == Self.instant)
            #expect(try ledger.latestCheckpoint()?.timestampSeconds == UInt64(Self.instant / 1_000))
        }
    }
}
