import Dispatch
import FascicoloConcurrency
import FascicoloLedger
import Glibc
import Logging

/// Benchmarks print figures, not the ledger's info logs.
let quietLogger: Logger = {
    var logger = Logger(label: "fascicolo.bench")
    logger.logLevel = .warning
    return logger
}()

/// Every duration the benchmarks measure.
let monotonic = MonotonicClock.system

/// A ~300-byte JSON payload, about the size of a case event.
func samplePayload(_ index: Int) -> [UInt8] {
    let text = """
        {"type":"InterventionDelivered","caseId":"c-\(index % 10_000)","operator":"op-17","ambito":"AMB-03",\
        "intervention":{"code":"A2-SED","siuss":"A2","istat":"B3.1"},"date":"2026-11-23","minutes":90,\
        "notes":"ciphertext:b3BlbnNlc2FtZS1vcGVuc2VzYW1lLW9wZW5zZXNhbWUtb3BlbnNlc2FtZQ==","seq":\(index)}
        """
    return Array(text.utf8)
}

func temporaryDirectory(_ label: String) -> String {
    var template = Array("/tmp/fascicolo-bench-\(label)-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
}

/// Removes a bench's temporary directory and everything under it (the socket
/// bench's daemon keeps its data in a subdirectory).
func removeDirectory(_ path: String) {
    guard let directory = opendir(path) else { return }
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name != "." && name != ".." else { continue }
        if entry.pointee.d_type == UInt8(DT_DIR) { removeDirectory(path + "/" + name) } else { unlink(path + "/" + name) }
    }
    closedir(directory)
    rmdir(path)
}

struct Percentiles {
    let p50: Double, p99: Double, p999: Double

    /// From latencies in nanoseconds; reported in milliseconds.
    init(_ samples: [UInt64]) {
        let sorted = samples.sorted()
        func at(_ fraction: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]) / 1e6
        }
        (p50, p99, p999) = (at(0.5), at(0.99), at(0.999))
    }
}

func format(_ value: Double, _ decimals: Int = 0) -> String {
    var factor = 1.0
    for _ in 0..<decimals { factor *= 10 }
    let rounded = (value * factor).rounded() / factor
    return decimals == 0 ? "\(Int(rounded))" : "\(rounded)"
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}

func printOut(_ line: String) {
    print(line)
    fflush(nil)
}
