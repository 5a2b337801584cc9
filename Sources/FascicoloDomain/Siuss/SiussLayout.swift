import FascicoloJSON
import Glibc

/// The layout (*tracciato*) of the SIUSS transmission files, as reference data
/// (`Config/reference/siuss/<version>.json`, described in Config/reference/README.md): which
/// files, which fields in which order, where each field's value comes from, and the rule each
/// value must meet. Kept out of the code so that it can be corrected against the tracciato INPS
/// publishes without a new build: the exact format could not be confirmed (docs/siuss.md).
public struct SiussLayout: Sendable {
    public enum SectionKind: String, Sendable {
        /// PS/PSA: one record per prestazione and month.
        case benefits
        /// SINBA / SINA / SIP: one record per signed plan that follows a multidimensional assessment.
        case assessment
    }

    /// When a field must have a value.
    public enum Requirement: String, Sendable {
        case always
        /// On insertions only (a cancellation names the record it cancels and the ente).
        case insertion
        case never
    }

    /// What the derivation puts in a field (`SiussRecord.values`).
    public enum Source: String, Sendable, CaseIterable {
        case operation, recordId, codiceEnte, codiceFiscale
        case prestazione, localCode, fundingLine, period, startDate, endDate, deliveries, minutes, amount, isee
        case birthYear, sex, assessmentDate, instrument, planDate, area
    }

    public struct Field: Sendable {
        public let name: String
        public let source: Source
        public let required: Requirement
        /// A regular expression the value (when not empty) matches whole.
        public let pattern: String
        /// `codiceFiscale`: the check character is verified too.
        public let check: String?
    }

    public struct Section: Sendable {
        public let name: String
        public let file: String
        public let kind: SectionKind
        /// Assessment sections: the user areas (CaseOpened.area) whose plans go in this section.
        public let areas: Set<String>
        public let fields: [Field]
    }

    public let version: String
    public let separator: String
    public let sections: [Section]
    /// Ambito → the INPS code of its ente erogatore.
    public let enti: [String: String]

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public let file: String
        public let reason: String
        public var description: String { "SIUSS layout \(file): \(reason)" }
    }

    public static func parse(_ bytes: [UInt8], file: String) throws(Invalid) -> SiussLayout {
        let document: JSON
        do { document = try JSON.parse(bytes) } catch { throw Invalid(file: file, reason: "\(error)") }
        func fail(_ reason: String) -> Invalid { Invalid(file: file, reason: reason) }
        guard let version = document["version"]?.string, ReferenceTable.isValidVersion(version) else {
            throw fail("\"version\" is a string of letters, digits, '.' and '-'")
        }
        guard let separator = document["separator"]?.string, separator.utf8.count == 1 else {
            throw fail("\"separator\" is one character")
        }
        var enti: [String: String] = [:]
        for entry in document["enti"]?.array ?? [] {
            guard let ambito = entry["ambito"]?.string, let code = entry["codiceEnte"]?.string, !code.isEmpty else {
                throw fail("every entry of \"enti\" has an \"ambito\" and a \"codiceEnte\"")
            }
            enti[ambito] = code
        }
        guard let sectionList = document["sections"]?.array, !sectionList.isEmpty else { throw fail("\"sections\" is a non-empty array") }
        var sections: [Section] = []
        for entry in sectionList {
            guard let name = entry["name"]?.string, let fileName = entry["file"]?.string,
                let kind = entry["kind"]?.string.flatMap(SectionKind.init(rawValue:)), let fieldList = entry["fields"]?.array
            else { throw fail("every section has a \"name\", a \"file\", a \"kind\" (benefits, assessment) and \"fields\"") }
            guard !fileName.isEmpty, fileName.utf8.allSatisfy({ $0 != UInt8(ascii: "/") && $0 > 0x20 && $0 < 0x7F }) else {
                throw fail("section \(name): a file name is printable ASCII without '/'")
            }
            var fields: [Field] = []
            for field in fieldList {
                guard let fieldName = field["name"]?.string, let source = field["source"]?.string.flatMap(Source.init(rawValue:)),
                    let required = field["required"]?.string.flatMap(Requirement.init(rawValue:)), let pattern = field["pattern"]?.string
                else {
                    throw fail(
                        "section \(name): every field has a \"name\", a \"source\" (one of \(Source.allCases.map(\.rawValue).joined(separator: ", "))), "
                            + "\"required\" (always, insertion, never) and a \"pattern\"")
                }
                guard (try? Regex(pattern)) != nil else { throw fail("section \(name), field \(fieldName): the pattern does not compile") }
                fields.append(Field(name: fieldName, source: source, required: required, pattern: pattern, check: field["check"]?.string))
            }
            for needed in [Source.operation, .recordId] where !fields.contains(where: { $0.source == needed }) {
                throw fail("section \(name) has no \(needed.rawValue) field")
            }
            let areas = Set((entry["areas"]?.array ?? []).compactMap(\.string))
            sections.append(Section(name: name, file: fileName, kind: kind, areas: areas, fields: fields))
        }
        guard Set(sections.map(\.file)).count == sections.count else { throw fail("two sections write the same file") }
        return SiussLayout(version: version, separator: separator, sections: sections, enti: enti)
    }

    /// The newest layout of `directory` (`*.json`, versions compared as the reference data's).
    public static func load(directory: String) throws -> SiussLayout {
        guard let handle = opendir(directory) else {
            throw Invalid(file: directory, reason: "cannot open the directory (errno \(errno))")
        }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".json") { names.append(name) }
        }
        closedir(handle)
        var layouts: [SiussLayout] = []
        for name in names.sorted() {
            let path = directory + "/" + name
            guard let bytes = ReferenceData.readFile(path, limit: 1 << 20) else {
                throw Invalid(file: path, reason: "cannot read it, or larger than 1 MiB")
            }
            layouts.append(try parse(bytes, file: path))
        }
        guard let newest = layouts.max(by: { ReferenceData.isOlder($0.version, than: $1.version) }) else {
            throw Invalid(file: directory, reason: "no layout (*.json)")
        }
        return newest
    }
}
