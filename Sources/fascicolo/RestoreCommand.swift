import ArgumentParser
import FascicoloCrypto
import FascicoloOperations
import Glibc

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put a backup in place as a data directory, after verifying it. The daemon must be stopped.",
        discussion: """
            Refused while a fascicolod runs on DATADIR (it holds DATADIR/fascicolod.lock; the lock \
            is held here until the restore is done, so none can start meanwhile), and refused when \
            DATADIR holds data unless --force — even then the files replaced are kept beside \
            the new ones as <name>.replaced-<time>, never deleted. The backup is verified in full \
            first, the restored directory again (fast) after copying. New files are copied under \
            temporary names and renamed into place only once all are copied: a failed restore \
            changes nothing in DATADIR.

            The secret keys installed are those given with --signing-key (checked against the \
            backup's signing.pub, and with --key that must be the key given), --pseudonym-key and \
            --records-key (checked against the check values and data keys in the backup, when it \
            has any), else those the backup holds (backup \
            --include-secret-keys); all with mode 0600. A key already in DATADIR stays in place when \
            it is the one to install, or when none is given and it is not another log's (a \
            signing.key that did not sign this log, or a records.key that does not open its data \
            keys, is kept aside like the replaced files). fascicolod refuses to start on a log \
            whose signing key is missing, and on a log with case files (person streams) whose \
            pseudonym.key or records.key is missing: without them no codice fiscale finds its case \
            file and no personal field can be read. The end of the run names any secret file \
            still missing.

            """ + Exit.help)

    @Argument(help: "The backup directory (made by 'fascicolo backup').")
    var backup: String

    @Argument(help: "The data directory to restore into: new, empty, or (with --force) holding data to replace.")
    var dataDirectory: String

    @Flag(help: "Replace the data of a stopped daemon (the replaced files are kept as <name>.replaced-<time>).")
    var force = false

    @Option(help: ArgumentHelp("Install this signing.key (mode 0600) with the restored log.", valueName: "path"))
    var signingKey: String?

    @Option(help: ArgumentHelp("Install this pseudonym.key (mode 0600) with the restored log.", valueName: "path"))
    var pseudonymKey: String?

    @Option(help: ArgumentHelp("Install this records.key (mode 0600) with the restored log.", valueName: "path"))
    var recordsKey: String?

    @Option(
        help: ArgumentHelp(
            "Verify the backup against this key '<name>+<key id>+<base64 key>' instead of its signing.pub.", valueName: "vkey"))
    var key: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        var operation = RestoreOperation(backup: backup, dataDirectory: dataDirectory)
        operation.force = force
        operation.signingKey = signingKey
        operation.pseudonymKey = pseudonymKey
        operation.recordsKey = recordsKey
        operation.verifierKey = key
        let result: RestoreOperation.Result
        do { result = try operation.run(observer: OperationOutput.show) } catch { throw OperationOutput.report(error, json: json) }
        let report = result.verification
        let keptInPlace = result.keptInPlace.map(\.name)
        if json {
            func list(_ names: [String]) -> String { "[" + names.map(jsonString).joined(separator: ",") + "]" }
            Terminal.out(
                """
                {"ok":true,"backup":\(jsonString(backup)),"dataDirectory":\(jsonString(dataDirectory)),\
                "entries":\(report.entries),"streams":\(report.streams),"checkpoints":\(report.checkpoints),\
                "signingKeyInstalled":\(result.signingKeyInPlace),"secretKeysInstalled":\(list(result.installed)),\
                "secretKeysKeptInPlace":\(list(keptInPlace)),"secretKeysMissing":\(list(result.missing)),\
                "hasPersons":\(result.hasPersons),"keptAside":\(list(result.keptAside)),\
                "verifySeconds":\(Terminal.format(report.elapsedSeconds, decimals: 3)),"copySeconds":\(Terminal.format(result.copySeconds, decimals: 3))}
                """)
        } else {
            Terminal.out(
                "OK: the backup verifies (full): \(report.entries) entries, \(report.streams) streams, "
                    + "\(report.checkpoints) checkpoints, in \(Terminal.format(report.elapsedSeconds, decimals: 2)) s")
            Terminal.out(
                "restored \(backup) into \(dataDirectory) in \(Terminal.format(result.copySeconds, decimals: 2)) s; "
                    + "the restored copy verifies (fast)")
            if !result.installed.isEmpty {
                Terminal.out("installed \(DataDirectory.listed(result.installed)) (mode 0600)")
            }
            if !result.keptAside.isEmpty {
                Terminal.out(
                    "the replaced files are kept in \(dataDirectory) as \(result.keptAside.joined(separator: ", ")); "
                        + "remove them once the restored log is in service")
            }
            if geteuid() == 0 && result.owner == nil {
                Terminal.out("the restored files belong to root: if fascicolod runs as another user, chown -R that user \(dataDirectory)")
            }
            for (name, reason) in result.keptInPlace {
                let path = dataDirectory + "/" + name
                switch reason {
                case .signedThisLog: Terminal.out("\(path) is the key that signed this log: left in place")
                case .sameAsGiven: Terminal.out("\(path) is the one given: left in place")
                case .opensDataKeys: Terminal.out("\(path) opens this log's data keys: left in place")
                case .unchecked: Terminal.out("\(path) left in place (it cannot be checked against the log: make sure it is this log's)")
                }
            }
        }
        if !result.missing.isEmpty { warnAboutMissingKeys(result) }
    }

    /// What the daemon will do without the secret files still missing, and how to put them back.
    private func warnAboutMissingKeys(_ result: RestoreOperation.Result) {
        let missing = result.missing
        var consequences: [String] = []
        if missing.contains(KeyFile.secretName) {
            consequences.append("it refuses to start on a log whose signing key is missing")
        }
        let domainMissing = missing.filter { $0 != KeyFile.secretName }
        if !domainMissing.isEmpty {
            consequences.append(
                result.hasPersons
                    ? "\(consequences.isEmpty ? "it refuses to start" : "and") on a log with case files without pseudonym.key "
                        + "and records.key (without them no codice fiscale finds its case file and no personal field can be read)"
                    : "\(consequences.isEmpty ? "" : "and ")this log has no case files yet, so it would make a new "
                        + "\(DataDirectory.listed(domainMissing)): put back the one\(domainMissing.count == 1 ? "" : "s") "
                        + "this log was used with, if any")
        }
        let options = missing.map(DataDirectory.restoreOption).joined(separator: ", ")
        Terminal.error(
            """
            WARNING: \(dataDirectory) has no \(DataDirectory.listed(missing)). Put \(missing.count == 1 ? "it" : "them") there \
            (mode 0600, or run restore again with \(options)) before starting fascicolod: \
            \(consequences.joined(separator: " ")).
            """)
    }
}
