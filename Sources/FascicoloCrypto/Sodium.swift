import CSodium

/// libsodium must be initialised once per process before any other call; `sodium_init` is
/// idempotent and thread-safe, and this wrapper makes every entry point call it first.
enum Sodium {
    static let initialized: Bool = {
        precondition(sodium_init() >= 0, "libsodium failed to initialise")
        return true
    }()

    @inline(__always)
    static func ensureInitialized() { precondition(initialized) }
}

/// Standard base64 (RFC 4648 section 4, with padding), as signed notes and checkpoints use it.
public enum Base64 {
    public static func encode(_ bytes: [UInt8]) -> String {
        String(decoding: encodedBytes(bytes), as: UTF8.self)
    }

    /// The encoding as ASCII bytes. Written here rather than with libsodium's `sodium_bin2base64`,
    /// which is constant-time and several times slower: what is encoded (signatures, hashes,
    /// sealed boxes) is public, and a sealed box is encoded for every personal event appended.
    public static func encodedBytes(_ bytes: [UInt8]) -> [UInt8] {
        let count = (bytes.count + 2) / 3 * 4
        return [UInt8](unsafeUninitializedCapacity: count) { output, initialized in
            bytes.withUnsafeBufferPointer { input in
                alphabet.withUnsafeBufferPointer { alphabet in
                    var read = 0
                    var written = 0
                    while read + 3 <= input.count {
                        let group = UInt32(input[read]) << 16 | UInt32(input[read + 1]) << 8 | UInt32(input[read + 2])
                        output[written] = alphabet[Int(group >> 18)]
                        output[written + 1] = alphabet[Int(group >> 12 & 63)]
                        output[written + 2] = alphabet[Int(group >> 6 & 63)]
                        output[written + 3] = alphabet[Int(group & 63)]
                        read += 3
                        written += 4
                    }
                    let left = input.count - read
                    if left > 0 {
                        let group = UInt32(input[read]) << 16 | (left == 2 ? UInt32(input[read + 1]) << 8 : 0)
                        output[written] = alphabet[Int(group >> 18)]
                        output[written + 1] = alphabet[Int(group >> 12 & 63)]
                        output[written + 2] = left == 2 ? alphabet[Int(group >> 6 & 63)] : UInt8(ascii: "=")
                        output[written + 3] = UInt8(ascii: "=")
                    }
                }
            }
            initialized = count
        }
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Decodes strict, padded standard base64; nil for anything else (including whitespace).
    public static func decode(_ text: String) -> [UInt8]? {
        Sodium.ensureInitialized()
        let input = Array(text.utf8)
        var output = [UInt8](repeating: 0, count: input.count / 4 * 3 + 3)
        var written = 0
        var end: UnsafePointer<CChar>?
        let status = input.withUnsafeBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { chars in
                sodium_base642bin(
                    &output, output.count, chars.baseAddress, input.count, nil, &written, &end,
                    sodium_base64_VARIANT_ORIGINAL)
            }
        }
        guard status == 0, input.count % 4 == 0 else { return nil }
        // libsodium stops at the first invalid character; require that it consumed everything.
        let consumed = input.withUnsafeBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { end == $0.baseAddress! + input.count }
        }
        guard consumed else { return nil }
        return Array(output[..<written])
    }
}

/// Lower-case hexadecimal.
public enum Hex {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { decode(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// Decodes hex digits given as UTF-8 bytes (lower or upper case); nil if any is not one.
    public static func decode(utf8 chars: UnsafeRawBufferPointer) -> [UInt8]? {
        guard chars.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var index = 0
        while index < chars.count {
            guard let high = value(chars[index]), let low = value(chars[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
