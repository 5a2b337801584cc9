/// SplitMix64 with the few draws the generator needs. Its own, so that a workload is the same
/// for a seed on every platform and release (the standard library's `random(in:using:)`
/// algorithms are not promised to stay the same), and so that benchmarks need no test module. Public for the benchmarks' own draws.
public struct WorkloadRandom: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 0..<`count` (multiply-high: no modulo bias worth speaking of at these sizes).
    public mutating func below(_ count: Int) -> Int {
        precondition(count > 0)
        return Int(next().multipliedFullWidth(by: UInt64(count)).high)
    }

    /// `low`...`high`, inclusive.
    mutating func between(_ low: Int, _ high: Int) -> Int { low + below(high - low + 1) }

    mutating func chance(_ probability: Double) -> Bool { Double(next() >> 11) * 0x1p-53 < probability }

    mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }

    /// One of `options`, with probability proportional to its weight (weights ≤ 0 never chosen).
    mutating func weighted<T>(_ options: [(weight: Double, value: T)]) -> T? {
        let total = options.reduce(0) { $0 + max($1.weight, 0) }
        guard total > 0 else { return nil }
        var point = Double(next() >> 11) * 0x1p-53 * total
        for option in options where option.weight > 0 {
            point -= option.weight
            if point < 0 { return option.value }
        }
        return options.last { $0.weight > 0 }?.value
    }

    /// `count` digits.
    mutating func digits(_ count: Int) -> String {
        String((0..<count).map { _ in Character(Unicode.Scalar(UInt8(ascii: "0") + UInt8(below(10)))) })
    }
}
