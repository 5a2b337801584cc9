import ArgumentParser
import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger
import FascicoloOperations
import Glibc

/// `fascicolo keys`: the log's signing keys, and their rotation (Formats.md, "Key rotation").
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "The log's signing keys: list them, rotate to a new one.",
        subcommands: [KeysList.self, KeysRotate.self])
}

extension KeyRetirement: ExpressibleByArgument {}

struct KeysList: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "The log's keys, oldest first, each with the position it signs from (any role).",
        discussion: """
            The first key is the one to give verifiers (--key) out of band; each later key was \
            named by a KeyRotated entry signed by the key before it, and its rotation checkpoint \
            (signed by the key before it, with a next-key line) is checked here against the first key.

            """ + Exit.help)

    @OptionGroup var daemon: DaemonOptions

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let key = try await session.verifierKey(nil)
        if daemon.json {
            session.printRaw(try await session.get("/v1/keys"))
            return
        }
        var rows: [[String]] = []
        for (index, publicKey) in key.chain.keys.enumerated() {
            let from = index == 0 ? 0 : key.chain.rotations[index - 1].position + 1
            rows.append([
                String(index + 1), Hex.encode(key.chain.keyID(publicKey)), String(from),
                SignedNote.verifierKey(name: key.name, publicKey: publicKey),
            ])
        }
        for line in table(["#", "KEY ID", "SIGNS FROM", "VERIFIER KEY"], rows) { Terminal.out(line) }
        Terminal.error("the rotations verify from the first key, as the daemon serves it: compare it with the one you hold")
    }
}

struct KeysRotate: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Replace the signing key: a KeyRotated entry signed by the old key names a new one (admin).",
        discussion: """
            The daemon (or, with --data-directory, this command on a stopped daemon's directory) \
            makes a new Ed25519 key (signing.key, 0600), appends a KeyRotated entry signed by the \
            old key that names it, and signs a checkpoint of that size with the old key, naming \
            the new one; every later entry and checkpoint is signed by the new key. Witnesses \
            learn the new key from that checkpoint. --retire keep moves the old key to \
            retired-keys/<key id>.key (0600; keep it offline), destroy overwrites and deletes it. \
            Verifiers keep using the first key: they follow the chain. After a key compromise, \
            rotating is not enough: see docs/operations.md, "A compromised signing key".

            """ + Exit.help)

    @Option(help: "What becomes of the old key: keep (moved to retired-keys/) or destroy.")
    var retire: KeyRetirement

    @Option(help: ArgumentHelp("Rotate offline, in this stopped daemon's data directory.", valueName: "dir"))
    var dataDirectory: String?

    @OptionGroup var daemon: DaemonOptions

    func run(client: DaemonClient) async throws {
        if let dataDirectory {
            let result: KeyRotationResult
            do {
                result = try await KeyRotationOperation.run(
                    dataDirectory: dataDirectory, retire: retire, author: "uid:\(getuid())/fascicolo keys rotate")
            } catch { throw OperationOutput.report(error, json: daemon.json) }
            say(position: result.position, previous: result.previousVerifierKey, new: result.newVerifierKey, retired: result.retiredKeyPath)
            return
        }
        let session = DaemonSession(daemon, client: client)
        var body = JSONBytes()
        body.object { $0.member("retire", retire.rawValue) }
        let response = try await session.send("POST", "/v1/admin/keys/rotate", body: body.bytes)
        guard response.isSuccess else { throw session.refusal(response) }
        if daemon.json {
            session.printRaw(response)
            return
        }
        let value = try session.parse(response)
        say(
            position: value["position"]?.uint64 ?? 0, previous: value["previousKey"]?.string ?? "?",
            new: value["newKey"]?.string ?? "?", retired: retire == .keep ? "retired-keys/ in the data directory" : nil)
    }

    private func say(position: UInt64, previous: String, new: String, retired: String?) {
        Terminal.out("rotated at position \(position): KeyRotated signed by \(previous)")
        Terminal.out("new signing key: \(new)")
        Terminal.out(retired.map { "old key kept in \($0): keep it offline" } ?? "old key destroyed")
    }
}
