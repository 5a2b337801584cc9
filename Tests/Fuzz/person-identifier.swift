// The person identifier parser (codice fiscale with omocodia, STP, ENI, provisional:) and the
// scanner that keeps identifiers out of everything stored in clear. Whatever the parser accepts
// as a codice fiscale, STP or ENI code the scanner must find — in the text as given, in its
// normalised form and inside other text — or an identifier could be stored in clear.
import FascicoloDomain
import FascicoloJSON

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    let text = String(decoding: input, as: UTF8.self)

    // The scanner over raw bytes (not only valid UTF-8), over the text, and over JSON holding it.
    let foundInBytes = input.withUnsafeBufferPointer { IdentifierScanner.containsIdentifier(bytes: $0) }
    if String(validating: input, as: UTF8.self) != nil {
        check(IdentifierScanner.containsIdentifier(text) == foundInBytes, "the scanner reads a string and its bytes differently")
    }
    let json = JSON.object([("note", .array([.string(text)]))])
    check(
        IdentifierScanner.containsIdentifier(in: json) == IdentifierScanner.containsIdentifier(text),
        "the scanner misses a string inside JSON")
    check(
        (IdentifierScanner.firstIdentifier(in: json, path: "x") != nil) == IdentifierScanner.containsIdentifier(text),
        "firstIdentifier and containsIdentifier disagree")

    guard let identifier = try? PersonIdentifier(parsing: text) else { return 0 }
    // The normalised form parses to the same identifier.
    let value: String
    switch identifier {
    case .codiceFiscale(let code), .stp(let code), .eni(let code): value = code
    case .provisional(let id):
        check((try? PersonIdentifier(parsing: "provisional:" + id)) == identifier, "a provisional id does not parse back")
        return 0
    }
    check((try? PersonIdentifier(parsing: value)) == identifier, "a normalised identifier does not parse back to itself")
    check(!identifier.description.contains(value), "the description shows the identifier")
    // Found as given, normalised, and standing inside a sentence or a JSON member name.
    check(IdentifierScanner.containsIdentifier(text), "an accepted \(identifier.kind) is not found by the scanner as given")
    check(IdentifierScanner.containsIdentifier(value), "an accepted \(identifier.kind) is not found by the scanner")
    check(IdentifierScanner.containsIdentifier("nota: " + value + ", vedi"), "an accepted \(identifier.kind) is not found in a sentence")
    check(
        IdentifierScanner.containsIdentifier(in: .object([(value, .null)])), "an accepted \(identifier.kind) is not found as a member name")
    check(IdentifierScanner.containsIdentifier(value.lowercased()), "an accepted \(identifier.kind) in lower case is not found")
    return 0
}
