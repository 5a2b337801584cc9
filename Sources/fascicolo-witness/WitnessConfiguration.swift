import FascicoloDaemon
import FascicoloWitness
import Glibc
import Logging

/// What `fascicolo-witness` reads from its configuration file (TOML, read by the daemon's
/// `ConfigurationFile`: the same refusals, with the file and line). `Config/fascicolo-witness.toml`
/// lists every key, its default and why. An unknown key or a bad value stops the command.
struct WitnessConfiguration: Sendable {
    /// The witness's key name: a schema-less URL without spaces or '+', as signed-note requires.
    var name = ""
    var dataDirectory = "witness-data"
    /// Empty: `<data directory>/witness.key`.
    var keyFile = ""
    /// The logs followed: each a signed-note vkey `<origin>+<key id>+<base64 key>`.
    var logs: [LogKey] = []
    var http = WitnessServer.Settings()
    var logLevel = Logger.Level.info

    var resolvedKeyFile: String { keyFile.isEmpty ? dataDirectory + "/witness.key" : keyFile }
    /// The LMDB environment of the witness's state, inside the data directory.
    var stateDirectory: String { dataDirectory + "/state" }

    struct Invalid: Error, CustomStringConvertible {
        let message: String
        var description: String { "invalid configuration: \(message)" }
    }

    static func load(path: String) throws -> WitnessConfiguration {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Invalid(message: "cannot open \(path)") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw Invalid(message: "cannot read \(path)") }
            if count == 0 { break }
            bytes += buffer[..<count]
            guard bytes.count <= 1 << 20 else { throw Invalid(message: "\(path) is larger than 1 MiB") }
        }
        var configuration = WitnessConfiguration()
        try configuration.apply(ConfigurationFile(bytes: bytes, source: path))
        return configuration
    }

    mutating func apply(_ file: ConfigurationFile) throws {
        for (key, entry) in file.values.sorted(by: { $0.value.line < $1.value.line }) {
            let place = "\(file.source):\(entry.line)"
            if let problem = apply(key: key, value: entry.value) {
                // An unknown key's value is not repeated (a misspelt key may hold anything).
                let setting = problem == "unknown key" ? key : "\(key) = \(entry.value)"
                throw Invalid(message: "\(setting) (\(place)): \(problem)")
            }
        }
        if name.isEmpty { throw Invalid(message: "witness.name is required (\(file.source))") }
        if logs.isEmpty { throw Invalid(message: "witness.logs lists no log to follow (\(file.source))") }
    }

    /// Applies one key; returns why the value is refused.
    private mutating func apply(key: String, value: ConfigurationFile.Value) -> String? {
        switch (key, value) {
        case ("witness.name", .string(let text)):
            guard !text.isEmpty, !text.unicodeScalars.contains(where: { $0 == "+" || $0.properties.isWhitespace || $0.value < 0x20 })
            else { return "a key name is non-empty, without spaces or '+'" }
            name = text
        case ("witness.data_directory", .string(let text)):
            guard !text.isEmpty else { return "a directory is required" }
            dataDirectory = text
        case ("witness.key_file", .string(let text)):
            keyFile = text
        case ("witness.logs", .array(let values)):
            var keys: [LogKey] = []
            for value in values {
                guard case .string(let text) = value, let key = LogKey(verifierKey: text) else {
                    return "each log is a verifier key '<origin>+<key id>+<base64 key>' (fascicolo's signing.pub)"
                }
                keys.append(key)
            }
            logs = keys
        case ("http.host", .string(let text)):
            guard !text.isEmpty else { return "a host is required" }
            http.host = text
        case ("http.port", .integer(let number)):
            guard (0...65_535).contains(number) else { return "a TCP port is 0 to 65535" }
            http.port = number
        case ("http.body_bytes_max", .integer(let number)):
            guard (4_096...(1 << 20)).contains(number) else { return "between 4096 and 1048576" }
            http.bodyBytesMax = number
        case ("http.idle_timeout_milliseconds", .integer(let number)):
            guard (100...3_600_000).contains(number) else { return "between 100 and 3600000" }
            http.idleTimeoutMilliseconds = number
        case ("http.request_timeout_milliseconds", .integer(let number)):
            guard (100...600_000).contains(number) else { return "between 100 and 600000" }
            http.requestTimeoutMilliseconds = number
        case ("log.level", .string(let text)):
            guard let level = Logger.Level(rawValue: text) else { return "one of trace, debug, info, notice, warning, error, critical" }
            logLevel = level
        case ("witness.name", _), ("witness.data_directory", _), ("witness.key_file", _), ("http.host", _), ("log.level", _):
            return "expected a string, found \(value.typeName)"
        case ("witness.logs", _):
            return "expected an array of strings, found \(value.typeName)"
        case ("http.port", _), ("http.body_bytes_max", _), ("http.idle_timeout_milliseconds", _), ("http.request_timeout_milliseconds", _):
            return "expected an integer, found \(value.typeName)"
        default:
            return "unknown key"
        }
        return nil
    }
}
