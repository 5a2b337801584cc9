// Shared by every fuzz target (compiled into each; see tools/fuzz).
import Glibc

/// Stops the run with a message when an invariant does not hold: libFuzzer reports the crash and
/// keeps the input as a reproducer. (A `precondition` would do too; this names the target's check.)
@inline(never)
func check(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    guard !condition() else { return }
    let text = Array("fuzz invariant broken (\(file):\(line)): \(message())\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}

/// The input as a byte array.
func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
    Array(UnsafeBufferPointer(start: data, count: size))
}

/// Reads fixed-width values off the front of a fuzzer input, zero when it runs out.
struct InputReader {
    var bytes: ArraySlice<UInt8>

    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }

    mutating func byte() -> UInt8 { bytes.popFirst() ?? 0 }

    mutating func uint64() -> UInt64 {
        var value: UInt64 = 0
        for _ in 0..<8 { value = value << 8 | UInt64(byte()) }
        return value
    }

    mutating func take(_ count: Int) -> [UInt8] {
        let taken = Array(bytes.prefix(count))
        bytes = bytes.dropFirst(count)
        return taken + [UInt8](repeating: 0, count: count - taken.count)
    }
}
