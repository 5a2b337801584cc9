import FascicoloDomain
import FascicoloJSON
import Hummingbird

/// No codice fiscale or STP/ENI code in clear, on any endpoint (`IdentifierScanner` says what
/// counts): URLs end up in proxies' and clients' logs, headers and generic appends in the signed
/// log. People are named only by `Fascicolo-Person` or a body's `person`, which the daemon turns
/// into pseudonyms. Refusals name the place, never the value.
enum IdentifierGate {
    /// The request's path, query and headers (all but `Fascicolo-Person`).
    static func check(_ request: Request, personHeader: HTTPFields.Element.Name) throws {
        let target = percentDecoded(request.uri.path) + "?" + percentDecoded(request.uri.query ?? "")
        if IdentifierScanner.containsIdentifier(target) { throw refusal(field: "url") }
        for field in request.headers
        where field.name != personHeader
            && (IdentifierScanner.containsIdentifier(field.value) || IdentifierScanner.containsIdentifier(field.name.rawName))
        {
            // A header's name is the client's text too: only the daemon's own headers are named.
            let known = [APIRoutes.purposeHeader, APIRoutes.operatorHeader].contains(field.name)
            throw refusal(field: known ? field.name.canonicalName : "headers")
        }
    }

    /// A generic append: its idempotency key, event types and every string of every `data`.
    static func check(_ body: AppendBody) throws {
        if let key = body.idempotencyKey, IdentifierScanner.containsIdentifier(key) { throw refusal(field: "idempotencyKey") }
        for (index, event) in body.events.enumerated() {
            if IdentifierScanner.containsIdentifier(event.type) { throw refusal(field: "events[\(index)].type") }
            // The field stops at the event's data: below it, member names are the client's text.
            if IdentifierScanner.containsIdentifier(in: event.value) { throw refusal(field: "events[\(index)].data") }
        }
    }

    static func refusal(field: String) -> Problem {
        let error = DomainError.identifierInClear(field: field)
        return Problem(.unprocessableContent, code: error.code, detail: error.message, field: field, detailItalian: error.messageItalian)
    }

    /// `%XX` decoded (and `+` as a space in queries does not matter here: it cannot hide letters).
    /// Invalid escapes are kept as written.
    static func percentDecoded(_ text: some StringProtocol) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2, let high = hexValue(utf8[utf8.startIndex]),
                let low = hexValue(utf8[utf8.startIndex + 1])
            {
                bytes.append(high << 4 | low)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
