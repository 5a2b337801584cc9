import FascicoloLedger

// The daemon's configuration file (FascicoloDaemon.ConfigurationFile: TOML through TOMLKit, the
// keys' lines through KeyPlaces) and the value parsers its keys use (access lists, service names,
// the origin). A file is read or refused with a ParseError naming a line of the file, never a
// trap; every key read is placed on a line that names it (or the key or header holding it); what
// is read, written back as TOML, reads the same.
@testable import FascicoloDaemon
@testable import FascicoloServer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    let lines = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    let file: ConfigurationFile
    do {
        file = try ConfigurationFile(bytes: input, source: "fuzz.toml")
    } catch let error as ConfigurationFile.ParseError {
        check((1...lines.count).contains(error.line), "an error names line \(error.line) of \(lines.count)")
        return 0
    } catch {
        check(false, "an error that is not a ParseError: \(error)")
        return 0
    }
    // Keys written with escapes are not found by KeyPlaces (it says so): their line is not checked.
    let escapedKeys = input.contains(UInt8(ascii: "\\"))
    var written = ""
    for (name, entry) in file.values.sorted(by: { $0.value.line < $1.value.line }) {
        check((1...lines.count).contains(entry.line), "a value from line \(entry.line) of \(lines.count)")
        let segments = name.split(separator: ".").map(String.init)
        let plain = segments.allSatisfy { !$0.isEmpty && ConfigurationFile.name([$0]) == $0 }
        if plain, !escapedKeys {
            let line = String(decoding: lines[entry.line - 1], as: UTF8.self)
            check(segments.contains { line.contains($0) }, "\(name) placed on line \(entry.line), which does not name it")
        }
        for text in strings(in: entry.value) {
            _ = AccessPolicy.parsePrincipals(text)
            _ = AccessPolicy.parseServiceNames(text)
            _ = LedgerConfiguration.originProblem(text)
        }
        if plain, !holdsUnsupported(entry.value) { written += "\(name) = \(entry.value)\n" }
    }
    // A value holding the text \u0000 written back is refused (ConfigurationFile refuses that text
    // wherever it is, as TOMLKit would cut a string at the NUL it may mean).
    guard !written.contains("\\u0000"), !written.contains("\\U00000000") else { return 0 }
    do {
        let again = try ConfigurationFile(text: written, source: "written.toml")
        for (name, entry) in again.values {
            check(file.values[name]?.value == entry.value, "\(name) reads differently when written back:\n\(written)")
        }
    } catch {
        check(false, "the values read, written back, are refused (\(error)):\n\(written)")
    }
    return 0
}

private func strings(in value: ConfigurationFile.Value) -> [String] {
    switch value {
    case .string(let text): [text]
    case .array(let values): values.flatMap(strings)
    default: []
    }
}

private func holdsUnsupported(_ value: ConfigurationFile.Value) -> Bool {
    switch value {
    case .unsupported: true
    case .array(let values): values.contains(where: holdsUnsupported)
    default: false
    }
}
