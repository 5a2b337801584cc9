import FascicoloJSON
import Glibc

/// How long each retention class of the catalogue is kept, from which event, on what legal
/// ground (issue 21): `Config/reference/retention/<version>.json`, the newest version in force.
/// Rules without a duration (accountability entries are kept as long as what they correct) are
/// documentation only.
public struct RetentionSchedule: Sendable {
    public struct Rule: Sendable, Equatable {
        /// The catalogue's retention class (`RetentionClass.rawValue`).
        public let retentionClass: String
        /// Which files of the class it covers: `default`, `minors_protection`,
        /// `economic_benefits`, `no_case`.
        public let scope: String
        public let months: Int
        /// The event the period runs from: `case_closed`, `last_service_delivered`, `last_entry`,
        /// `record_accessed`.
        public let from: String
        public let legalSource: String
    }

    public let version: String
    public let rules: [Rule]

    /// The case-record rule of `scope`, if the schedule has one.
    public func caseRecord(_ scope: String) -> Rule? {
        rules.first { $0.retentionClass == RetentionClass.caseRecord.rawValue && $0.scope == scope }
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let file: String
        public let reason: String
        public var description: String { "retention schedule \(file): \(reason)" }
    }

    public static func parse(_ bytes: [UInt8], file: String) throws(Invalid) -> RetentionSchedule {
        let document: JSON
        do { document = try JSON.parse(bytes) } catch { throw Invalid(file: file, reason: "\(error)") }
        guard let version = document["version"]?.string, ReferenceTable.isValidVersion(version) else {
            throw Invalid(file: file, reason: "\"version\" is a string of letters, digits, '.' and '-'")
        }
        guard let classes = document["classes"]?.array else { throw Invalid(file: file, reason: "\"classes\" is an array") }
        var rules: [Rule] = []
        for entry in classes {
            guard let name = entry["class"]?.string, RetentionClass(rawValue: name) != nil, let list = entry["rules"]?.array else {
                throw Invalid(file: file, reason: "each class names a retention class of the catalogue and has \"rules\"")
            }
            for rule in list {
                guard let scope = rule["scope"]?.string, let from = rule["from"]?.string, let source = rule["legalSource"]?.string,
                    !source.isEmpty
                else {
                    throw Invalid(file: file, reason: "each rule of \(name) has a scope, a starting event and a legal source")
                }
                let months = rule["months"]?.int ?? rule["years"]?.int.map { $0 * 12 }
                guard let months else { continue }  // documentation only (kept as long as another class)
                guard (1...1_200).contains(months) else {
                    throw Invalid(file: file, reason: "\(name)/\(scope): a duration of 1 to 1200 months")
                }
                rules.append(Rule(retentionClass: name, scope: scope, months: months, from: from, legalSource: source))
            }
        }
        guard rules.contains(where: { $0.retentionClass == RetentionClass.caseRecord.rawValue && $0.scope == "default" }) else {
            throw Invalid(file: file, reason: "case_record has a default rule")
        }
        return RetentionSchedule(version: version, rules: rules)
    }

    /// The newest schedule in `directory` (every `*.json`); nil when there is none.
    public static func load(directory: String) throws(Invalid) -> RetentionSchedule? {
        guard let handle = opendir(directory) else { return nil }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".json") { names.append(name) }
        }
        closedir(handle)
        var newest: RetentionSchedule?
        for name in names {
            let path = directory + "/" + name
            guard let bytes = ReferenceData.readFile(path, limit: 1 << 20) else {
                throw Invalid(file: path, reason: "cannot read it, or larger than 1 MiB")
            }
            let schedule = try parse(bytes, file: path)
            if newest.map({ ReferenceData.isOlder($0.version, than: schedule.version) }) ?? true { newest = schedule }
        }
        return newest
    }
}

extension CalendarDate {
    /// The same day `months` later (the month's last day when it has fewer days).
    public func adding(months: Int) -> CalendarDate {
        let total = year * 12 + (month - 1) + months
        let (newYear, newMonth) = (total / 12, total % 12 + 1)
        for candidate in stride(from: day, through: min(day, 28), by: -1) {
            let text = "\(newYear)-\(newMonth < 10 ? "0" : "")\(newMonth)-\(candidate < 10 ? "0" : "")\(candidate)"
            if let date = CalendarDate(text) { return date }
        }
        return self
    }
}
