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
        Sodium.ensureInitialized()
        let length = sodium_base64_encoded_len(bytes.count, sodium_base64_VARIANT_ORIGINAL)  // with the final NUL
        return String(unsafeUninitializedCapacity: length) { output in
            output.withMemoryRebound(to: CChar.self) { chars in
                _ = bytes.withUnsafeBufferPointer { input in
                    sodium_bin2base64(chars.baseAddress!, length, input.baseAddress, bytes.count, sodium_base64_VARIANT_ORIGINAL)
                }
            }
            return length - 1
        }
    }

    /// Decodes strict, padded standard base64; nil for anything else (including whitespace).
    public static func decode(_ text: String) -> [UInt8]? {
        Sodium.ensureInitialized()
        let input = Array(text.utf8)
        var output = [UInt8](repeating: 0, count: input.count / 4 * 3 + 3)
        var written = 0
        var end: UnsafePointer<CChar>?
        let status = input.withUnsafeBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { chars in
                sodium_base642bin(&output, output.count, chars.baseAddress, input.count, nil, &written, &end,
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
