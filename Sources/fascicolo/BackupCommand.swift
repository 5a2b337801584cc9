import ArgumentParser
import FascicoloOperations

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a data directory — also while the daemon runs — and verify the copy.",
        discussion: """
            The copy is one consistent snapshot made with LMDB's own compacting copy, so it is \
            safe next to a running fascicolod and needs no pause. DEST is created with mode 0700 \
            (or must be an empty directory). signing.pub is copied; the secret keys are not, unless \
            --include-secret-keys is given (then with mode 0600): signing.key, which signs the log, \
            and the domain's pseudonym.key (turns a codice fiscale into the person's pseudonym) and \
            records.key (opens the persons' data keys). Without the latter two, a restored log's \
            personal data cannot be read and the daemon refuses to start on a log with case files: \
            keep all three in their own safe place, or in the backup. The copy is then verified in \
            full (every signature, hash, index and checkpoint) against --key, or the copied signing.pub.

            """ + Exit.help)

    @Argument(help: "The data directory to back up.")
    var dataDirectory: String

    @Argument(help: "Where to put the copy: a new or empty directory.")
    var destination: String

    @Flag(help: "Copy the secret keys too — signing.key, pseudonym.key, records.key (mode 0600).")
    var includeSecretKeys = false

    /// The flag's earlier name.
    @Flag(name: .customLong("include-secret-key"), help: .hidden)
    var includeSecretKeyAlias = false

    var copiesSecretKeys: Bool { includeSecretKeys || includeSecretKeyAlias }

    @Option(
        help: ArgumentHelp("Verify the copy against this key '<name>+<key id>+<base64 key>' instead of signing.pub.", valueName: "vkey"))
    var key: String?

    @Flag(help: "Verify the copy without the entries' signatures (hashes, indexes, checkpoint signatures only).")
    var fast = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        var operation = BackupOperation(source: dataDirectory, destination: destination)
        operation.copiesSecretKeys = copiesSecretKeys
        operation.verifierKey = key
        operation.fast = fast
        let result: BackupOperation.Result
        do { result = try operation.run(observer: OperationOutput.show) } catch { throw OperationOutput.report(error, json: json) }
        let report = result.verification
        let secrets = result.secretKeys
        if json {
            Terminal.out(
                """
                {"ok":true,"source":\(jsonString(dataDirectory)),"destination":\(jsonString(destination)),\
                "entries":\(report.entries),"streams":\(report.streams),"checkpoints":\(report.checkpoints),\
                "bytes":\(result.bytes),"sourceUsedBytes":\(result.sourceUsedBytes),"secretKeyIncluded":\(copiesSecretKeys),\
                "secretKeysCopied":[\((copiesSecretKeys ? secrets : []).map(jsonString).joined(separator: ","))],\
                "verification":\(jsonString(fast ? "fast" : "full")),\
                "copySeconds":\(Terminal.format(result.copySeconds, decimals: 3)),"verifySeconds":\(Terminal.format(report.elapsedSeconds, decimals: 3))}
                """)
            return
        }
        Terminal.out(
            "backed up \(dataDirectory) to \(destination): \(report.entries) entries, \(report.streams) streams, "
                + "\(report.checkpoints) checkpoints, \(humanBytes(result.bytes)) (compacted from \(humanBytes(result.sourceUsedBytes)) "
                + "in use); copied in \(Terminal.format(result.copySeconds, decimals: 2)) s")
        Terminal.out("OK: the copy verifies (\(fast ? "fast" : "full")) in \(Terminal.format(report.elapsedSeconds, decimals: 2)) s")
        let names = DataDirectory.listed(secrets)
        if copiesSecretKeys {
            Terminal.out("\(names) copied (mode 0600): this backup can sign and open personal data — guard it like the keys themselves")
        } else {
            let options = secrets.map(DataDirectory.restoreOption).joined(separator: ", ")
            Terminal.out(
                "\(names) not copied: keep \(secrets.count == 1 ? "it" : "them") in \(secrets.count == 1 ? "its" : "their") own safe place "
                    + "(restore \(options) put\(secrets.count == 1 ? "s" : "") \(secrets.count == 1 ? "it" : "them") back)")
        }
    }
}
