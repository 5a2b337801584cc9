import ArgumentParser
import FascicoloConcurrency
import FascicoloCrypto
import FascicoloLedger
import FascicoloTesting
import FascicoloWitness
import Hummingbird

/// `fascicolo-bench witness`: the round trip of a tlog-witness add-checkpoint — a log's growing
/// checkpoints, each with its consistency proof from the one before, posted over HTTP on one
/// keep-alive TCP connection to the witness serving in this process, its state durable (fsync)
/// on the benchmark's disk. The same checks without HTTP are timed too, to show where time goes.
struct WitnessBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "witness", abstract: "The round trip of POST /add-checkpoint to a witness (HTTP, durable state).")

    @Option(help: "Checkpoints submitted (each one entry larger than the last).")
    var checkpoints: Int = 500

    @Option(help: "Entries in the log before the first checkpoint (the proofs' depth).")
    var entries: Int = 10_000

    func run() async throws {
        printOut("fascicolo-bench witness — \(ProcessInfo.cores) cores, \(checkpoints) checkpoints after \(entries) entries")
        let directory = temporaryDirectory("witness")
        defer { removeDirectory(directory) }
        var configuration = LedgerConfiguration()
        configuration.origin = "fascicolo.bench/ambito"
        configuration.checkpointEveryEntries = 1 << 40
        configuration.checkpointEveryMilliseconds = 3_600_000
        configuration.unsafeNoSync = true  // the log only supplies checkpoints; the witness's syncs are measured
        let ledger = try Ledger.open(directory: directory + "/log", configuration: configuration, logger: quietLogger)
        defer { ledger.close() }
        let batch = (0..<entries).map { NewEvent(type: "BenchmarkEvent", payload: samplePayload($0)) }
        for start in stride(from: 0, to: batch.count, by: 1_000) {
            _ = try await ledger.append(
                AppendRequest(stream: "bench", events: Array(batch[start..<min(start + 1_000, batch.count)]), author: "uid:0/bench"))
        }
        // Two runs' worth of bodies, prepared before the clock starts: HTTP, then in process.
        var bodies: [[UInt8]] = []
        var previous: UInt64 = 0
        var proofHashes = 0
        for index in 0..<(2 * checkpoints) {
            _ = try await ledger.append(
                AppendRequest(
                    stream: "bench", events: [NewEvent(type: "BenchmarkEvent", payload: samplePayload(index))], author: "uid:0/bench"))
            let checkpoint = try await ledger.signCheckpoint()
            let proof = previous == 0 ? [] : try ledger.consistencyProof(oldSize: previous, newSize: checkpoint.size)
            proofHashes += proof.count
            bodies.append(Array(AddCheckpointRequest(oldSize: previous, proof: proof, note: checkpoint.note).body.utf8))
            previous = checkpoint.size
        }

        let state = try WitnessState(directory: directory + "/witness")
        let witness = Witness(
            name: "witness.bench/regione", key: SigningKey(), logs: [LogKey(verifierKey: ledger.verifierKey)!], state: state,
            logger: quietLogger)
        let bound = Promise<Int>()
        var settings = WitnessServer.Settings()
        settings.port = 0
        let application = WitnessServer.application(witness: witness, settings: settings, logger: quietLogger) {
            bound.complete(.success($0))
        }
        // The server runs until the process ends (a cancellation would only log its shutdown).
        Task { try await application.runService() }
        let port = try await Task.detached { try bound.wait() }.value
        let client = try TCPClient(port: port)

        var http: [UInt64] = []
        for body in bodies.prefix(checkpoints) {
            let begin = monotonic.nanoseconds()
            let response = try client.request("POST", "/add-checkpoint", body: body)
            http.append(monotonic.nanoseconds() - begin)
            guard response.status == 200 else { throw ValidationError("the witness answered \(response.status): \(response.text)") }
        }
        var direct: [UInt64] = []
        for body in bodies.dropFirst(checkpoints) {
            let begin = monotonic.nanoseconds()
            let answer = try witness.addCheckpoint(body: body)
            direct.append(monotonic.nanoseconds() - begin)
            guard answer.status == 200 else { throw ValidationError("the witness answered \(answer.status)") }
        }
        printOut(
            "  proofs of \(format(Double(proofHashes) / Double(max(bodies.count, 1)), 1)) hashes on average; "
                + "the state committed with fsync before each answer")
        report("POST /add-checkpoint over HTTP (keep-alive)", http)
        report("the same checks in process (no HTTP)", direct)
    }

    private func report(_ label: String, _ samples: [UInt64]) {
        let sorted = samples.sorted()
        func at(_ fraction: Double) -> Double { Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]) / 1e6 }
        let mean = Double(samples.reduce(0, +)) / Double(max(samples.count, 1)) / 1e6
        printOut(
            "  \(pad(label, 46)) mean \(format(mean, 3)) ms, p50 \(format(at(0.5), 3)) ms, p90 \(format(at(0.9), 3)) ms, "
                + "p99 \(format(at(0.99), 3)) ms (\(samples.count) requests)")
    }
}
