import FascicoloJSON
import FascicoloLedger

/// What makes a read of a person's file unusual (DOMAIN.md, "Compliance": no assignment, out of
/// hours, bulk reads). The thresholds are the request's, with these defaults.
public struct UnusualAccessRules: Sendable, Equatable {
    /// Working hours in Italian local time (CET, CEST in summer), minutes after midnight, [start, end).
    public var workdayStartMinutes = 7 * 60
    public var workdayEndMinutes = 20 * 60
    /// Working days, ISO numbering (1 Monday … 7 Sunday).
    public var workingDays: Set<Int> = [1, 2, 3, 4, 5, 6]
    /// A reader (one service and operator, or one auditor) who reads more distinct persons than
    /// this within an hour reads in bulk.
    public var bulkPersonsPerHour = 20

    public init() {}
}

/// A read that one or more of the rules flag.
public struct UnusualAccess: Sendable {
    public enum Reason: String, Sendable, CaseIterable {
        /// Outside the working hours or days.
        case outOfHours = "out_of_hours"
        /// One of more than `bulkPersonsPerHour` persons the same reader read within an hour.
        case bulk
        /// A service's read for an operator who has no entry on that person's path (no actor of
        /// it, not the case manager) before the read: no assignment.
        case notOnPath = "not_on_path"
    }

    public let position: UInt64
    public let recordedAtMilliseconds: Int64
    public let person: Pseudonym
    public let author: String
    public let role: String?
    public let operatorID: String?
    public let what: String?
    public let reasons: [Reason]
}

/// The reads of one time window, and whether the window was read to its end.
public struct UnusualAccessReport: Sendable {
    public let rows: [UnusualAccess]
    /// Reads (RecordAccessed entries) examined.
    public let reads: Int
    /// False when the scan stopped at `entriesMax` before the window's end: ask again from `resumeAt`.
    public let complete: Bool
    public let resumeAtMilliseconds: Int64?
}

extension CaseFiles {
    /// The unusual reads recorded in [from, to) (milliseconds since the epoch), scanning at most
    /// `entriesMax` log entries: the log is in time order, so the window is found by bisection.
    /// It reads access entries and the actors of the persons' paths only: no personal field.
    public func unusualAccesses(
        fromMilliseconds from: Int64, toMilliseconds to: Int64, rules: UnusualAccessRules, entriesMax: Int = 1_000_000
    ) throws -> UnusualAccessReport {
        try ledger.read { log in
            let size = try log.entryCount()
            var low: UInt64 = 0
            var high = size
            while low < high {
                let middle = (low + high) / 2
                let at = try log.withEntry(at: middle) { $0.recordedAtMilliseconds } ?? .max
                if at < from { low = middle + 1 } else { high = middle }
            }
            var reads: [Read] = []
            var scanned = 0
            var resumeAt: Int64?
            try log.forEachEntry(from: low) { entry in
                guard entry.recordedAtMilliseconds < to else { return false }
                guard scanned < entriesMax else {
                    resumeAt = entry.recordedAtMilliseconds
                    return false
                }
                scanned += 1
                guard entry.eventType.elementsEqual("RecordAccessed".utf8),
                    let person = Pseudonym.owning(stream: String(decoding: entry.stream, as: UTF8.self)),
                    entry.stream.starts(with: Pseudonym.accessPrefix.utf8),
                    let stored = StoredEvent(payload: Array(entry.payload))
                else { return true }
                let data = JSON.object(stored.data)
                reads.append(
                    Read(
                        position: entry.position, at: entry.recordedAtMilliseconds, person: person,
                        author: String(decoding: entry.author, as: UTF8.self), role: data["role"]?.string,
                        operatorID: stored.actor["operator"]?.string, what: data["what"]?.string))
                return true
            }
            var reasons = [[UnusualAccess.Reason]](repeating: [], count: reads.count)
            for (index, read) in reads.enumerated() where !Self.isWorkingTime(read.at, rules) {
                reasons[index].append(.outOfHours)
            }
            for index in Self.bulkReads(reads, personsPerHour: rules.bulkPersonsPerHour) { reasons[index].append(.bulk) }
            var paths: [Pseudonym: [String: UInt64]] = [:]
            for (index, read) in reads.enumerated() where read.role == "writer" {
                guard let operatorID = read.operatorID else { continue }
                if paths[read.person] == nil { paths[read.person] = try Self.operatorsOnPath(of: read.person, in: log) }
                if let first = paths[read.person]?[operatorID], first < read.position { continue }
                reasons[index].append(.notOnPath)
            }
            let rows = zip(reads, reasons).compactMap { read, reasons -> UnusualAccess? in
                guard !reasons.isEmpty else { return nil }
                return UnusualAccess(
                    position: read.position, recordedAtMilliseconds: read.at, person: read.person, author: read.author, role: read.role,
                    operatorID: read.operatorID, what: read.what, reasons: reasons)
            }
            return UnusualAccessReport(rows: rows, reads: reads.count, complete: resumeAt == nil, resumeAtMilliseconds: resumeAt)
        }
    }

    struct Read {
        let position: UInt64
        let at: Int64
        let person: Pseudonym
        let author: String
        let role: String?
        let operatorID: String?
        let what: String?
    }

    /// Whether `milliseconds` falls in the working hours and days, in Italian local time: UTC+1,
    /// UTC+2 from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of
    /// October (the EU rule, Directive 2000/84/EC).
    static func isWorkingTime(_ milliseconds: Int64, _ rules: UnusualAccessRules) -> Bool {
        let local = italianMinutes(milliseconds)
        let days = local.floorDivided(by: 1_440)
        let weekday = (days + 3).floorModulo(7) + 1  // ISO: 1 Monday … 7 Sunday
        let minute = local.floorModulo(1_440)
        return rules.workingDays.contains(weekday) && minute >= rules.workdayStartMinutes && minute < rules.workdayEndMinutes
    }

    /// Minutes since the epoch in Italian local time: UTC+1, UTC+2 from 01:00 UTC on the last
    /// Sunday of March to 01:00 UTC on the last Sunday of October.
    public static func italianMinutes(_ milliseconds: Int64) -> Int {
        let utcMinutes = Int(milliseconds.dividedRounding(by: 60_000))
        let utcDay = CalendarDate(daysSinceEpoch: utcMinutes.floorDivided(by: 1_440))
        // 01:00 UTC on the last Sunday of the month whose 31st is `last` (1970-01-01 was a Thursday).
        func lastSunday(_ last: String) -> Int {
            var day = CalendarDate("\(utcDay.year)-\(last)")?.daysSinceEpoch ?? 0
            while (day + 3).floorModulo(7) != 6 { day -= 1 }
            return day * 1_440 + 60
        }
        let summer = utcMinutes >= lastSunday("03-31") && utcMinutes < lastSunday("10-31")
        return utcMinutes + (summer ? 120 : 60)
    }

    /// `06/12/2026 05:58`: the Italian local time of `milliseconds`, as a citizen reads it.
    public static func italianDateTime(_ milliseconds: Int64) -> String {
        let local = italianMinutes(milliseconds)
        let date = CalendarDate(daysSinceEpoch: local.floorDivided(by: 1_440))
        let minute = local.floorModulo(1_440)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(two(date.day))/\(two(date.month))/\(date.year) \(two(minute / 60)):\(two(minute % 60))"
    }

    /// The reads by a reader who read more than `personsPerHour` distinct persons in the hour
    /// ending with that read. A reader is an author with its operator (a service reads for many).
    static func bulkReads(_ reads: [Read], personsPerHour: Int) -> [Int] {
        var byReader: [String: [Int]] = [:]
        for (index, read) in reads.enumerated() { byReader["\(read.author)\u{0}\(read.operatorID ?? "")", default: []].append(index) }
        var flagged: [Int] = []
        for indices in byReader.values {
            var inWindow: [Pseudonym: Int] = [:]
            var start = 0
            for (offset, index) in indices.enumerated() {
                inWindow[reads[index].person, default: 0] += 1
                while reads[indices[start]].at <= reads[index].at - 3_600_000 {
                    let leaving = reads[indices[start]].person
                    inWindow[leaving]! -= 1
                    if inWindow[leaving] == 0 { inWindow[leaving] = nil }
                    start += 1
                }
                if inWindow.count > personsPerHour { flagged.append(indices[offset]) }
            }
        }
        return flagged.sorted()
    }

    /// Every operator on the person's path, with the position of their first entry there: an
    /// actor of an entry, or the case manager an entry assigned.
    static func operatorsOnPath(of person: Pseudonym, in log: LedgerSnapshot) throws -> [String: UInt64] {
        var first: [String: UInt64] = [:]
        let stream = Array(person.stream.utf8)
        let version = try log.streamVersion(stream)
        guard version > 0 else { return first }
        for index in 1...version {
            guard let position = try log.position(ofStream: stream, version: index), let entry = try log.entry(at: position),
                let stored = StoredEvent(payload: entry.payload)
            else { continue }
            for name in [stored.actor["operator"]?.string, JSON.object(stored.data)["operator"]?.string].compactMap({ $0 })
            where first[name] == nil {
                first[name] = position
            }
        }
        return first
    }
}

extension Int {
    fileprivate func floorDivided(by divisor: Int) -> Int { (self - floorModulo(divisor)) / divisor }
    fileprivate func floorModulo(_ divisor: Int) -> Int { ((self % divisor) + divisor) % divisor }
}

extension Int64 {
    fileprivate func dividedRounding(by divisor: Int64) -> Int64 { (self - ((self % divisor) + divisor) % divisor) / divisor }
}
