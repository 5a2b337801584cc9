import FascicoloCrypto
import FascicoloJSON

/// Who acted, as the backend service declares it (the daemon separately stamps the service's own
/// identity, from the socket's peer credentials, as the entry's author).
public struct Actor: Sendable, Equatable {
    public var operatorID: String
    public var role: String
    public var ente: String
    public var ambito: String
    public var onBehalfOf: String?

    public static let roles = [
        "assistente_sociale", "educatore", "psicologo", "mediatore", "amministrativo",
        "coordinatore", "case_manager", "other",
    ]

    static func parse(_ json: JSON?, reference: ReferenceTable, field: String) throws(DomainError) -> Actor {
        guard let json, let members = json.members else { throw .schema("actor is an object", field: field) }
        let allowed = ["operator", "role", "ente", "ambito", "onBehalfOf"]
        for member in members where !allowed.contains(member.key) {
            throw .schema("actor has an unknown field (its fields are \(allowed.joined(separator: ", ")))", field: field)
        }
        func value(_ key: String, _ kind: FieldKind, required: Bool = true) throws(DomainError) -> String? {
            guard let value = json[key], value != .null else {
                if required { throw .schema("\(key) is required", field: field + "." + key) }
                return nil
            }
            try EventValidator.check(value, kind: kind, reference: reference, path: field + "." + key)
            return value.string
        }
        return Actor(
            operatorID: try value("operator", .text(maxLength: 64))!,
            role: try value("role", .choice(roles))!,
            ente: try value("ente", .text(maxLength: 200))!,
            ambito: try value("ambito", .code(.ambiti))!,
            onBehalfOf: try value("onBehalfOf", .text(maxLength: 64), required: false))
    }

    var json: JSON {
        var members: [(key: String, value: JSON)] = [
            ("operator", .string(operatorID)), ("role", .string(role)), ("ente", .string(ente)), ("ambito", .string(ambito)),
        ]
        if let onBehalfOf { members.append(("onBehalfOf", .string(onBehalfOf))) }
        return .object(members)
    }
}

/// The payload of a domain entry, as signed and stored (documented in Formats.md, "Domain
/// payloads"). Members, in this order:
///
///     {"schema":N, "occurredAt":"…", "codeTable":"…", "purpose":"…", "actor":{…},
///      "correlationId":"…"?, "causationId":"…"?, "data":{clear fields}, "sealed":"base64"?}
///
/// `sealed` is XChaCha20-Poly1305 (nonce ‖ ciphertext ‖ tag) of the compact JSON object of the
/// personal fields, under the person's data key, with `sealAssociatedData` as associated data.
public struct StoredEvent: Sendable {
    public var schemaVersion: Int
    public var occurredAt: String
    public var codeTable: String
    public var purpose: String
    public var actor: JSON
    public var correlationID: String?
    public var causationID: String?
    public var data: [(key: String, value: JSON)]
    public var sealed: [UInt8]?

    /// The compact JSON, written straight into bytes (this runs for every event appended).
    public var bytes: [UInt8] {
        var json = JSONBytes(capacity: 256 + (sealed?.count ?? 0) * 4 / 3)
        json.raw("{\"schema\":")
        json.number(schemaVersion)
        json.raw(",\"occurredAt\":")
        json.string(occurredAt)
        json.raw(",\"codeTable\":")
        json.string(codeTable)
        json.raw(",\"purpose\":")
        json.string(purpose)
        json.raw(",\"actor\":")
        json.value(actor)
        if let correlationID {
            json.raw(",\"correlationId\":")
            json.string(correlationID)
        }
        if let causationID {
            json.raw(",\"causationId\":")
            json.string(causationID)
        }
        json.raw(",\"data\":{")
        for (index, member) in data.enumerated() {
            if index > 0 { json.raw(",") }
            json.string(member.key)
            json.raw(":")
            json.value(member.value)
        }
        json.raw("}")
        if let sealed {
            // Base64 needs no escaping: written between the quotes as is.
            json.raw(",\"sealed\":\"")
            json.raw(Base64.encodedBytes(sealed))
            json.raw("\"")
        }
        json.raw("}")
        return json.bytes
    }

    /// Reads a stored payload; nil if it is not a domain payload.
    public init?(payload: some Collection<UInt8>) {
        guard let json = try? JSON.parse(payload), let schema = json["schema"]?.int,
            let occurredAt = json["occurredAt"]?.string, let codeTable = json["codeTable"]?.string,
            let purpose = json["purpose"]?.string, let actor = json["actor"], let data = json["data"]?.members
        else { return nil }
        var sealed: [UInt8]?
        if let text = json["sealed"]?.string {
            guard let bytes = Base64.decode(text) else { return nil }
            sealed = bytes
        }
        self.init(
            schemaVersion: schema, occurredAt: occurredAt, codeTable: codeTable, purpose: purpose, actor: actor,
            correlationID: json["correlationId"]?.string, causationID: json["causationId"]?.string,
            data: data, sealed: sealed)
    }

    init(
        schemaVersion: Int, occurredAt: String, codeTable: String, purpose: String, actor: JSON,
        correlationID: String?, causationID: String?, data: [(key: String, value: JSON)], sealed: [UInt8]?
    ) {
        self.schemaVersion = schemaVersion
        self.occurredAt = occurredAt
        self.codeTable = codeTable
        self.purpose = purpose
        self.actor = actor
        self.correlationID = correlationID
        self.causationID = causationID
        self.data = data
        self.sealed = sealed
    }

    /// A stored entry that should be a domain payload but is not.
    struct Unreadable: Error, CustomStringConvertible {
        let position: UInt64?
        var description: String { "the entry at position \(position.map(String.init) ?? "?") is not a readable domain payload" }
    }

    /// Binds a sealed box to its stream and event type, so it cannot be moved to another entry.
    public static func sealAssociatedData(stream: String, type: String) -> [UInt8] {
        Array("fascicolo/sealed/v1".utf8) + [0] + Array(stream.utf8) + [0] + Array(type.utf8)
    }
}

/// `occurredAt`: a date (`YYYY-MM-DD`) or an RFC 3339 date-time with `Z` or an offset.
enum OccurredAt {
    static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count >= 10, CalendarDate(String(decoding: bytes[0..<10], as: UTF8.self)) != nil else { return false }
        if bytes.count == 10 { return true }
        // THH:MM:SS[.fraction](Z|±HH:MM)
        guard bytes.count >= 20, bytes.count <= 35, bytes[10] == UInt8(ascii: "T") else { return false }
        let digit = { (index: Int) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) }
        let number = { (index: Int) in Int(bytes[index] - UInt8(ascii: "0")) * 10 + Int(bytes[index + 1] - UInt8(ascii: "0")) }
        // A time that names no instant (25:00, 23:61, :60 — leap seconds are not kept by the
        // daemon's clock either) is refused, as is an offset beyond ±23:59.
        guard digit(11), digit(12), bytes[13] == UInt8(ascii: ":"), digit(14), digit(15), bytes[16] == UInt8(ascii: ":"),
            digit(17), digit(18), number(11) <= 23, number(14) <= 59, number(17) <= 59
        else { return false }
        var index = 19
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < bytes.count, digit(index) { index += 1 }
            guard index > start, index - start <= 9 else { return false }
        }
        guard index < bytes.count else { return false }
        if bytes[index] == UInt8(ascii: "Z") { return index + 1 == bytes.count }
        guard bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-"), index + 6 == bytes.count else { return false }
        return digit(index + 1) && digit(index + 2) && bytes[index + 3] == UInt8(ascii: ":") && digit(index + 4) && digit(index + 5)
            && number(index + 1) <= 23 && number(index + 4) <= 59
    }

    static func date(_ text: String) -> CalendarDate? { CalendarDate(String(text.utf8.prefix(10))!) }
}
