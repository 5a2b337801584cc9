import CLMDB

/// A named LMDB database ("table") inside an environment.
///
/// A handle stays valid for the life of the environment once the transaction that opened it has
/// committed, so it is opened once at start and then shared freely.
public struct Table: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    let handle: MDB_dbi

    public var description: String { "\"\(name)\"" }
}

/// Flags for a put.
public struct PutOptions: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Fail with `keyExists` instead of overwriting.
    public static let noOverwrite = PutOptions(rawValue: UInt32(MDB_NOOVERWRITE))
    /// The key sorts after every key in the table: LMDB skips the search (about 3× faster).
    /// A key out of order fails with `keyExists`.
    public static let append = PutOptions(rawValue: UInt32(MDB_APPEND))
}
