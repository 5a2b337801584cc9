import ArgumentParser
import FascicoloJSON
import Glibc

struct CatalogueCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalogue",
        abstract: "List the event types a case file may hold, with purpose and retention (any role).",
        discussion: """
            Without TYPE: every type with its Italian label, schema version, processing purpose, \
            retention class and personal fields (sealed with the person's data key, never stored \
            in clear). With TYPE: that type's fields, their kinds and which are required. Types \
            written by the daemon itself (RecordAccessed, ErasureExecuted) are marked.

            """ + Exit.help)

    @Argument(help: "One event type to describe field by field.")
    var type: String?

    @OptionGroup var daemon: DaemonOptions

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let (response, catalogue) = try await session.getJSON("/v1/catalogue")
        let types = catalogue["types"]?.array ?? []
        if let type {
            guard let schema = types.first(where: { $0["type"]?.string == type }) else {
                Terminal.error("error: the catalogue has no type \(jsonString(type)) (fascicolo catalogue lists them)")
                throw Exit.failed
            }
            if daemon.json {
                Terminal.out(schema.compact)
                return
            }
            for line in fields([
                ("type", type), ("label", schema["label"]?.string ?? "?"), ("version", schema["version"]?.compact ?? "?"),
                ("purpose", schema["purpose"]?.string ?? "?"), ("legal basis", schema["legalBasis"]?.string ?? "?"),
                ("retention", schema["retention"]?.string ?? "?"), ("correction", schema["correction"]?.string ?? "?"),
                ("judicial", schema["judicial"]?.bool == true ? "yes (GDPR art. 10)" : "no"),
                ("written by", schema["writtenBy"]?.string ?? "?"),
            ]) { Terminal.out(line) }
            Terminal.out("")
            let rows = (schema["fields"]?.array ?? []).map { field in
                [
                    field["name"]?.string ?? "", Self.kind(field), Self.required(field),
                    field["personal"]?.bool == true ? "yes (sealed)" : "no",
                ]
            }
            for line in table(["FIELD", "KIND", "REQUIRED", "PERSONAL"], rows) { Terminal.out(line) }
            return
        }
        if daemon.json {
            session.printRaw(response)
            return
        }
        let rows = types.map { schema in
            let personal = (schema["fields"]?.array ?? []).filter { $0["personal"]?.bool == true }.compactMap { $0["name"]?.string }
            return [
                schema["type"]?.string ?? "", schema["label"]?.string ?? "", schema["version"]?.compact ?? "",
                schema["purpose"]?.string ?? "", schema["retention"]?.string ?? "",
                (personal.isEmpty ? "-" : personal.joined(separator: ", "))
                    + (schema["writtenBy"]?.string == "daemon" ? "  (written by the daemon)" : ""),
            ]
        }
        for line in table(["TYPE", "LABEL", "VERSION", "PURPOSE", "RETENTION", "PERSONAL FIELDS"], rows) { Terminal.out(line) }
    }

    /// `choice: F, M, X`, `text ≤ 200`, `integer 1900…2100`, `code:ambiti`, …
    /// "yes", "no", or the condition of a field given only when another holds a value.
    static func required(_ field: JSON) -> String {
        if let condition = field["onlyWhen"], let name = condition["field"]?.string, let value = condition["value"]?.string {
            return "when \(name) = \(value)"
        }
        return field["required"]?.bool == true ? "yes" : "no"
    }

    static func kind(_ field: JSON) -> String {
        let kind = field["kind"]?.string ?? "?"
        if let values = field["values"]?.array?.compactMap(\.string) { return kind + ": " + values.joined(separator: ", ") }
        if let minimum = field["minimum"]?.compact, let maximum = field["maximum"]?.compact { return "\(kind) \(minimum)…\(maximum)" }
        if let items = field["maxItems"]?.compact, let length = field["maxLength"]?.compact { return "\(kind) ≤ \(items) × ≤ \(length)" }
        if let length = field["maxLength"]?.compact { return "\(kind) ≤ \(length)" }
        return kind
    }
}
