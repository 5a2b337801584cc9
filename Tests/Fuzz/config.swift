// The daemon's configuration file (FascicoloDaemon.ConfigurationFile: the TOML subset) and the
// value parsers its keys use (access lists, service names, the origin). A file is read or refused
// with a ParseError naming a line of the file, never a trap; what is read, written back in the
// same subset, reads the same.
@testable import FascicoloDaemon
import FascicoloLedger
@testable import FascicoloServer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: bytes(data, size), as: UTF8.self)
    let lineCount = text.split(separator: "\n", omittingEmptySubsequences: false).count
    let file: ConfigurationFile
    do {
        file = try ConfigurationFile(text: text, source: "fuzz.toml")
    } catch let error as ConfigurationFile.ParseError {
        check((1...lineCount).contains(error.line), "an error names line \(error.line) of \(lineCount)")
        return 0
    } catch {
        check(false, "an error that is not a ParseError: \(error)")
        return 0
    }
    var written = ""
    for (name, entry) in file.values.sorted(by: { $0.value.line < $1.value.line }) {
        check((1...lineCount).contains(entry.line), "a value from line \(entry.line) of \(lineCount)")
        if case .string(let value) = entry.value {
            _ = AccessPolicy.parsePrincipals(value)
            _ = AccessPolicy.parseServiceNames(value)
            _ = LedgerConfiguration.originProblem(value)
        }
        // Names of plain words are written back without a section, with their value's description.
        let plain = name.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x5F || $0 == 0x2E }
        if plain, !name.isEmpty, !name.hasPrefix("."), !name.hasSuffix(".") { written += "\(name) = \(entry.value)\n" }
    }
    if let again = try? ConfigurationFile(text: written, source: "written.toml") {
        for (name, entry) in again.values { check(file.values[name]?.value == entry.value, "\(name) reads differently when written back") }
    } else {
        check(false, "the values read, written back, are refused:\n\(written)")
    }
    return 0
}
