import FascicoloConcurrency
import FascicoloDomain
import FascicoloJSON
import FascicoloProjections
import Hummingbird

/// The SIUSS feed (d.lgs. 147/2017 art. 24): an admin derives the transmission files here, in
/// the daemon — the one process that holds the keys that open the codici fiscali, and that
/// records each opening as a read of that person before it serves anything (docs/siuss.md).
extension APIRoutes {
    func registerSiuss(on groups: RouteGroups) {
        groups.admins.post("v1/siuss/exports") { request, context in
            let peer = try caller(context)
            let body: JSON
            do { body = try JSON.parse(try await jsonBody(request, bytesMax: 4 << 10)) } catch let error as JSON.Malformed {
                throw Problem.badRequest("\(error)")
            }
            for member in body.members ?? [] where !["from", "to"].contains(member.key) {
                throw Problem.badRequest("an unknown member (the members are from, to)")
            }
            guard let from = body["from"]?.string.flatMap(CalendarDate.init), let to = body["to"]?.string.flatMap(CalendarDate.init) else {
                throw Problem(
                    .unprocessableContent, code: "schema_violation", detail: "from and to are dates (YYYY-MM-DD)",
                    field: body["from"]?.string.flatMap(CalendarDate.init) == nil ? "from" : "to")
            }
            guard let layout = caseFiles.reference.siuss else {
                throw Problem(
                    .unprocessableContent, code: "siuss_layout_missing",
                    detail: "no SIUSS layout in the reference data (Config/reference/siuss)")
            }
            var reader = try reader(request, peer)
            if reader.purpose == nil { reader.purpose = SiussExport.purpose }
            do {
                let result = try await caseFiles.exportToSiuss(from: from, to: to, layout: layout, reader: reader)
                return json(status: .created, Render.siussExport(result))
            } catch { throw Self.problem(for: error) }
        }
        // The transmission register: per prestazione and plan, whether and when it was sent.
        groups.auditors.get("v1/siuss/register") { request, _ in
            let after: UInt64 = try parameter(request, "after") ?? 0
            let sent: Bool? = try parameter(request, "sent")
            let limit = try readModelLimit(request, max: 1_000)
            let (rows, position) = try await readModel(SiussRegister.name, request) { view in
                try SiussRegister.rows(view, after: after, sent: sent, limit: limit)
            }
            return answer(position) { body in
                body.key("rows")
                body.array { body in
                    for row in rows { Render.siussRegisterRow(row, into: &body) }
                }
            }
        }
    }
}

extension Render {
    /// The export's figures and its files; `content` is the file's text (codici fiscali: the
    /// CLI writes it to a 0600 file and shows only the figures).
    static func siussExport(_ result: SiussExportResult) -> [UInt8] {
        var json = JSONBytes()
        json.object { json in
            json.member("position", result.position)
            json.member("parts", result.parts)
            json.member("from", result.from.description)
            json.member("to", result.to.description)
            json.member("layout", result.layout)
            json.member("insertions", result.insertions)
            json.member("cancellations", result.cancellations)
            json.member("persons", result.persons)
            json.member("withoutCodiceFiscale", result.withoutCodiceFiscale)
            json.key("files")
            json.array { json in
                for file in result.files {
                    json.object { json in
                        json.member("name", file.name)
                        json.member("sha256", file.sha256)
                        json.member("records", file.records)
                        json.member("content", String(decoding: file.bytes, as: UTF8.self))
                    }
                }
            }
        }
        return json.bytes
    }
}

extension Render {
    static func siussRegisterRow(_ row: SiussRegister.Row, into json: inout JSONBytes) {
        json.object { json in
            json.member("position", row.position)
            json.member("kind", row.kind)
            json.member("person", row.person.description)
            json.member("sent", row.lastExport != nil)
            json.member("standing", row.standing)
            json.member("insertions", row.insertions)
            json.member("cancellations", row.cancellations)
            if let last = row.lastExport, let at = row.lastExportAtMilliseconds, let digest = row.fileSHA256 {
                json.member("lastExport", last)
                json.member("lastExportAt", Timestamp.iso8601(milliseconds: at))
                json.member("fileSHA256", digest)
            }
        }
    }
}
