import ArgumentParser
import FascicoloBundle
import FascicoloLedger
import Glibc

/// `fascicolo-bench export`: `POST /v1/persons/export` over the socket for one person with a
/// long history (default 1,000 case-file entries, every one with a sealed personal field) in a
/// log of many other entries — the time one export takes and the size of its bundle.
struct ExportBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Person export (the bundle of one person with a long history) over the socket: time and size.")

    @Option(help: "Entries of other streams in the log before the person's (the log the export reads proofs from).")
    var filler = 1_000_000

    @Option(help: "The person's case-file entries (a registration, an opening, a presa in carico, then reviews).")
    var entries = 1_000

    @Option(help: "Exports timed (each also adds one read to the person's access stream).")
    var rounds = 5

    @Option(help: "Keep the log in this directory and reuse it on later runs (default: a temporary one).")
    var directory: String?

    @Option(help: "The fascicolod binary (default: the one next to this benchmark).")
    var daemon: String?

    @Option(help: "The reference data directory.")
    var reference = "Config/reference"

    func run() async throws {
        let directory = self.directory ?? temporaryDirectory("export")
        defer { if self.directory == nil { removeDirectory(directory) } }
        let data = directory + "/data"
        mkdir(directory, 0o700)
        let ledger = try Ledger.open(directory: data, logger: quietLogger)
        let fresh = ledger.size == 0
        if fresh && filler > 0 {
            printOut("Building a log of \(filler) entries of other streams…")
            let start = monotonic.nanoseconds()
            try await LedgerBenchmark().fill(ledger: ledger, count: filler)
            printOut("  filled in \(format(Double(monotonic.nanoseconds() - start) / 1e9, 1)) s")
        }
        ledger.close()

        let socket = directory + "/api.sock"
        let referencePath = reference.hasPrefix("/") ? reference : DomainBenchmark.currentDirectory() + "/" + reference
        let config = """
            [storage]
            data_directory = "\(data)"
            [socket]
            path = "\(socket)"
            [access]
            admin = "uid:\(getuid())"
            [log]
            level = "warning"
            [domain]
            reference_directory = "\(referencePath)"
            """
        let configPath = directory + "/fascicolod.toml"
        let file = fopen(configPath, "w")
        fputs(config, file)
        fclose(file)
        let process = try spawnProcess(daemon ?? (executableDirectory() + "/fascicolod"), ["--config", configPath])
        defer {
            kill(process, SIGTERM)
            var status: Int32 = 0
            waitpid(process, &status, 0)
        }
        for _ in 0..<3_000 where access(socket, F_OK) != 0 { usleep(10_000) }
        usleep(100_000)
        let client = try SocketClient(path: socket)
        let person = DomainBenchmark.codiceFiscale(0)
        if fresh {
            printOut("Recording \(entries) entries for one person…")
            let setup =
                #"{"person":"\#(person)",\#(DomainBenchmark.actor),"events":[{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1960,"sex":"M","citizenship":"italian","comuneOfResidence":"G942","givenName":"Bianco","familyName":"Homer","address":"Via Pretoria 12, Potenza"}},{"type":"CaseOpened","occurredAt":"2026-01-11","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}},{"type":"TakenInCharge","occurredAt":"2026-01-12","data":{"date":"2026-01-12","basis":"request"}}]}"#
            try expect(201, client.request("POST", "/v1/persons/events", body: Array(setup.utf8)))
            var recorded = 3
            while recorded < entries {
                let count = min(100, entries - recorded)
                let events = Array(repeating: DomainBenchmark.review, count: count).joined(separator: ",")
                let body = #"{"person":"\#(person)",\#(DomainBenchmark.actor),"events":[\#(events)]}"#
                try expect(201, client.request("POST", "/v1/persons/events", body: Array(body.utf8)))
                recorded += count
            }
        }
        let headers = ["Fascicolo-Person: \(person)", "Fascicolo-Purpose: benchmark export"]
        var times: [Double] = []
        var size = 0
        var bundle: PersonBundle?
        for _ in 0..<max(1, rounds) {
            let start = monotonic.nanoseconds()
            let response = try client.request("POST", "/v1/persons/export", headers: headers)
            times.append(Double(monotonic.nanoseconds() - start) / 1e6)
            try expect(200, response)
            size = response.body.count
            bundle = try PersonBundle.parse(response.body)
        }
        let parseStart = monotonic.nanoseconds()
        _ = try PersonBundle.parse(Array(bundle?.json ?? []))
        let parseMilliseconds = Double(monotonic.nanoseconds() - parseStart) / 1e6
        let sorted = times.sorted()
        let streams = bundle?.streams.map { "\($0.entries.count) in \($0.stream.prefix(7))" }.joined(separator: ", ") ?? "?"
        let proofs = bundle?.streams.first?.entries.last?.inclusionProof.count ?? 0
        let checkpointSize = bundle?.checkpoint.split(separator: "\n").dropFirst().first ?? "?"
        printOut("")
        printOut(
            "fascicolo-bench export — \(ProcessInfo.cores) cores; one person, \(streams) entries; checkpoint size \(checkpointSize) "
                + "(inclusion proofs of \(proofs) hashes)")
        printOut(
            "export over the socket: median \(format(sorted[sorted.count / 2], 1)) ms, min \(format(sorted.first!, 1)) ms, "
                + "max \(format(sorted.last!, 1)) ms (\(sorted.count) exports; each records a read and signs a checkpoint)")
        let entryCount = bundle?.streams.reduce(0) { $0 + $1.entries.count } ?? 1
        printOut(
            "bundle: \(size) bytes (\(format(Double(size) / 1_048_576, 2)) MiB, \(size / max(1, entryCount)) bytes per entry); "
                + "PersonBundle.parse of it: \(format(parseMilliseconds, 1)) ms")
    }

    func expect(_ status: Int, _ response: (status: Int, body: [UInt8])) throws {
        guard response.status == status else {
            throw SocketClient.Failure(message: "HTTP \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
        }
    }
}
