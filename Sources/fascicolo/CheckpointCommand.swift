import ArgumentParser
import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger

struct CheckpointCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Print the latest signed checkpoint, or the one of a given size (roles auditor, admin).",
        discussion: """
            The C2SP signed note goes to standard output unchanged: keep it, and later prove \
            that the log only grew since with 'fascicolo proof consistency --old-checkpoint FILE'. \
            --size N asks for the stored checkpoint of exactly N entries ('fascicolo checkpoints' \
            lists them). With --verify its signature and the log's cosignature/v1 line (its \
            signed time) are checked here against --key (obtained out of band) or else the \
            daemon's /v1/keys, and the verdict goes to standard error; a note that does not \
            verify, or is not of the size asked for, exits 1. --witness KEY (repeatable) and \
            --quorum K also require K of those witnesses' cosignatures on the note (default: all).

            """ + Exit.help)

    @Option(help: "The checkpoint of exactly this many entries (default: the latest).")
    var size: UInt64?

    @Flag(help: "Check the note's signature and cosignature/v1 line.")
    var verify = false

    @Option(help: ArgumentHelp("The verifier key '<name>+<key id>+<base64 key>' (default: the daemon's /v1/keys).", valueName: "vkey"))
    var key: String?

    @OptionGroup var witnesses: WitnessOptions

    @OptionGroup var daemon: DaemonOptions

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let note = try await session.checkpointNote(size: size)
        var checked: Result<Checkpoint, Checkpoint.Failure>?
        var usedKey: DaemonSession.Key?
        var witnessed: [(name: String, timestampSeconds: UInt64)] = []
        if verify || key != nil || !witnesses.witness.isEmpty {
            let key = try await session.verifierKey(key)
            usedKey = key
            checked = Result { () throws(Checkpoint.Failure) in
                let checkpoint = try key.verify(note: note)
                // The daemon answered with another size's note: signed, but not what was asked for.
                if let size, checkpoint.size != size { throw .malformed("the note is of \(checkpoint.size) entries, not \(size)") }
                witnessed = try witnesses.check(note)
                return checkpoint
            }
        }
        if daemon.json {
            let lines = note.split(separator: "\n", omittingEmptySubsequences: false)
            var members: [(key: String, value: JSON)] = [
                ("note", .string(note)),
                ("origin", lines.count > 0 ? .string(String(lines[0])) : .null),
                ("size", lines.count > 1 && UInt64(lines[1]) != nil ? .number(String(lines[1])) : .null),
                ("root", lines.count > 2 ? .string(String(lines[2])) : .null),
            ]
            switch checked {
            case .success(let checkpoint)?:
                members += [
                    ("verified", .bool(true)), ("rootHex", .string(checkpoint.root.hex)),
                    ("timestamp", checkpoint.timestampSeconds.map { .number(String($0)) } ?? .null),
                    ("verifierKey", .string(usedKey?.text ?? "")), ("keyFromDaemon", .bool(usedKey?.fromDaemon ?? false)),
                    (
                        "witnesses",
                        .array(
                            witnessed.map { .object([("name", .string($0.name)), ("timestamp", .number(String($0.timestampSeconds)))]) })
                    ),
                ]
            case .failure(let failure)?:
                members += [("verified", .bool(false)), ("problem", .string(failure.description))]
            case nil:
                members.append(("verified", .null))
            }
            Terminal.out(JSON.object(members).compact)
        } else {
            Terminal.outRaw(note)
        }
        switch checked {
        case .success(let checkpoint)?:
            if !daemon.json, let usedKey {
                let signed = checkpoint.timestampSeconds.map { ", signed \(iso8601(seconds: $0))" } ?? ""
                Terminal.error(
                    "verified: checkpoint of \(checkpoint.size) entries, root \(checkpoint.root.hex)\(signed); "
                        + "signature and cosignature valid for \(usedKey.text) (\(usedKey.source))")
                for cosignature in witnessed {
                    Terminal.error("witnessed: cosigned by \(cosignature.name) at \(iso8601(seconds: cosignature.timestampSeconds))")
                }
            }
        case .failure(let failure)?:
            Terminal.error("FAILED: \(failure) (key \(usedKey?.text ?? "?"))")
            throw Exit.failed
        case nil:
            break
        }
    }
}
