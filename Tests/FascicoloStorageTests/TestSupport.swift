import FascicoloStorage
import Foundation
import Testing

/// A fresh directory under /tmp (mkdtemp), removed with everything in it when `body` returns.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    var template = Array("/tmp/fascicolo-storage-test-XXXXXX".utf8CString)
    let created = template.withUnsafeMutableBufferPointer { buffer in
        mkdtemp(buffer.baseAddress!).map { String(cString: $0) }
    }
    let path = try #require(created, "mkdtemp failed with errno \(errno)")
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

extension Environment.Options {
    /// Options for throwaway test data: no fsync, and a chosen initial map size.
    static func testing(mapSizeBytes: Int = 1 << 20) -> Environment.Options {
        var options = Environment.Options()
        options.unsafeNoSync = true
        options.mapSizeBytes = mapSizeBytes
        return options
    }
}

/// A big-endian u64 key, so that byte order is numeric order.
func key(_ value: UInt64) -> [UInt8] { BigEndian.bytes(value) }

/// A deterministic value of `size` bytes for record `index`, different for every index.
func value(_ index: UInt64, size: Int) -> [UInt8] {
    var bytes = BigEndian.bytes(index)
    bytes.reserveCapacity(size)
    var state = index &* 0x9E37_79B9_7F4A_7C15 &+ 1
    while bytes.count < size {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        bytes.append(UInt8(truncatingIfNeeded: state))
    }
    return Array(bytes.prefix(size))
}

struct ExpectedFailure: Error, Equatable {}
