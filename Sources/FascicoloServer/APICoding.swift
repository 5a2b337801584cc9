import FascicoloCrypto
import FascicoloLedger
import Foundation
import Glibc

/// Any JSON value. An event's `data` is decoded into one (which validates it) and stored as its
/// canonical encoding: compact, keys sorted, slashes unescaped — so the signed bytes do not
/// depend on how a client happened to format its JSON.
enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int64.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

/// The body of `POST /v1/streams/{stream}/events`.
struct AppendBody: Decodable {
    struct Event: Decodable {
        let type: String
        let data: JSONValue
    }

    let events: [Event]
    /// `"any"` (default), `"no_stream"`, or the exact current version (a number).
    let expectedVersion: ExpectedVersionValue?
    let idempotencyKey: String?
}

struct ExpectedVersionValue: Decodable {
    let value: ExpectedVersion

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(UInt64.self) {
            value = .exactly(number)
            return
        }
        switch try container.decode(String.self) {
        case "any": value = .any
        case "no_stream": value = .noStream
        default:
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expectedVersion is \"any\", \"no_stream\" or a number")
        }
    }
}

/// Renders ledger values as JSON text.
enum Render {
    static let canonicalEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func appendResult(_ result: AppendResult) -> String {
        let positions = result.positions.map { "\($0)" }.joined(separator: ",")
        let versions = result.streamVersions.map { "\($0)" }.joined(separator: ",")
        let hashes = result.leafHashes.map { JSONText.string($0.hex) }.joined(separator: ",")
        return "{\"positions\":[\(positions)],\"streamVersions\":[\(versions)],\"leafHashes\":[\(hashes)],"
            + "\"deduplicated\":\(result.deduplicated)}"
    }

    /// An entry; `detailed` adds the signed bytes (base64), for checking the signature offline.
    static func entry(_ entry: Entry, detailed: Bool = false) -> String {
        var text = "{\"position\":\(entry.position),\"stream\":\(JSONText.string(entry.stream)),"
            + "\"streamVersion\":\(entry.streamVersion),\"type\":\(JSONText.string(entry.eventType)),"
            + "\"recordedAt\":\(JSONText.string(iso8601(milliseconds: entry.recordedAtMilliseconds))),"
            + "\"author\":\(JSONText.string(entry.author)),\"data\":\(String(decoding: entry.payload, as: UTF8.self)),"
            + "\"keyId\":\(JSONText.string(Hex.encode(entry.keyID))),\"signature\":\(JSONText.string(Base64.encode(entry.signature))),"
            + "\"leafHash\":\(JSONText.string(entry.leafHash.hex))"
        if detailed { text += ",\"signedBytes\":\(JSONText.string(Base64.encode(Array(entry.signedBytes))))" }
        return text + "}"
    }

    static func entries(_ entries: [Entry]) -> String {
        "{\"entries\":[" + entries.map { entry($0) }.joined(separator: ",") + "]}"
    }

    static func proof(_ proof: [Digest]) -> String {
        "[" + proof.map { JSONText.string(Base64.encode($0.bytes)) }.joined(separator: ",") + "]"
    }

    /// `2026-11-23T17:52:56.123Z`
    static func iso8601(milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(milliseconds % 1000), 3))Z"
    }
}
