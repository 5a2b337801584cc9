import FascicoloConcurrency
import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger

/// The bundle as one self-contained HTML page, for people who will not run a verifier: who, at
/// which checkpoint, every entry of the case file by date with its type, actor, clear data and
/// personal fields, corrections shown as what they are (pointing at the version they correct,
/// and marked on that version), erased fields shown as destroyed, and the reads of the file as a
/// table. Every value is escaped; no script, no external resource.
///
/// It shows what the bundle says; it proves nothing. The page says so and names the check.
extension PersonBundle {
    public var html: String {
        let view = BundleView(self)
        var page = HTMLPage()
        page.line("<!DOCTYPE html>")
        page.line("<html lang=\"en\"><head><meta charset=\"utf-8\">")
        page.line("<title>Fascicolo — person \(escape(person))</title>")
        page.line("<style>\(Self.style)</style></head><body>")
        page.line("<h1>Person file <code>\(escape(person))</code></h1>")
        page.line(
            "<p class=\"note\">This page shows what the bundle says; it proves nothing by itself. To check that these are all "
                + "the person's entries, exactly as signed, run <code>tools/verify-bundle.py --key KEY BUNDLE.json</code> "
                + "(or <code>fascicolo bundle verify</code>) with the log's verifier key obtained out of band.</p>")
        page.line("<table class=\"facts\">")
        page.row(header: "Person (pseudonym)", escape(person))
        page.row(header: "Exported at", escape(exportedAt))
        page.row(header: "Purpose of the export", escape(purpose))
        page.row(header: "Checkpoint", escape(view.checkpointSummary))
        page.row(header: "Log verifier key", "<code>\(escape(verifierKey))</code>")
        page.row(
            header: "Personal data",
            dataKey == nil
                ? "<strong>erased</strong>: the person's data key was destroyed; personal fields are shown as destroyed"
                : "included (opened with the person's data key, which the bundle carries)")
        page.row(
            header: "Entries",
            "\(view.caseFile.count) in the case file, \(view.reads.count) read\(view.reads.count == 1 ? "" : "s") of the file")
        page.line("</table>")

        page.line("<h2>Case file</h2>")
        if view.caseFile.isEmpty {
            page.line("<p>No entry.</p>")
        } else {
            page.line(
                "<table><thead><tr><th>Version</th><th>Occurred</th><th>Recorded</th><th>Type</th><th>Actor</th>"
                    + "<th>Data</th><th>Personal fields</th><th>Corrections</th></tr></thead><tbody>")
            for row in view.caseFile {
                let classes = row.isCorrection ? " class=\"correction\"" : row.correctedBy.isEmpty ? "" : " class=\"corrected\""
                page.line(
                    "<tr\(classes)><td>\(row.version)</td><td>\(escape(row.occurredAt))</td><td>\(escape(row.recordedAt))</td>"
                        + "<td>\(escape(row.type))</td><td>\(escape(row.actor))<br><small>\(escape(row.author))</small></td>"
                        + "<td>\(Self.members(row.data))</td><td>\(Self.personal(row.personal))</td>"
                        + "<td>\(row.correctionNotes.map(escape).joined(separator: "<br>"))</td></tr>")
            }
            page.line("</tbody></table>")
        }

        page.line("<h2>Reads of the file</h2>")
        if view.reads.isEmpty {
            page.line("<p>No read recorded.</p>")
        } else {
            page.line(
                "<table><thead><tr><th>Version</th><th>When</th><th>Who</th><th>Role</th><th>Operator</th><th>What</th>"
                    + "<th>Entries</th><th>Purpose</th></tr></thead><tbody>")
            for read in view.reads {
                page.line(
                    "<tr><td>\(read.version)</td><td>\(escape(read.recordedAt))</td><td>\(escape(read.author))</td>"
                        + "<td>\(escape(read.role))</td><td>\(escape(read.operatorID))</td><td>\(escape(read.what))</td>"
                        + "<td>\(escape(read.entries))</td><td>\(escape(read.purpose))</td></tr>")
            }
            page.line("</tbody></table>")
        }
        page.line("</body></html>")
        return page.text
    }

    static let style =
        "body{font-family:sans-serif;margin:2em;color:#111}table{border-collapse:collapse;margin:1em 0}"
        + "th,td{border:1px solid #bbb;padding:4px 6px;vertical-align:top;text-align:left;font-size:90%}"
        + "th{background:#eee}.facts th{width:14em}.note{background:#ffd;padding:.5em;border:1px solid #cc9}"
        + "tr.correction td{background:#eef5ff}tr.corrected td{background:#fff3f3}.destroyed{color:#a00;font-style:italic}"
        + "dl{margin:0}dt{font-weight:bold;display:inline}dd{display:inline;margin:0 0 0 .3em}dd:after{content:'';display:block}"

    /// A JSON object's members as a small definition list, escaped.
    static func members(_ members: [(key: String, value: JSON)]) -> String {
        guard !members.isEmpty else { return "" }
        return "<dl>"
            + members.map { "<dt>\(escape($0.key))</dt><dd>\(escape(display($0.value)))</dd>" }.joined() + "</dl>"
    }

    static func personal(_ personal: BundleView.Personal) -> String {
        switch personal {
        case .fields(let fields): members(fields)
        case .destroyed: "<span class=\"destroyed\">destroyed (erased)</span>"
        case .notOpened: "<span class=\"destroyed\">not opened</span>"
        case .none: ""
        }
    }

    static func display(_ value: JSON) -> String {
        if case .string(let text) = value { return text }
        return value.compact
    }
}

/// What the renderings show, read from the bundle's entries: no verification here.
struct BundleView {
    /// What became of an entry's personal fields.
    enum Personal {
        case fields([(key: String, value: JSON)])
        /// Sealed, and the data key is gone (erasure).
        case destroyed
        /// Sealed, with a data key, but no `fields` in the bundle.
        case notOpened
        /// Nothing sealed.
        case none
    }

    struct CaseFileRow {
        var version: UInt64
        var occurredAt: String
        var recordedAt: String
        var type: String
        var actor: String
        var author: String
        var data: [(key: String, value: JSON)]
        var personal: Personal
        var isCorrection: Bool
        /// "rectifies version 3 (field notes)", "voided by version 9"…
        var correctionNotes: [String]
        var correctedBy: [UInt64]
    }

    struct ReadRow {
        var version: UInt64
        var recordedAt: String
        var author: String
        var role: String
        var operatorID: String
        var what: String
        var entries: String
        var purpose: String
    }

    var caseFile: [CaseFileRow] = []
    var reads: [ReadRow] = []
    var checkpointSummary: String

    init(_ bundle: PersonBundle) {
        let lines = bundle.checkpoint.split(separator: "\n", omittingEmptySubsequences: false)
        let size = lines.count > 1 ? String(lines[1]) : "?"
        let root = lines.count > 2 ? String(lines[2]) : "?"
        checkpointSummary = "size \(size) (the first \(size) entries of the log), root \(root)"

        let personStream = bundle.streams.first
        var rows: [CaseFileRow] = []
        var types: [UInt64: String] = [:]
        for entry in personStream?.entries ?? [] {
            guard let parsed = entry.parsed else { continue }
            let payload = (try? JSON.parse(parsed.payload)) ?? .object([])
            let data = payload["data"]?.members ?? []
            let sealed = payload["sealed"] != nil
            let personal: Personal =
                if let fields = entry.fields?.members { .fields(fields) } else if sealed {
                    bundle.dataKey == nil ? .destroyed : .notOpened
                } else { .none }
            types[parsed.streamVersion] = parsed.eventType
            rows.append(
                CaseFileRow(
                    version: parsed.streamVersion, occurredAt: payload["occurredAt"]?.string ?? "",
                    recordedAt: Timestamp.iso8601(milliseconds: parsed.recordedAtMilliseconds), type: parsed.eventType,
                    actor: Self.actor(payload["actor"]), author: parsed.author, data: data, personal: personal,
                    isCorrection: false, correctionNotes: [], correctedBy: []))
        }
        // Corrections point at the version they correct; the corrected version is marked too.
        for index in rows.indices {
            let row = rows[index]
            let verb: String
            let member: String
            switch row.type {
            case "Rectified": (verb, member) = ("rectifies", "target")
            case "Voided": (verb, member) = ("voids", "target")
            case "Restricted": (verb, member) = ("restricts processing of", "target")
            case "RestrictionLifted": (verb, member) = ("lifts the restriction of", "restriction")
            default: continue
            }
            guard let target = row.data.first(where: { $0.key == member })?.value.uint64 else { continue }
            let field = row.type == "Rectified" ? row.data.first { $0.key == "field" }?.value.string.map { ", field \($0)" } ?? "" : ""
            rows[index].isCorrection = true
            rows[index].correctionNotes.append("\(verb) version \(target) (\(types[target] ?? "?")\(field))")
            if let targetIndex = rows.firstIndex(where: { $0.version == target }) {
                let past =
                    switch row.type {
                    case "Rectified": "rectified"
                    case "Voided": "voided"
                    case "Restricted": "restricted"
                    default: "restriction lifted"
                    }
                rows[targetIndex].correctionNotes.append("\(past) by version \(row.version)")
                rows[targetIndex].correctedBy.append(row.version)
            }
        }
        caseFile = rows

        for entry in bundle.streams.dropFirst().first?.entries ?? [] {
            guard let parsed = entry.parsed else { continue }
            let payload = (try? JSON.parse(parsed.payload)) ?? .object([])
            let data = payload["data"]
            reads.append(
                ReadRow(
                    version: parsed.streamVersion, recordedAt: Timestamp.iso8601(milliseconds: parsed.recordedAtMilliseconds),
                    author: parsed.author, role: data?["role"]?.string ?? "", operatorID: payload["actor"]?["operator"]?.string ?? "",
                    what: data?["what"]?.string ?? parsed.eventType, entries: data?["entries"]?.compact ?? "",
                    purpose: data?["purpose"]?.string ?? ""))
        }
    }

    /// `op-7 (assistente_sociale, Comune di Potenza, ambito potenza)`
    static func actor(_ actor: JSON?) -> String {
        guard let actor else { return "" }
        let operatorID = actor["operator"]?.string ?? ""
        var details: [String] = []
        if let role = actor["role"]?.string { details.append(role) }
        if let ente = actor["ente"]?.string { details.append(ente) }
        if let ambito = actor["ambito"]?.string { details.append("ambito " + ambito) }
        if let behalf = actor["onBehalfOf"]?.string { details.append("on behalf of " + behalf) }
        return details.isEmpty ? operatorID : "\(operatorID) (\(details.joined(separator: ", ")))"
    }
}

struct HTMLPage {
    var text = ""
    mutating func line(_ line: String) { text += line + "\n" }
    /// A header cell and an already escaped value.
    mutating func row(header: String, _ valueHTML: String) { line("<tr><th>\(escape(header))</th><td>\(valueHTML)</td></tr>") }
}

/// Text as HTML: the five characters that could start markup or end an attribute, escaped.
func escape(_ text: String) -> String {
    var result = ""
    result.reserveCapacity(text.utf8.count)
    for character in text.unicodeScalars {
        switch character {
        case "&": result += "&amp;"
        case "<": result += "&lt;"
        case ">": result += "&gt;"
        case "\"": result += "&quot;"
        case "'": result += "&#39;"
        default: result.unicodeScalars.append(character)
        }
    }
    return result
}
