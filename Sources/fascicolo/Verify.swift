import ArgumentParser
import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger
import FascicoloOperations

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every signature, hash, index and checkpoint of a data directory, offline.",
        discussion: """
            Read-only and safe while the daemon runs: it checks one consistent snapshot. \
            On failure it names the first bad position and exits 1. A log is checked against \
            itself, so entries cut from its end with their Merkle nodes and later checkpoints \
            would not show: --checkpoint FILE (a signed checkpoint saved elsewhere, e.g. from \
            `fascicolo checkpoint`) makes the log prove it still reaches that size with that root.
            """ + "\n" + Exit.help)

    @Argument(help: "The data directory.")
    var dataDirectory: String

    @Flag(help: "Check hashes, indexes and checkpoint signatures, but not each entry's signature.")
    var fast = false

    @Option(help: "Verify against this key ('<name>+<key id>+<base64 key>') instead of the directory's signing.pub.")
    var key: String?

    @Option(help: ArgumentHelp("A signed checkpoint note kept elsewhere that the log must contain (repeatable).", valueName: "file"))
    var checkpoint: [String] = []

    @Option(
        help: ArgumentHelp(
            "Receipts kept from appends (fascicolo append --receipts FILE): one JSON object per line; "
                + "each entry must be in the log (repeatable).", valueName: "file"))
    var receipts: [String] = []

    @OptionGroup var witnesses: WitnessOptions

    @Option(help: "Threads to use (default: all cores).")
    var threads: Int?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        var notes: [String] = []
        for file in checkpoint {
            do { notes.append(String(decoding: try Files.read(file, limit: 64 << 10), as: UTF8.self)) } catch {
                Terminal.error("error: --checkpoint: \(error)")
                throw Exit.couldNotRun
            }
        }
        var kept: [Verifier.Receipt] = []
        for file in receipts {
            let text: [UInt8]
            do { text = try Files.read(file, limit: 1 << 30) } catch {
                Terminal.error("error: --receipts: \(error)")
                throw Exit.couldNotRun
            }
            for (number, line) in text.split(separator: UInt8(ascii: "\n")).enumerated()
            where !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) {
                guard let value = try? JSON.parse(line), let signed = value["signedBytes"]?.string.flatMap(Base64.decode),
                    let signature = value["signature"]?.string.flatMap(Base64.decode)
                else {
                    Terminal.error("error: --receipts \(file): line \(number + 1) is not a receipt {\"signedBytes\":…,\"signature\":…}")
                    throw Exit.couldNotRun
                }
                kept.append(Verifier.Receipt(signedBytes: signed, signature: signature))
            }
        }
        var options = Verifier.Options()
        options.fast = fast
        options.trustedCheckpoints = notes
        options.receipts = kept
        if let threads { options.threads = max(1, threads) }
        let verification: DirectoryVerification.Result
        do {
            verification = try DirectoryVerification.run(
                dataDirectory, key: key, options: options, label: fast ? "verify --fast" : "verify",
                observer: OperationOutput.show)
        } catch {
            throw OperationOutput.report(error, json: json)
        }
        let (report, domain) = (verification.log, verification.domain)
        if !witnesses.witness.isEmpty { try checkWitnessed() }
        let rate = report.elapsedSeconds > 0 ? Int(Double(report.entries) / report.elapsedSeconds) : 0
        if json {
            Terminal.out(
                """
                {"ok":true,"mode":\(jsonString(fast ? "fast" : "full")),"entries":\(report.entries),\
                "checkpoints":\(report.checkpoints),"checkpointsGiven":\(notes.count),"streams":\(report.streams),\
                "idempotencyRows":\(report.idempotencyRows),"sealsChecked":\(report.sealsChecked),\
                "persons":\(domain?.persons ?? 0),"dataKeys":\(domain?.keyRows ?? 0),"aliases":\(domain?.aliasRows ?? 0),\
                "seconds":\(Terminal.format(report.elapsedSeconds, decimals: 3)),"entriesPerSecond":\(rate)}
                """)
        } else {
            Terminal.out(
                "OK: \(report.entries) entries, \(report.streams) streams, \(report.checkpoints) checkpoints, "
                    + "\(report.idempotencyRows) idempotency rows verified (\(fast ? "fast" : "full")) in \(Terminal.format(report.elapsedSeconds, decimals: 2)) s, \(rate) entries/s"
                    + (notes.isEmpty ? "" : "; the log contains the \(notes.count) checkpoints given")
                    + (kept.isEmpty ? "" : "; every one of the \(kept.count) receipts is in the log"))
            if let domain {
                Terminal.out(
                    "   \(domain.persons) case files: \(domain.keyRows) data keys and \(domain.aliasRows) identity links match the log"
                        + (domain.keysOpened ? ", every data key opens with records.key" : " (records.key absent: keys not opened)"))
            }
            if let keys = report.keys, !keys.rotations.isEmpty {
                Terminal.out(
                    "   \(keys.keys.count) signing keys, from the first, \(SignedNote.verifierKey(name: keys.origin, publicKey: keys.first)); "
                        + "rotated at positions \(keys.rotations.map { String($0.position) }.joined(separator: ", ")), "
                        + "each signed by the key it replaces; every entry signed by the key current at its position")
            }
            if !report.sealsChecked {
                Terminal.out("note: the side tables' seals were not checked: they need signing.key (the secret), not in this directory")
            }
        }
    }

    /// The latest checkpoint, with the cosignatures the daemon kept (`witness-cosignatures`),
    /// must carry the --witness keys' (--quorum of them): otherwise exit 1.
    private func checkWitnessed() throws {
        let note: String?
        do {
            let reader = try LedgerReader.open(directory: dataDirectory)
            defer { reader.close() }
            note = try reader.read { try $0.checkpoints().latestNote }
        } catch {
            Terminal.error("error: cannot read the latest checkpoint of \(dataDirectory): \(error)")
            throw Exit.couldNotRun
        }
        guard let note, let size = note.split(separator: "\n").dropFirst().first.flatMap({ UInt64($0) }) else {
            Terminal.out("FAILED: \(dataDirectory) has no checkpoint for witnesses to have cosigned")
            throw Exit.failed
        }
        let cosignatures = WitnessCosignatures(path: dataDirectory + "/" + WitnessCosignatures.fileName)
        do {
            for cosignature in try witnesses.check(cosignatures.witnessed(note)) {
                Terminal.out(
                    "   witnessed: the checkpoint of \(size) entries was cosigned by \(cosignature.name) at \(iso8601(seconds: cosignature.timestampSeconds))"
                )
            }
        } catch {
            Terminal.out("FAILED: the latest checkpoint (\(size) entries) is not witnessed as asked: \(error)")
            throw Exit.failed
        }
    }
}
