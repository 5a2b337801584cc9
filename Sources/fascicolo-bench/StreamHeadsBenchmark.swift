import ArgumentParser
import FascicoloLedger

/// `fascicolo-bench stream-heads`: what the stream-head map costs when a log has many streams —
/// one checkpoint that changes every stream's head (the worst case: the first checkpoint after an
/// upgrade, or a flood of new persons), the start-up load of the map, and a head proof as a
/// person export asks for one.
struct StreamHeadsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream-heads",
        abstract: "The stream-head map with many streams: a checkpoint changing all of them, the start, a head proof.")

    @Option(help: "Streams in the log, one entry each.")
    var streams: Int = 200_000

    func run() async throws {
        printOut("fascicolo-bench stream-heads — \(ProcessInfo.cores) cores, \(streams) streams of one entry each")
        let directory = temporaryDirectory("stream-heads")
        defer { removeDirectory(directory) }
        var configuration = LedgerConfiguration()
        configuration.checkpointEveryEntries = UInt64(streams) + 1  // one checkpoint, at the end
        configuration.checkpointEveryMilliseconds = 3_600_000
        configuration.unsafeNoSync = true  // the fill is not what is measured
        let ledger = try Ledger.open(directory: directory, configuration: configuration, logger: quietLogger)
        let fillStart = monotonic.nanoseconds()
        try await withThrowingTaskGroup(of: Void.self) { group in
            let appenders = 64
            for appender in 0..<appenders {
                group.addTask {
                    for index in stride(from: appender, to: streams, by: appenders) {
                        _ = try await ledger.append(
                            AppendRequest(
                                stream: "person:\(index)", events: [NewEvent(type: "BenchmarkEvent", payload: samplePayload(index))],
                                author: "uid:0/bench"))
                    }
                }
            }
            try await group.waitForAll()
        }
        printOut("  filled in \(format(Double(monotonic.nanoseconds() - fillStart) / 1e9, 1)) s")
        let checkpointStart = monotonic.nanoseconds()
        let checkpoint = try await ledger.signCheckpoint()
        let checkpointSeconds = Double(monotonic.nanoseconds() - checkpointStart) / 1e9
        printOut(
            "one checkpoint putting \(streams) new streams into the map: \(format(checkpointSeconds * 1000, 1)) ms "
                + "(\(format(checkpointSeconds / Double(streams) * 1e6, 2)) µs per stream, table rows and hashing included)")
        ledger.close()

        let openStart = monotonic.nanoseconds()
        let reopened = try Ledger.open(directory: directory, configuration: configuration, logger: quietLogger)
        printOut(
            "start (open, load the map from stream_heads and check it against the checkpoint): "
                + "\(format(Double(monotonic.nanoseconds() - openStart) / 1e6, 1)) ms")
        var proofNanoseconds: [UInt64] = []
        var siblings = 0
        for index in stride(from: 0, to: streams, by: max(1, streams / 20)) {
            let begin = monotonic.nanoseconds()
            let proof = try reopened.read { try $0.streamHeadProof(stream: "person:\(index)") }
            proofNanoseconds.append(monotonic.nanoseconds() - begin)
            siblings += proof.siblings.count
            guard proof.root(stream: Array("person:\(index)".utf8)) == checkpoint.streamHeadsRoot else {
                throw ValidationError("a head proof does not verify")
            }
        }
        let latency = Percentiles(proofNanoseconds)
        printOut(
            "head proof from a read snapshot: p50 \(format(latency.p50, 1)) ms, max \(format(latency.p999, 1)) ms, "
                + "\(format(Double(siblings) / Double(proofNanoseconds.count), 1)) siblings on average")
        reopened.close()
    }
}
