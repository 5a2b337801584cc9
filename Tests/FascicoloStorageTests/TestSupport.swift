import FascicoloStorage
@_exported import FascicoloTesting
import Testing

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
