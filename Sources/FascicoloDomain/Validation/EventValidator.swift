import FascicoloJSON

/// An event's `data` checked against its schema and split into what stays in clear and what is
/// sealed.
public struct ValidatedData: Sendable {
    /// Fields stored in clear, in schema order.
    public var open: [(key: String, value: JSON)]
    /// Personal fields, sealed with the person's data key; empty when the event carries none.
    public var personal: [(key: String, value: JSON)]
}

/// Checks `data` objects against the catalogue's schemas. Errors name the field, never its value.
public enum EventValidator {
    public static func validate(
        _ data: JSON, schema: EventSchema, reference: ReferenceTable,
        fieldPrefix: @autoclosure () -> String
    ) throws(DomainError) -> ValidatedData {
        guard let members = data.members else {
            throw .schema("data is an object", field: fieldPrefix())
        }
        // The unknown name is not echoed (it is the client's text); the schema's names are.
        for member in members where schema.field(member.key) == nil {
            throw .schema(
                "\(schema.type) has a field it does not define (its fields are "
                    + schema.fields.map(\.name).joined(separator: ", ") + ")", field: fieldPrefix())
        }
        var result = ValidatedData(open: [], personal: [])
        for field in schema.fields {
            // The path names the field in an error only: not built for every field checked.
            func path() -> String { fieldPrefix() + "." + field.name }
            let given = members.first(where: { $0.key == field.name })?.value
            if let condition = field.onlyWhen {
                let applies = members.first(where: { $0.key == condition.field })?.value.string == condition.value
                if applies && (given == nil || given == .null) {
                    throw .schema("\(field.name) is required when \(condition.field) is \(condition.value)", field: path())
                }
                if !applies && given != nil && given != .null {
                    throw .schema("\(field.name) is given only when \(condition.field) is \(condition.value)", field: path())
                }
            }
            guard let value = given, value != .null else {
                if field.required { throw .schema("\(field.name) is required for \(schema.type)", field: path()) }
                continue
            }
            try check(value, kind: field.kind, reference: reference, path: path())
            if field.personal {
                result.personal.append((field.name, value))
            } else {
                result.open.append((field.name, value))
            }
        }
        return result
    }

    static func check(_ value: JSON, kind: FieldKind, reference: ReferenceTable, path: @autoclosure () -> String) throws(DomainError) {
        switch kind {
        case .text(let maxLength):
            guard case .string(let text) = value else { throw .schema("a string is expected", field: path()) }
            try checkText(text, maxLength: maxLength, path: path())
        case .date:
            guard case .string(let text) = value, CalendarDate(text) != nil else {
                throw .schema("a date is expected, as YYYY-MM-DD", field: path())
            }
        case .integer(let range):
            guard case .number(let text) = value, let number = Int64(text), range.contains(number) else {
                throw .schema("an integer from \(range.lowerBound) to \(range.upperBound) is expected", field: path())
            }
        case .amount:
            guard case .number(let text) = value, isAmount(text) else {
                throw .schema("a non-negative amount with at most two decimals (e.g. 120.50) is expected", field: path())
            }
        case .boolean:
            guard case .bool = value else { throw .schema("true or false is expected", field: path()) }
        case .choice(let values):
            guard case .string(let text) = value, values.contains(text) else {
                throw .schema("one of \(values.joined(separator: ", ")) is expected", field: path())
            }
        case .code(let list):
            guard case .string(let code) = value, reference.contains(code, in: list) else {
                throw DomainError(
                    .invalid, code: "unknown_code",
                    "not a code of \(list.rawValue) in reference data \(reference.version)", field: path())
            }
        case .entry:
            guard case .number(let text) = value, let version = UInt64(text), version >= 1 else {
                throw .schema("the stream version (1 or more) of an entry of this case file is expected", field: path())
            }
        case .textList(let maxCount, let maxLength):
            guard case .array(let values) = value, (1...maxCount).contains(values.count) else {
                throw .schema("a list of 1 to \(maxCount) strings is expected", field: path())
            }
            for (index, element) in values.enumerated() {
                guard case .string(let text) = element else { throw .schema("a string is expected", field: "\(path())[\(index)]") }
                try checkText(text, maxLength: maxLength, path: "\(path())[\(index)]")
            }
        }
    }

    static func checkText(_ text: String, maxLength: Int, path: @autoclosure () -> String) throws(DomainError) {
        // Over the UTF-8 bytes (a String is valid UTF-8): a scalar starts at every byte that is
        // not a continuation byte; C0 controls and DEL are single bytes, C1 controls (U+0080–U+009F)
        // are 0xC2 followed by 0x80–0x9F.
        var text = text
        let (count, control) = text.withUTF8 { bytes -> (Int, Bool) in
            var count = 0
            for (index, byte) in bytes.enumerated() {
                // Line breaks and tabs are fine in notes; other control characters are not text.
                if byte < 0x20 && byte != 0x0A && byte != 0x09 || byte == 0x7F
                    || byte == 0xC2 && index + 1 < bytes.count && (0x80...0x9F).contains(bytes[index + 1])
                {
                    return (count, true)
                }
                if byte & 0xC0 != 0x80 { count += 1 }
            }
            return (count, false)
        }
        if control { throw .schema("control characters are not allowed", field: path()) }
        guard count >= 1, !text.allSatisfy(\.isWhitespace) else { throw .schema("an empty string is not allowed", field: path()) }
        guard count <= maxLength else { throw .schema("at most \(maxLength) characters are allowed", field: path()) }
    }

    static func isAmount(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = UInt64(parts[0]), whole <= 1_000_000_000 else { return false }
        return parts.count == 1 || (1...2).contains(parts[1].count) && parts[1].allSatisfy(\.isASCII) && UInt64(parts[1]) != nil
    }
}

/// A calendar date `YYYY-MM-DD` (proleptic Gregorian), comparable and convertible to a day number.
public struct CalendarDate: Sendable, Comparable, Hashable, CustomStringConvertible {
    /// year ‖ month (4 bits) ‖ day (5 bits): four bytes, where three `Int`s took 24 (every case
    /// fact and case state keeps two dates, and the projections keep one per entry folded);
    /// ordered as the dates are.
    private let packed: Int32

    public var year: Int { Int(packed >> 9) }
    public var month: Int { Int(packed >> 5 & 0xF) }
    public var day: Int { Int(packed & 0x1F) }

    private init(year: Int, month: Int, day: Int) {
        packed = Int32(year) << 9 | Int32(month) << 5 | Int32(day)
    }

    public init?(_ text: String) {
        var text = text
        // Read in place (a date is a small string: no allocation).
        guard
            let (year, month, day) = text.withUTF8({ bytes -> (Int, Int, Int)? in
                guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
                func number(_ range: Range<Int>) -> Int? {
                    var value = 0
                    for byte in bytes[range] {
                        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                        value = value * 10 + Int(byte - UInt8(ascii: "0"))
                    }
                    return value
                }
                guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return nil }
                return (year, month, day)
            }), (1900...2200).contains(year), (1...12).contains(month),
            (1...CalendarDate.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    public init(daysSinceEpoch days: Int) {
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yoe + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day)
    }

    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    public var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public var description: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool { lhs.packed < rhs.packed }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
