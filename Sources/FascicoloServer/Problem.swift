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
    /// Where the primary is, on a follower's refusal of an append (`not_primary`): from the
    /// daemon's configuration, never from the request.
    public var primary: String?

    public init(
        _ status: HTTPResponse.Status, code: String, detail: String, field: String? = nil, detailItalian: String? = nil,
        retryAfterSeconds: Int? = nil
    ) {
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.detailItalian = detailItalian
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var headers: HTTPFields { [.contentType: "application/problem+json"] }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let buffer = ByteBuffer(
            bytes: Self.body(
                status: Int(status.code), title: status.reasonPhrase, code: code, detail: detail,
                field: field, detailItalian: detailItalian, primary: primary))
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: buffer))
    }

    /// The problem details object (also written outside the HTTP pipeline: `ConnectionLimits`).
    static func body(
        status: Int, title: String, code: String, detail: String, field: String? = nil,
        detailItalian: String? = nil, primary: String? = nil
    ) -> [UInt8] {
        var json = JSONBytes()
        json.object { json in
            json.member("type", "https://fascicolo.invalid/problems/" + code)
            json.member("title", title)
            json.member("status", status)
            json.member("code", code)
            json.member("detail", detail)
            if let field { json.member("field", field) }
            if let detailItalian { json.member("detailItalian", detailItalian) }
            if let primary { json.member("primary", primary) }
        }
        return json.bytes
    }

    static func badRequest(_ detail: String) -> Problem { Problem(.badRequest, code: "malformed_request", detail: detail) }
    static func forbidden(_ detail: String) -> Problem { Problem(.forbidden, code: "forbidden", detail: detail) }
    static func notFound(_ detail: String) -> Problem { Problem(.notFound, code: "not_found", detail: detail) }
    static let shuttingDown = Problem(.serviceUnavailable, code: "shutting_down", detail: "the daemon is shutting down")
}
