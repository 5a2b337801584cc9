/// Small-number suppression for the figures that leave the service (the Region's indicators and
/// reports): in a small comune a count of 2 is two people someone can name.
///
/// A count below `threshold` is not shown (primary suppression). Nor is a count that could be
/// recovered by subtraction: when a group's total is shown and exactly one of its parts is
/// unknown to the reader (hidden, or never published, like "case files not taken in charge" =
/// case files − taken in charge) while that part is a small non-zero number, the smallest other
/// published part is hidden too (secondary suppression). A zero reveals no one and needs no
/// protection when it is only derived.
public struct SmallNumbers: Sendable {
    public let threshold: Int

    public init(threshold: Int = 5) { self.threshold = threshold }

    /// Whether a published count is hidden by itself.
    public func isSmall(_ count: Int) -> Bool { count < threshold }

    /// A count a reader must not be able to learn exactly.
    func isSensitive(_ count: Int) -> Bool { count > 0 && count < threshold }

    /// One part of a group whose parts add up to a total.
    public struct Part: Sendable {
        public let count: Int
        /// False for a part the report does not show but a reader can compute (the remainder).
        public let published: Bool

        public init(_ count: Int, published: Bool = true) {
            self.count = count
            self.published = published
        }
    }

    /// Which parts of the group to hide (true), given whether its total is shown. Only
    /// published parts are ever marked.
    public func hidden(_ parts: [Part], totalShown: Bool) -> [Bool] {
        var hidden = parts.map { $0.published && isSmall($0.count) }
        guard totalShown else { return hidden }
        let unknown = parts.indices.filter { hidden[$0] || !parts[$0].published }
        guard unknown.count == 1, isSensitive(parts[unknown[0]].count) else { return hidden }
        // The one unknown part would be the total minus the others: hide the smallest other.
        let candidates = parts.indices.filter { parts[$0].published && !hidden[$0] }
        if let smallest = candidates.min(by: { parts[$0].count < parts[$1].count }) { hidden[smallest] = true }
        return hidden
    }
}
