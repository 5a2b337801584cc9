import ArgumentParser
import FascicoloDomain
import FascicoloJSON
import FascicoloServer
import FascicoloWorkload
import Glibc

/// `fascicolo-bench append-body`: the cost of reading generic append bodies (what
/// `POST /v1/streams/{stream}/events` does before anything is stored), per event, on bodies made
/// of the workload's own event payloads. (Dec 2026, 2-core VM: 1,159 ns per event of 179 bytes,
/// against 2,529 for the hand-written tokenizer it replaced, which read `data` twice.)
struct AppendBodyBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append-body",
        abstract: "Append bodies parsed per second, on the workload's payloads.")

    @Option(help: "Bodies to build from the workload (each read once per round).")
    var bodies = 20_000

    @Option(help: "Rounds; the median is printed (these VMs drift by 20% from minute to minute).")
    var rounds = 5

    @Option(help: "The reference data directory.")
    var reference = "Config/reference"

    func run() throws {
        let referencePath = reference.hasPrefix("/") ? reference : DomainBenchmark.currentDirectory() + "/" + reference
        let table = try ReferenceData.load(directory: referencePath).current
        let samples = Self.appendBodies(count: bodies, reference: table)
        let events = samples.reduce(0) { $0 + $1.events }
        let bytes = samples.reduce(0) { $0 + $1.body.count }
        printOut("fascicolo-bench append-body — \(samples.count) bodies, \(events) events, \(bytes / max(events, 1)) bytes per event")
        printOut("ns/event, median of \(rounds) (thread CPU time)   rounds")
        let perEvent = (0..<max(1, rounds)).map { _ in
            measure(samples, events: events) { body in (try? AppendBody.parse(body))?.events.count ?? -1 }
        }
        printOut(
            pad(format(median(perEvent), 0), 8) + "                                   "
                + perEvent.map { format($0, 0) }.joined(separator: " "))
    }

    /// Parses every body once; the CPU nanoseconds of this thread per event.
    private func measure(_ samples: [(body: [UInt8], events: Int)], events: Int, _ parse: ([UInt8]) -> Int) -> Double {
        var parsed = 0
        let start = Self.threadNanoseconds()
        for sample in samples { parsed += parse(sample.body) }
        let elapsed = Double(Self.threadNanoseconds() - start)
        precondition(parsed == events, "a workload body was refused")
        return elapsed / Double(events)
    }

    /// CPU time of this thread: other processes on a shared machine do not count.
    static func threadNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Generic append bodies carrying the events of the workload's domain requests: each event's
    /// `data` as the workload wrote it, with an idempotency key.
    static func appendBodies(count: Int, reference: ReferenceTable) -> [(body: [UInt8], events: Int)] {
        var generator = PathGenerator(seed: 17, persons: max(100, count / 10), reference: reference)
        var result: [(body: [UInt8], events: Int)] = []
        while result.count < count, let step = generator.next() {
            guard case .record(_, let request) = step, let events = (try? JSON.parse(request))?["events"]?.array else { continue }
            var body = JSONBytes()
            body.raw("{\"events\":[")
            for (index, event) in events.enumerated() {
                if index > 0 { body.raw(",") }
                body.raw("{\"type\":")
                body.string(event["type"]?.string ?? "")
                body.raw(",\"data\":")
                body.value(event["data"] ?? .null)
                body.raw("}")
            }
            body.raw("],\"expectedVersion\":\"any\",\"idempotencyKey\":")
            body.string("bench-\(result.count)")
            body.raw("}")
            result.append((body.bytes, events.count))
        }
        return result
    }

    /// The middle value (the mean of the two middle ones for an even count).
    func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
