import FascicoloJSON
import Glibc

/// The lists of codes that grow without a schema change.
public enum ReferenceList: String, Sendable, CaseIterable {
    case interventions
    case closureReasons
    case userAreas
    case ambiti
    /// How the person reached the service (sportello, telephone, PUA…). Reference data since 2026.2.
    case accessChannels
    /// The fund an intervention is paid from (FNPS, FNA, Fondo povertà, PNRR…). Reference data since 2026.2.
    case fundingLines

    /// The values the event schemas accepted for a list before it became reference data: a
    /// version published before then (2026.1) has no such list, and its events were validated
    /// against these. Kept so that such a version still means exactly what it meant then; new
    /// versions list their codes (with labels) in the file.
    static let valuesBeforeReferenceData: [ReferenceList: [String]] = [
        .accessChannels: ["in_person", "phone", "email", "home_visit", "online"],
        .fundingLines: ["fondo_poverta", "fnps", "fna", "pnrr", "comunale", "regionale", "adi", "other"],
    ]
}

/// One version of the reference data (intervention codes, closure reasons, user areas, ambiti,
/// access channels, funding lines).
///
/// Versions are never edited: a change is a new file with a new version, and every event
/// records the version it was validated against (`codeTable`), so the meaning of a stored code
/// never changes. All versions stay loaded, so old events resolve against their own table.
public struct ReferenceTable: Sendable {
    public struct Intervention: Sendable {
        public let code: String
        /// SIUSS benefit code (A1.xx cash, A2.xx services, A3.xx facilities, Z9.99 other).
        public let siuss: String
        /// Code of the CISIS interregional nomenclator used by ISTAT's survey of social services.
        public let istat: String
        public let label: String
        /// Pronto intervento sociale: allowed without a signed plan.
        public let emergency: Bool
    }

    public let version: String
    public let interventions: [String: Intervention]
    /// Code → Italian label, for the other lists.
    public let labels: [ReferenceList: [String: String]]

    public func contains(_ code: String, in list: ReferenceList) -> Bool {
        list == .interventions ? interventions[code] != nil : labels[list]?[code] != nil
    }

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public let file: String
        public let reason: String
        public var description: String { "reference data \(file): \(reason)" }
    }

    /// Parses one reference file (format in Config/reference/README.md).
    public static func parse(_ bytes: [UInt8], file: String) throws(Invalid) -> ReferenceTable {
        let document: JSON
        do { document = try JSON.parse(bytes) } catch { throw Invalid(file: file, reason: "\(error)") }
        guard let version = document["version"]?.string, ReferenceTable.isValidVersion(version) else {
            throw Invalid(file: file, reason: "\"version\" is a string of letters, digits, '.' and '-'")
        }
        func entries(_ list: ReferenceList) throws(Invalid) -> [JSON] {
            guard let values = document[list.rawValue]?.array, !values.isEmpty else {
                throw Invalid(file: file, reason: "\"\(list.rawValue)\" is a non-empty array")
            }
            return values
        }
        func text(_ entry: JSON, _ key: String, _ list: ReferenceList) throws(Invalid) -> String {
            guard let value = entry[key]?.string, !value.isEmpty else {
                throw Invalid(file: file, reason: "every entry of \(list.rawValue) has a non-empty \"\(key)\"")
            }
            return value
        }
        var interventions: [String: Intervention] = [:]
        for entry in try entries(.interventions) {
            let code = try text(entry, "code", .interventions)
            guard interventions[code] == nil else { throw Invalid(file: file, reason: "intervention \(code) appears twice") }
            let siuss = try text(entry, "siuss", .interventions)
            guard isSIUSSCode(siuss) else {
                throw Invalid(file: file, reason: "intervention \(code): \(siuss) is not a SIUSS code (A1.xx, A2.xx, A3.xx, Z9.99)")
            }
            interventions[code] = Intervention(
                code: code, siuss: siuss, istat: try text(entry, "istat", .interventions),
                label: try text(entry, "label", .interventions),
                emergency: entry["emergency"]?.bool ?? false)
        }
        var labels: [ReferenceList: [String: String]] = [:]
        for list in ReferenceList.allCases where list != .interventions {
            if document[list.rawValue] == nil, let values = ReferenceList.valuesBeforeReferenceData[list] {
                labels[list] = Dictionary(uniqueKeysWithValues: values.map { ($0, $0) })
                continue
            }
            var codes: [String: String] = [:]
            for entry in try entries(list) {
                let code = try text(entry, "code", list)
                guard codes[code] == nil else { throw Invalid(file: file, reason: "\(list.rawValue): \(code) appears twice") }
                codes[code] = try text(entry, "label", list)
            }
            labels[list] = codes
        }
        return ReferenceTable(version: version, interventions: interventions, labels: labels)
    }

    static func isValidVersion(_ version: String) -> Bool {
        let bytes = Array(version.utf8)
        return !bytes.isEmpty && bytes.count <= 32
            && bytes.allSatisfy { byte in
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            }
    }

    static func isSIUSSCode(_ code: String) -> Bool {
        let bytes = Array(code.utf8)
        guard bytes.count == 5, bytes[2] == UInt8(ascii: "."),
            ["A1", "A2", "A3", "Z9"].contains(String(decoding: bytes[0..<2], as: UTF8.self))
        else { return false }
        return bytes[3...].allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}

/// Every version of the reference data found in a directory; the newest (by file order of the
/// version string, compared numerically part by part) is the one new events use.
public struct ReferenceData: Sendable {
    public let versions: [String: ReferenceTable]
    public let current: ReferenceTable
    /// The retention schedule in force (`retention/` beside the code tables), if there is one.
    public var retention: RetentionSchedule?
    /// The SIUSS transmission layout (the `siuss/` subdirectory), when there is one.
    public var siuss: SiussLayout?

    public init(tables: [ReferenceTable]) throws(ReferenceTable.Invalid) {
        guard !tables.isEmpty else { throw ReferenceTable.Invalid(file: "-", reason: "no reference data") }
        var versions: [String: ReferenceTable] = [:]
        for table in tables {
            guard versions[table.version] == nil else {
                throw ReferenceTable.Invalid(file: "-", reason: "version \(table.version) is defined twice")
            }
            versions[table.version] = table
        }
        self.versions = versions
        current = tables.max { ReferenceData.isOlder($0.version, than: $1.version) }!
    }

    /// Loads every `*.json` file of `directory`.
    public static func load(directory: String) throws -> ReferenceData {
        guard let handle = opendir(directory) else {
            throw ReferenceTable.Invalid(file: directory, reason: "cannot open the directory (errno \(errno))")
        }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".json") { names.append(name) }
        }
        closedir(handle)
        var tables: [ReferenceTable] = []
        for name in names.sorted() {
            let path = directory + "/" + name
            guard let bytes = readFile(path, limit: 4 << 20) else {
                throw ReferenceTable.Invalid(file: path, reason: "cannot read it, or larger than 4 MiB")
            }
            tables.append(try ReferenceTable.parse(bytes, file: path))
        }
        var data = try ReferenceData(tables: tables)
        do { data.retention = try RetentionSchedule.load(directory: directory + "/retention") } catch {
            throw ReferenceTable.Invalid(file: error.file, reason: error.reason)
        }
        if access(directory + "/siuss", F_OK) == 0 { data.siuss = try SiussLayout.load(directory: directory + "/siuss") }
        return data
    }

    /// Compares versions like "2026.1" and "2026.10" part by part, numerically where both are numbers.
    static func isOlder(_ a: String, than b: String) -> Bool {
        let left = a.split(separator: ".")
        let right = b.split(separator: ".")
        for (x, y) in zip(left, right) where x != y {
            if let x = Int(x), let y = Int(y) { return x < y }
            return x < y
        }
        return left.count < right.count
    }

    static func readFile(_ path: String, limit: Int) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0 { return nil }
            if count == 0 { return result }
            result.append(contentsOf: buffer[..<count])
            if result.count > limit { return nil }
        }
    }
}
