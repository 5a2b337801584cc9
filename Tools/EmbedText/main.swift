// Writes a Swift source file that holds a text file as a string constant, so that the daemon
// carries the file in its binary (no resource bundle to deploy beside it).
//
//     embed-text <input file> <output .swift file> <constant name>
//
// The constant is one escaped string literal: any text round-trips byte for byte, whatever
// quotes, backslashes or `#` it holds. Used by the EmbedOpenAPIDocument build-tool plugin.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Says why on standard error and exits.
func fail(_ message: String, status: Int32 = 1) -> Never {
    let line = "embed-text: " + message + "\n"
    _ = write(2, line, line.utf8.count)
    exit(status)
}

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    fail("usage: embed-text <input> <output.swift> <constant name>", status: 64)
}
let (inputPath, outputPath, name) = (arguments[1], arguments[2], arguments[3])

func readAll(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { break }
        bytes += chunk[0..<count]
    }
    return ferror(file) == 0 ? bytes : nil
}

guard let input = readAll(inputPath) else {
    fail("cannot read \(inputPath)")
}
let text = String(decoding: input, as: UTF8.self)
guard Array(text.utf8) == input else {
    fail("\(inputPath) is not valid UTF-8")
}

var literal = "\""
for scalar in text.unicodeScalars {
    switch scalar {
    case "\\": literal += "\\\\"
    case "\"": literal += "\\\""
    case "\n": literal += "\\n"
    case "\r": literal += "\\r"
    case "\t": literal += "\\t"
    case _ where scalar.value < 0x20 || scalar.value == 0x7F: literal += "\\u{\(String(scalar.value, radix: 16))}"
    default: literal.unicodeScalars.append(scalar)
    }
}
literal += "\""

let fileName = inputPath.split(separator: "/").last.map(String.init) ?? inputPath
let source = """
    // Generated at build time from \(fileName) by embed-text: edit that file, not this one.
    let \(name): String = \(literal)

    """
guard let output = fopen(outputPath, "wb"), fwrite(source, 1, source.utf8.count, output) == source.utf8.count, fclose(output) == 0 else {
    fail("cannot write \(outputPath)")
}
