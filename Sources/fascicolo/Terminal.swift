import FascicoloJSON
import Glibc

/// All terminal output in one place: progress lines on standard error when it is a terminal,
/// results on standard output.
enum Terminal {
    static let isInteractive = isatty(STDERR_FILENO) == 1

    static func out(_ line: String) {
        print(line)
        fflush(nil)
    }

    /// Writes `text` as it is, adding no newline.
    static func outRaw(_ text: String) {
        print(text, terminator: "")
        fflush(nil)
    }

    static func error(_ line: String) {
        let text = line + "\n"
        _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }

    /// Rewrites the progress line in place (only on a terminal).
    static func progress(_ line: String) {
        guard isInteractive else { return }
        let text = "\r\u{1B}[2K" + line
        _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }

    static func endProgress() {
        guard isInteractive else { return }
        _ = "\r\u{1B}[2K".withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }

    /// "count / total (percent) rate/s, ETA".
    static func progressLine(label: String, done: UInt64, total: UInt64, elapsedSeconds: Double) -> String {
        let rate = elapsedSeconds > 0 ? Double(done) / elapsedSeconds : 0
        let percent = total > 0 ? Double(done) * 100 / Double(total) : 100
        let remaining = rate > 0 ? Double(total - min(done, total)) / rate : 0
        return "\(label) \(done)/\(total) (\(format(percent, decimals: 1))%)  \(Int(rate)) entries/s  ETA \(duration(remaining))"
    }

    static func format(_ value: Double, decimals: Int) -> String {
        var factor = 1.0
        for _ in 0..<decimals { factor *= 10 }
        let rounded = (value * factor).rounded() / factor
        return decimals == 0 ? "\(Int(rounded))" : "\(rounded)"
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 3600 ? "\(total / 3600)h\(total % 3600 / 60)m" : total >= 60 ? "\(total / 60)m\(total % 60)s" : "\(total)s"
    }
}

/// A JSON string (quoted, escaped by the JSON writer) for `--json` output.
func jsonString(_ text: String) -> String {
    var json = JSONBytes(capacity: text.utf8.count + 2)
    json.string(text)
    return String(decoding: json.bytes, as: UTF8.self)
}

/// `12.3 MiB`
func humanBytes(_ count: Int) -> String {
    if count < 1024 { return "\(count) bytes" }
    if count < 1 << 20 { return "\(Terminal.format(Double(count) / 1024, decimals: 1)) KiB" }
    if count < 1 << 30 { return "\(Terminal.format(Double(count) / 1_048_576, decimals: 1)) MiB" }
    return "\(Terminal.format(Double(count) / 1_073_741_824, decimals: 2)) GiB"
}
