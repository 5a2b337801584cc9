import ArgumentParser
import FascicoloOperations

/// `fascicolo bundle verify FILE` checks a person bundle offline (Formats.md, "Person bundles");
/// `fascicolo bundle show FILE` prints it (BundleShow.swift).
struct BundleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Check or show a person bundle (from `fascicolo person export`), offline.",
        subcommands: [VerifyBundle.self, BundleShow.self])
}

struct VerifyBundle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that a person bundle is authentic, unaltered and complete, without the daemon.",
        discussion: """
            Checks every rule of "A bundle verifies" (Formats.md) in order and stops at the first \
            that does not hold, naming the stream, version and position. On success it prints what \
            the bundle establishes: the person, the checkpoint (size, time), the entries and head \
            of each stream, whether the fields are in clear or erased, the witnesses that cosigned. \
            Obtain the log's verifier key out of band and pass it with --key: without it the key \
            the bundle carries is used, which only shows that the bundle agrees with itself. \
            tools/verify-bundle.py makes the same checks without this project's code.
            """ + "\n" + Exit.help)

    @Argument(help: "The bundle (JSON).")
    var file: String

    @Option(help: "The log's verifier key ('<name>+<key id>+<base64 key>'), obtained out of band.")
    var key: String?

    @Option(
        help: ArgumentHelp("A witness's cosignature/v1 key; its cosignature must be on the checkpoint (repeatable).", valueName: "vkey"))
    var witness: [String] = []

    func run() throws {
        let report: BundleVerification.Report
        do {
            report = try BundleVerification.run(path: file, key: key, witnesses: witness)
        } catch let error as OperationError {
            throw OperationOutput.report(error, json: false)
        }
        for line in Self.lines(report) { Terminal.out(line) }
    }

    /// The same lines as tools/verify-bundle.py prints.
    static func lines(_ report: BundleVerification.Report) -> [String] {
        var lines = [
            "OK: the person bundle verifies",
            "  log:        \(report.origin) (key ID \(report.keyID))"
                + (report.keyFromBundle
                    ? " -- key taken from the bundle itself: this only shows the bundle is consistent with the key it carries; pass --key with a key obtained out of band"
                    : ", the key given with --key"),
            "  checkpoint: size \(report.size), signed \(utc(report.signedAtSeconds))",
            "  person:     \(report.person)",
        ]
        for stream in report.streams {
            let head = stream.head.map { "version \($0.version) at position \($0.position)" } ?? "none (no entry: proven absent)"
            lines.append("  \(stream.name): \(stream.entries) entries, head \(head), complete up to size \(report.size)")
        }
        switch report.fields {
        case .clear: lines.append("  fields:     in clear, each matching its sealed bytes")
        case .erased: lines.append("  fields:     erased (dataKey is null; the person stream holds ErasureExecuted)")
        case .none: lines.append("  fields:     none (no data key, and no entry has sealed fields)")
        }
        if report.witnesses.isEmpty {
            lines.append("  witnesses:  none asked for (--witness)")
        }
        for witness in report.witnesses {
            lines.append("  witness:    \(witness.name) (\(witness.keyID)) cosigned, at \(utc(witness.timestampSeconds))")
        }
        lines.append(
            "  exported:   \(report.exportedAt ?? "None") for purpose \(report.purpose.map { "'\($0)'" } ?? "None") (as the bundle says)")
        return lines
    }

    static func utc(_ seconds: UInt64) -> String { BundleVerification.utc(seconds) }
}
