import ArgumentParser
import FascicoloCrypto
import FascicoloLedger
import FascicoloTesting
import Glibc
import Synchronization

/// `fascicolo-bench witnessed`: durable appends over the socket with witnesses configured
/// (real `fascicolo-witness` processes following the daemon's log) against none, rounds
/// alternating in the same invocation — issue 20 asks that witnessing cost appends under 5%.
/// Each witnessed run also counts the cosignatures the daemon kept, to show the witnesses worked.
struct WitnessedBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "witnessed", abstract: "Appends over the socket with witnesses configured against none, same run.")

    @Option(help: "Seconds per run.")
    var seconds: Double = 3

    @Option(help: "Witnesses to start for the witnessed runs.")
    var witnesses: Int = 2

    @Option(help: "Rounds per scenario (none, then witnessed); the medians are printed.")
    var rounds: Int = 3

    @Option(help: "Client counts to run.")
    var clients: [Int] = [1, 64]

    @Option(help: "Events per append to run.")
    var batch: [Int] = [1, 100]

    @Option(help: "The fascicolod binary (default: the one next to this benchmark).")
    var daemon: String?

    func run() throws {
        let binary = daemon ?? (executableDirectory() + "/fascicolod")
        let witnessBinary = executableDirectory() + "/fascicolo-witness"
        guard access(witnessBinary, X_OK) == 0 else { throw ValidationError("\(witnessBinary) is missing: build it first") }
        printOut(
            "fascicolo-bench witnessed — \(ProcessInfo.cores) cores, \(format(seconds, 1)) s per run, \(witnesses) witnesses "
                + "(fascicolo-witness processes, durable state) against none; \(rounds) rounds alternating, medians")
        printOut("")
        printOut("clients  events/append  none ev/s  witnessed ev/s  witnessed/none  (rounds)       cosignatures kept per run")
        let cosigned = Mutex<[Int]>([])
        let plain = SocketLoad(binary: binary, seconds: seconds, reference: nil)
        var witnessed = plain
        witnessed.prepare = { directory in
            try Self.startWitnesses(witnesses, binary: witnessBinary, directory: directory) { count in
                cosigned.withLock { $0.append(count) }
            }
        }
        for clients in clients {
            for batch in batch {
                var none: [Double] = []
                var with: [Double] = []
                cosigned.withLock { $0 = [] }
                for _ in 0..<max(1, rounds) {
                    none.append(try plain.run(clients: clients, subscribe: false) { Self.plan(client: $0, batch: batch) }.eventsPerSecond)
                    with.append(
                        try witnessed.run(clients: clients, subscribe: false) { Self.plan(client: $0, batch: batch) }.eventsPerSecond)
                }
                let ratios = zip(with, none).map { $0 / $1 * 100 }.sorted()
                printOut(
                    pad("\(clients)", 7) + pad("\(batch)", 15) + pad(format(median(none)), 11) + pad(format(median(with)), 16)
                        + pad(format(median(ratios)) + "%", 16) + pad("(" + format(ratios.first!) + "–" + format(ratios.last!) + "%)", 16)
                        + cosigned.withLock { $0.map(String.init).joined(separator: ", ") })
            }
        }
    }

    static func plan(client: Int, batch: Int) -> SocketLoad.ClientPlan {
        var body = Array("{\"events\":[".utf8)
        for offset in 0..<batch {
            if offset > 0 { body.append(UInt8(ascii: ",")) }
            body += Array("{\"type\":\"BenchmarkEvent\",\"data\":".utf8) + samplePayload(client * 1_000 + offset) + [UInt8(ascii: "}")]
        }
        body += Array("]}".utf8)
        return SocketLoad.ClientPlan(setup: [], path: "/v1/streams/bench-\(client)/events", body: body, events: batch)
    }

    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    /// The daemon's key made before it starts (so the witnesses can follow its log), `count`
    /// witnesses initialised and serving on free ports; the configuration that lists them, and a
    /// cleanup that stops them and reports how many cosignatures the daemon kept.
    static func startWitnesses(
        _ count: Int, binary: String, directory: String, kept: @escaping @Sendable (Int) -> Void
    ) throws -> (configuration: String, cleanup: @Sendable () -> Void) {
        mkdir(directory + "/data", 0o700)
        let seed = (0..<SigningKey.seedByteCount).map { _ in UInt8.random(in: 0...255) }
        guard let key = SigningKey(seed: seed) else { throw ValidationError("cannot make a key") }
        try seed.withUnsafeBytes { try KeyFile.writeNewSecret(path: directory + "/data/" + KeyFile.secretName, bytes: $0) }
        let logKey = SignedNote.verifierKey(name: "fascicolo.invalid/ledger", publicKey: key.publicKey)
        var pids: [pid_t] = []
        var list: [String] = []
        for index in 0..<count {
            let home = directory + "/witness-\(index)"
            mkdir(home, 0o700)
            let configuration = home + "/witness.toml"
            try writeFile(
                configuration,
                """
                [witness]
                name = "witness.bench/w\(index)"
                data_directory = "\(home)/state"
                logs = ["\(logKey)"]
                [http]
                port = 0
                """)
            let initialised = try runProcess(binary, ["init", "--config", configuration])
            guard initialised.status == 0, let vkey = initialised.output.split(separator: "\n").first else {
                throw ValidationError("fascicolo-witness init failed: \(initialised.output)")
            }
            let log = home + "/serve.log"
            let pid = try spawn(binary, ["serve", "--config", configuration], outputFile: log)
            pids.append(pid)
            var port: Int?
            for _ in 0..<1_000 where port == nil {
                port = readFile(log).firstMatch(of: /listening host=127\.0\.0\.1 port=(\d+)/).flatMap { Int($0.1) }
                if port == nil { usleep(10_000) }
            }
            guard let port else { throw ValidationError("fascicolo-witness did not start: \(readFile(log))") }
            list.append("\"\(vkey) http://127.0.0.1:\(port)\"")
        }
        let stop = pids
        return (
            "[witnesses]\nlist = [\(list.joined(separator: ", "))]\n",
            {
                for pid in stop {
                    kill(pid, SIGTERM)
                    var status: Int32 = 0
                    waitpid(pid, &status, 0)
                }
                kept(readFile(directory + "/data/witness-cosignatures").split(separator: "\n").count)
            }
        )
    }
}
