import FascicoloJSON
import Hummingbird

/// An RFC 9457 problem details response (`application/problem+json`) with a stable,
/// machine-readable `code`. Details never carry payloads, keys or personal data.
public struct Problem: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    /// Stable across versions: clients and metrics key on it.
    public let code: String
    public let detail: String
    /// The offending input field, as a path (`events[0].data.birthYear`).
    public let field: String?
    /// The detail in Italian, for refusals a caseworker reads (path rules).
    public let detailItalian: String?
    /// Sent as `Retry-After` (seconds) when the refusal is temporary (a read model catching up).
    public var retryAfterSeconds: Int?

    public init(_ status: HTTPResponse.Status, code: String, detail: String, field: String? = nil, detailItalian: String? = nil,
                retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.detailItalian = detailItalian
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var headers: HTTPFields { [.contentType: "application/problem+json"] }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = """
            {"type":\(JSONText.string("https://fascicolo.invalid/problems/" + code)),\
            "title":\(JSONText.string(status.reasonPhrase)),"status":\(status.code),\
            "code":\(JSONText.string(code)),"detail":\(JSONText.string(detail))\
            \(field.map { ",\"field\":" + JSONText.string($0) } ?? "")\
            \(detailItalian.map { ",\"detailItalian\":" + JSONText.string($0) } ?? "")}
            """
        var buffer = ByteBuffer()
        buffer.writeString(body)
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: buffer))
    }

    static func badRequest(_ detail: String) -> Problem { Problem(.badRequest, code: "malformed_request", detail: detail) }
    static func forbidden(_ detail: String) -> Problem { Problem(.forbidden, code: "forbidden", detail: detail) }
    static func notFound(_ detail: String) -> Problem { Problem(.notFound, code: "not_found", detail: detail) }
    static let shuttingDown = Problem(.serviceUnavailable, code: "shutting_down", detail: "the daemon is shutting down")
}

/// Small JSON strings for the rarely-called routes; the hot paths build `JSONBytes` directly.
enum JSONText {
    static func string(_ text: String) -> String {
        var json = JSONBytes(capacity: text.utf8.count + 2)
        json.string(text)
        return String(decoding: json.bytes, as: UTF8.self)
    }
}
