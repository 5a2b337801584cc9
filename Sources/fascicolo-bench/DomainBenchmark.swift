import ArgumentParser
import FascicoloDomain
import Glibc

/// `fascicolo-bench domain`: domain appends (codice fiscale validation and pseudonym, schema and
/// reference-data validation, path rules, sealing the personal fields, signing) through the
/// daemon, against generic appends of the same shape in the same invocation. The domain layer's
/// cost is the drop from the generic rate.
struct DomainBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "domain",
        abstract: "Domain appends over the socket against generic appends of the same size, same run.")

    @Option(help: "Seconds per scenario.")
    var seconds: Double = 3

    @Option(help: "The fascicolod binary (default: the one next to this benchmark).")
    var daemon: String?

    @Option(help: "The reference data directory.")
    var reference = "Config/reference"

    @Option(help: "Client counts to run (default 1, 8 and 64).")
    var clients: [Int] = [1, 8, 64]

    @Option(help: "Events per append to run (default 1 and 100).")
    var batch: [Int] = [1, 100]

    @Option(
        help: "Rounds per scenario, generic and domain alternating; the medians are printed (these VMs drift by 20% from minute to minute)."
    )
    var rounds: Int = 3

    @Flag(help: "Run only the domain appends (for profiling the daemon).")
    var domainOnly = false

    func run() throws {
        let binary = daemon ?? (executableDirectory() + "/fascicolod")
        let referencePath = reference.hasPrefix("/") ? reference : Self.currentDirectory() + "/" + reference
        let load = SocketLoad(binary: binary, seconds: seconds, reference: referencePath)
        printOut(
            "fascicolo-bench domain — \(ProcessInfo.cores) cores, \(format(seconds, 1)) s per scenario, durable commits; "
                + "each client appends ReviewHeld events (a sealed personal note) to its own person")
        printOut("")
        printOut(
            "each scenario: \(rounds) rounds of generic then domain, \(format(seconds, 1)) s each; medians, and the range of the rounds' ratios"
        )
        printOut("")
        printOut(
            "clients  events/append  generic ev/s  domain ev/s  domain/generic  (rounds)       domain p50 ms  p99 ms  p999 ms  daemon cpu generic/domain"
        )
        var writers: [String] = []
        for clients in clients {
            for batch in batch {
                var generic: [SocketBenchmark.Run] = []
                var domain: [SocketBenchmark.Run] = []
                for _ in 0..<max(1, rounds) {
                    if !domainOnly {
                        generic.append(
                            try load.run(clients: clients, subscribe: false) { client in Self.genericPlan(client: client, batch: batch) })
                    }
                    domain.append(
                        try load.run(clients: clients, subscribe: false) { client in Self.domainPlan(client: client, batch: batch) })
                }
                let ratios = zip(domain, generic).map { $0.eventsPerSecond / $1.eventsPerSecond * 100 }.sorted()
                let genericRate = generic.isEmpty ? nil : median(generic.map(\.eventsPerSecond))
                let domainRun = domain.sorted { $0.eventsPerSecond < $1.eventsPerSecond }[domain.count / 2]
                let genericRun = generic.sorted { $0.eventsPerSecond < $1.eventsPerSecond }.dropFirst(generic.count / 2).first
                for (kind, run) in [("generic", genericRun), ("domain", domainRun)] {
                    guard let run else { continue }
                    writers.append(pad("\(clients)", 7) + pad("\(batch)", 15) + pad(kind, 9) + run.writerColumns(seconds: seconds))
                }
                printOut(
                    pad("\(clients)", 7) + pad("\(batch)", 15) + pad(genericRate.map { format($0) } ?? "-", 14)
                        + pad(format(domainRun.eventsPerSecond), 13)
                        + pad(ratios.isEmpty ? "-" : format(median(ratios)) + "%", 16)
                        + pad(ratios.isEmpty ? "" : "(" + format(ratios.first!) + "–" + format(ratios.last!) + "%)", 14)
                        + pad(format(domainRun.latency.p50, 2), 15) + pad(format(domainRun.latency.p99, 2), 8)
                        + pad(format(domainRun.latency.p999, 2), 9)
                        + pad(
                            (generic.isEmpty ? "-" : format(median(generic.map(\.daemonCores)) * 100) + "%") + " / "
                                + format(domainRun.daemonCores * 100) + "%", 28))
            }
        }
        printOut("")
        printOut("the writer thread per group commit, in the median runs (see `fascicolo-bench socket`)")
        printOut(
            "clients  events/append  kind     events/commit  wait ms  sign ms  write ms  sync ms  writer busy  projections' lag at the end")
        writers.forEach(printOut)
    }

    /// The middle value (the mean of the two middle ones for an even count).
    func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static let actor = #""actor":{"operator":"op-bench","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"}"#
    static let review =
        #"{"type":"ReviewHeld","occurredAt":"2026-02-01","data":{"date":"2026-02-01","nextReviewDue":"2026-05-01","findings":"Colloquio di verifica: la persona partecipa al tirocinio con regolarità; nessuna criticità."}}"#

    /// A distinct, valid codice fiscale per client.
    static func codiceFiscale(_ client: Int) -> String {
        let year = 50 + client / 28
        let day = 1 + client % 28
        return PersonIdentifier.codiceFiscale(completing: "BNCHMR\(year)A\(day < 10 ? "0" : "")\(day)H501")
    }

    static func domainPlan(client: Int, batch: Int) -> SocketLoad.ClientPlan {
        let person = codiceFiscale(client)
        let setup =
            #"{"person":"\#(person)",\#(actor),"events":[{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1960,"sex":"M","citizenship":"italian","comuneOfResidence":"G942","givenName":"Bianco","familyName":"Homer"}},{"type":"CaseOpened","occurredAt":"2026-01-11","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}},{"type":"TakenInCharge","occurredAt":"2026-01-12","data":{"date":"2026-01-12","basis":"request"}}]}"#
        let events = Array(repeating: review, count: batch).joined(separator: ",")
        return SocketLoad.ClientPlan(
            setup: [(path: "/v1/persons/events", body: Array(setup.utf8))], path: "/v1/persons/events",
            body: Array(#"{"person":"\#(person)",\#(actor),"events":[\#(events)]}"#.utf8), events: batch)
    }

    static let genericReview =
        #"{"type":"ReviewHeld","data":{"occurredAt":"2026-02-01","date":"2026-02-01","nextReviewDue":"2026-05-01","findings":"Colloquio di verifica: la persona partecipa al tirocinio con regolarità; nessuna criticità."}}"#

    /// The same events as generic appends: the same fields, no validation, nothing sealed.
    static func genericPlan(client: Int, batch: Int) -> SocketLoad.ClientPlan {
        let events = Array(repeating: genericReview, count: batch).joined(separator: ",")
        return SocketLoad.ClientPlan(
            setup: [], path: "/v1/streams/bench-\(client)/events",
            body: Array(#"{"events":[\#(events)]}"#.utf8), events: batch)
    }

    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
