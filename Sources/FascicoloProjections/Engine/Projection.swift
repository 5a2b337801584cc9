import FascicoloStorage

/// A read model built from the log only.
///
/// The engine feeds a projection every entry of the log in order, each decoded once for all
/// projections (`ProjectedEvent`). A projection keeps its rows in its own tables, which it
/// reads and changes through `ProjectionRows`; the engine writes the changes of a batch and the
/// projection's checkpoint in one write transaction, so that across crashes no entry is applied
/// twice or skipped.
///
/// Rules for implementations, which rebuilds and digests depend on:
/// - Rows are a function of the entries applied so far and nothing else: no clock, no
///   randomness, no configuration. (Ages such as "days since presa in carico" are computed when
///   a query is answered.)
/// - No personal field in clear: projections see the clear part of payloads only; a query that
///   shows personal fields opens them from the log with the person's key.
/// - An instance is used by one thread at a time and may keep caches, but whatever it caches
///   must be recoverable from its rows or from the log before the entry it is applying (a
///   restart makes a new instance).
/// - Bump `version` whenever the rows it writes change meaning: the engine then rebuilds it.
public protocol Projection: AnyObject, SendableMetatype {
    /// Lower-case letters and hyphens; names the tables and the API paths.
    static var name: String { get }
    static var version: Int { get }
    /// The projection's tables, by local name; `ProjectionRows` refers to them by index.
    static var tables: [String] { get }

    init()

    /// Applies the entry at `event.position`. Throwing stops this projection at that position
    /// (what the entry changed in `rows` is undone); the other projections carry on.
    func apply(_ event: ProjectedEvent, to rows: inout ProjectionRows) throws

    /// Called once a batch's entries are applied (when one failed, those before it), before
    /// its rows are written: a projection writes here what it kept back to write once per batch
    /// rather than once per entry. Throwing fails the batch; it is applied again.
    func finishBatch(_ rows: inout ProjectionRows) throws
}

extension Projection {
    public func finishBatch(_ rows: inout ProjectionRows) throws {}
}

/// A projection failed on an entry it could not apply; it says why without personal data.
public struct ProjectionFailure: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
