import FascicoloJSON

/// The caseload and interventions reports as exported to the Region: small numbers suppressed
/// like the indicators (`SmallNumbers`). A count below the threshold is `"<5"`; a count hidden
/// only because it would reveal another by subtraction is null. The service's own reports keep
/// exact figures (a provider's invoice needs them).
public enum RegionReports {
    static let smallNumbers = SmallNumbers(threshold: Cases.suppressionThreshold)

    static func count(_ value: Int64, hidden: Bool) -> JSON {
        guard hidden else { return .number(String(value)) }
        return smallNumbers.isSmall(Int(value)) ? .string("<\(smallNumbers.threshold)") : .null
    }

    /// One caseload row: taken in charge and reviews overdue are parts of the open case files,
    /// so with `open` shown neither may leave a small remainder.
    public static func caseloadRow(_ row: Cases.CaseloadRow) -> [(key: String, value: JSON)] {
        let open = Int(row.open), openShown = !smallNumbers.isSmall(open)
        func part(_ value: Int64) -> JSON {
            let hidden = smallNumbers.hidden([.init(Int(value)), .init(open - Int(value), published: false)], totalShown: openShown)
            return count(value, hidden: hidden[0])
        }
        return [("id", .string(row.id)), ("open", count(row.open, hidden: !openShown)),
                ("takenInCharge", part(row.takenInCharge)), ("reviewsOverdue", part(row.reviewsOverdue))]
    }

    /// One interventions row: each count suppressed when small; minutes and amount are null
    /// when the deliveries they add up are (a few deliveries' total is one person's).
    public static func interventionCounts(_ row: Interventions.Row) -> [(key: String, value: JSON)] {
        func counted(_ value: Int64) -> JSON { count(value, hidden: smallNumbers.isSmall(Int(value))) }
        let deliveriesHidden = smallNumbers.isSmall(Int(row.deliveries))
        return [("requested", counted(row.requested)), ("started", counted(row.started)), ("ended", counted(row.ended)),
                ("deliveries", counted(row.deliveries)),
                ("minutes", deliveriesHidden ? .null : .number(String(row.minutes)))]
    }
}
