import ArgumentParser
import FascicoloOperations
import Glibc

/// The person: from `--person-file PATH` (its first line; `-` for standard input), from the
/// environment variable `FASCICOLO_PERSON`, or from `--person VALUE` — exactly one of them. The
/// first two keep the codice fiscale off the command line, which every local user can read
/// (`ps`, `/proc/PID/cmdline`). Checked here only for what would break the request (the daemon
/// validates it); the value is never repeated in a message: it is personal data.
struct PersonOption: ParsableArguments {
    static let environmentVariable = "FASCICOLO_PERSON"
    static let sources = "--person-file PATH ('-': standard input), FASCICOLO_PERSON, or --person"

    @Option(
        help: ArgumentHelp(
            "The person on the command line: codice fiscale, STP or ENI code, or provisional:<id>. Other local users can read it "
                + "there (ps, /proc): prefer --person-file or FASCICOLO_PERSON.",
            valueName: "codice-fiscale"))
    var person: String?

    @Option(
        help: ArgumentHelp(
            "Read the person from the first line of this file ('-': standard input; not echoed on a terminal), "
                + "which keeps it off the command line; or set FASCICOLO_PERSON. Give exactly one of the three.",
            valueName: "path"))
    var personFile: String?

    /// FASCICOLO_PERSON, when set and not empty (the environment of a process is readable by its
    /// own user and root only).
    static var fromEnvironment: String? {
        guard let value = getenv(environmentVariable).map({ String(cString: $0) }), !value.isEmpty else { return nil }
        return value
    }

    /// The sources given, by name.
    var given: [String] {
        [("--person", person != nil), ("--person-file", personFile != nil), (Self.environmentVariable, Self.fromEnvironment != nil)]
            .filter(\.1).map(\.0)
    }

    func validate() throws {
        let given = given
        guard !given.isEmpty else { throw ValidationError("which person? give \(Self.sources)") }
        guard given.count == 1 else {
            throw ValidationError(
                "the person is given \(given.count) ways (\(given.joined(separator: ", "))): give exactly one of \(Self.sources)")
        }
        if let person { try Self.check(person, source: "--person") }
        if personFile?.isEmpty == true { throw ValidationError("--person-file is empty: give a path, or '-' for standard input") }
    }

    /// The person from the source given, checked; reads the file or standard input (once: call
    /// it once per command, before anything is sent). Exits 2 when it cannot be read or is not a
    /// plausible identifier.
    func resolve() throws -> ResolvedPerson {
        let value: String
        do {
            if let person {
                if Self.looksLikeAPersonalCode(person) {
                    Terminal.error(
                        "warning: --person puts the person's code on the command line, where other local users can read it "
                            + "(ps, /proc); use --person-file PATH or FASCICOLO_PERSON")
                }
                value = person
            } else if let personFile {
                value = try Self.firstLine(of: personFile)
                try Self.check(value, source: personFile == "-" ? "standard input" : "--person-file \(personFile)")
            } else if let environment = Self.fromEnvironment {
                value = environment
                try Self.check(value, source: Self.environmentVariable)
            } else {
                throw ValidationError("which person? give \(Self.sources)")
            }
        } catch let error as ValidationError {
            Terminal.error("error: \(error.message)")
            throw Exit.couldNotRun
        }
        return ResolvedPerson(identifier: value.trimmingWhitespace())
    }

    /// Printable ASCII without spaces, at most 128 bytes; the message never repeats the value.
    static func check(_ value: String, source: String) throws {
        let trimmed = value.trimmingWhitespace()
        guard !trimmed.isEmpty else { throw ValidationError("\(source): the person is empty") }
        guard trimmed.utf8.count <= 128, trimmed.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw ValidationError(
                "\(source): the person is a codice fiscale, an STP or ENI code, or provisional:<id> "
                    + "(printable ASCII, no spaces)")
        }
    }

    /// The first line of `path` (`-`: standard input, read no further than that line, without
    /// echo on a terminal), without its line end.
    static func firstLine(of path: String) throws -> String {
        var bytes: [UInt8] = []
        if path == "-" {
            bytes = try readLineFromStandardInput()
        } else {
            do { bytes = try Files.read(path, limit: 64 << 10) } catch {
                throw ValidationError("--person-file: \(error)")
            }
        }
        let line = bytes.prefix { $0 != 0x0A }
        return String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
    }

    /// One line from standard input, byte by byte (whatever follows stays there, for a
    /// confirmation). On a terminal it asks, and does not echo what is typed.
    private static func readLineFromStandardInput() throws -> [UInt8] {
        var saved = termios()
        let terminal = isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &saved) == 0
        if terminal {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &quiet)
            _ = "Person (codice fiscale; not shown): ".withCString { write(STDERR_FILENO, $0, strlen($0)) }
        }
        defer {
            if terminal {
                tcsetattr(STDIN_FILENO, TCSANOW, &saved)
                _ = "\n".withCString { write(STDERR_FILENO, $0, strlen($0)) }
            }
        }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count <= 1_024 {
            let count = read(STDIN_FILENO, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            if count < 0 { throw ValidationError("--person-file -: cannot read standard input (errno \(errno))") }
            if count == 0 || byte == 0x0A { break }
            line.append(byte)
        }
        return line
    }

    /// A codice fiscale, or an STP or ENI code (three letters and 13 digits).
    static func looksLikeAPersonalCode(_ value: String) -> Bool {
        let bytes = Array(value.trimmingWhitespace().utf8)
        if bytes.count == 16, Redaction.isCodiceFiscale(bytes, at: 0) { return true }
        let upper = String(decoding: bytes, as: UTF8.self).uppercased()
        return bytes.count == 16 && (upper.hasPrefix("STP") || upper.hasPrefix("ENI"))
            && bytes.dropFirst(3).allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}

/// The person a command acts on, read from its source once.
struct ResolvedPerson {
    let identifier: String
    var redaction: Redaction { Redaction(person: identifier) }
}

/// A value that goes into an HTTP header: no control characters (no line breaks).
func checkHeaderValue(_ value: String?, option: String, lengths: ClosedRange<Int>) throws {
    guard let value else { return }
    guard lengths.contains(value.unicodeScalars.count) else {
        throw ValidationError("\(option) is \(lengths.lowerBound) to \(lengths.upperBound) characters")
    }
    guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else {
        throw ValidationError("\(option) has a control character (a line break?)")
    }
}
