import FascicoloCrypto
import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import Glibc

/// One entry of the log as the projections see it: decoded once, for all of them.
///
/// Only the clear part of a domain payload is here; sealed personal fields stay sealed, but for
/// the few a read model keeps while the person is not erased (`personal`).
/// A struct, kept inline in a batch's array: projections borrow it, and an object per entry
/// (allocated by the decoding thread, freed by another) cost a fifth of the decode's CPU.
public struct ProjectedEvent: Sendable {
    public let position: UInt64
    public let recordedAtMilliseconds: Int64
    public let streamVersion: UInt64
    public let kind: EventKind
    /// The type's name (`kind.name` for a catalogue type: no string is made for those).
    public let type: String
    /// The identity the daemon stamped (`uid:N/service`); empty when decoded for applying (no
    /// projection reads it then).
    public let author: String
    public let subject: Subject
    /// The domain payload, its `data` read through the current schema (upcast); nil for
    /// entries of other streams, for payloads that are not domain payloads, and for
    /// RecordAccessed entries decoded for applying (see `Detail`).
    public let payload: Payload?
    /// What the path rules know of a person-stream entry.
    public let fact: CaseFact?
    /// The entry's personal fields, opened for the read models that keep one of them while the
    /// person is not erased (`opensPersonalFields`); nil otherwise, and once the person's key is
    /// gone. Set by the engine's decode, which holds a `PersonalFieldOpener`.
    public internal(set) var personal: [(key: String, value: JSON)]?

    public enum Subject: Sendable, Equatable {
        /// An entry of `person:<pseudonym>`.
        case person(Pseudonym)
        /// A RecordAccessed entry of `access:<pseudonym>`.
        case access(Pseudonym)
        /// A SiussExported entry of `siuss:exports` (written by the daemon only: generic appends
        /// may not write `siuss:` streams).
        case siuss
        /// Any other stream (generic appends).
        case other
    }

    /// How much of an entry to decode.
    enum Detail {
        /// What projections read while applying: no `author`, no `actor`, no payload for
        /// RecordAccessed entries (~40% of a log; no projection reads them then).
        case applying
        /// Everything a query shows.
        case full
    }

    /// The entry decoded as the engine decodes it for applying (public for the benchmark, which
    /// times this decode against a plain JSON parse of the same payloads).
    public static func forApplying(_ view: EntryView, reference: ReferenceData) -> ProjectedEvent {
        ProjectedEvent(view, reference: reference, detail: .applying)
    }

    init(_ view: EntryView, reference: ReferenceData, detail: Detail) {
        position = view.position
        recordedAtMilliseconds = view.recordedAtMilliseconds
        streamVersion = view.streamVersion
        kind = EventKind(utf8: view.eventType)
        type = kind == .other ? String(decoding: view.eventType, as: UTF8.self) : kind.name
        author = detail == .full ? String(decoding: view.author, as: UTF8.self) : ""
        let stream = view.stream
        let subject: Subject
        if let person = Self.pseudonym(in: stream, prefix: Self.personPrefix) {
            subject = .person(person)
        } else if let person = Self.pseudonym(in: stream, prefix: Self.accessPrefix) {
            subject = .access(person)
        } else if stream.elementsEqual(Self.siussStream) {
            subject = .siuss
        } else {
            subject = .other
        }
        self.subject = subject
        var skipped = subject == .other
        if case .access = subject, detail == .applying { skipped = true }
        let keepSealed = kind == .personRegistered || kind == .rectified
        guard !skipped, var stored = Payload(view.payload, withActor: detail == .full, keepSealed: keepSealed) else {
            payload = nil
            fact = nil
            return
        }
        if let schema = EventCatalogue.schema(kind), stored.schemaVersion != schema.version,
            let upcast = schema.upcast(.object(stored.data), from: stored.schemaVersion)?.members
        {
            stored.data = upcast
        }
        payload = stored
        if case .person = subject {
            fact = CaseFact(
                version: view.streamVersion, kind: kind, data: stored.data,
                reference: reference.versions[stored.codeTable], occurredAt: stored.occurredAt)
        } else {
            fact = nil
        }
    }

    /// Whether a read model needs this entry's personal fields: the households read model keeps
    /// the household id of a PersonRegistered and of a Rectified of it (sealed since issue 21).
    var opensPersonalFields: Bool {
        guard payload?.sealed != nil else { return false }
        return kind == .personRegistered || kind == .rectified && data("field")?.string == "household"
    }

    /// A member of the clear `data`, else of the opened personal fields: entries written before a
    /// field was sealed hold it in clear.
    public func clearOrPersonal(_ key: String) -> JSON? {
        data(key) ?? personal?.first { $0.key == key }?.value
    }

    private static let personPrefix = Array(Pseudonym.personPrefix.utf8)
    private static let accessPrefix = Array(Pseudonym.accessPrefix.utf8)
    private static let siussStream = Array(SiussExport.stream.utf8)

    private static func pseudonym(in stream: UnsafeRawBufferPointer, prefix: [UInt8]) -> Pseudonym? {
        guard stream.count == prefix.count + 2 * Pseudonym.byteCount, stream.starts(with: prefix) else { return nil }
        return Pseudonym(hexUTF8: UnsafeRawBufferPointer(rebasing: stream[prefix.count...]))
    }

    /// The payload's `data` member `key`, if present.
    public func data(_ key: String) -> JSON? {
        payload?.data.first { $0.key == key }?.value
    }

    /// The date the event happened (its `date` field, else the day of `occurredAt`), `YYYY-MM-DD`.
    public var day: String? {
        if let date = data("date")?.string { return date }
        return payload.map { String($0.occurredAt.prefix(10)) }
    }
}

/// The clear members of a domain payload (Formats.md, "Domain payloads"); the sealed box is
/// only noted, never decoded: projections do not see personal fields.
public struct Payload: Sendable {
    public let schemaVersion: Int
    public let occurredAt: String
    public let codeTable: String
    /// The `actor` object; null when decoded for applying (see `ProjectedEvent.Detail`).
    public let actor: JSON
    public internal(set) var data: [(key: String, value: JSON)]
    /// The entry has personal fields, sealed.
    public let isSealed: Bool
    /// The sealed box (nonce ‖ ciphertext ‖ tag), kept only when asked (`keepSealed`).
    let sealed: [UInt8]?

    /// The members read are built; the others (`purpose`, the sealed box…) are stepped over.
    /// Names are matched on their bytes: this runs for every entry a projection applies.
    init?(_ bytes: UnsafeRawBufferPointer, withActor: Bool, keepSealed: Bool = false) {
        var schemaVersion: Int?
        var occurredAt: String?
        var codeTable: String?
        var actor: JSON?
        var data: [(key: String, value: JSON)]?
        var isSealed = false
        var sealed: [UInt8]?
        do {
            try JSON.visitMembers(bytes) { (name, value) throws(JSON.Malformed) in
                switch name.count {
                case 4 where Self.matches(name, "data"): data = try value.build().members
                case 5 where Self.matches(name, "actor"):
                    if withActor {
                        actor = try value.build()
                    } else {
                        try value.skip()
                        actor = .null
                    }
                case 6 where Self.matches(name, "schema"): schemaVersion = try value.build().int
                case 6 where Self.matches(name, "sealed"):
                    isSealed = true
                    if keepSealed {
                        sealed = try value.build().string.flatMap { Base64.decode($0) }
                    } else {
                        try value.skip()
                    }
                case 9 where Self.matches(name, "codeTable"): codeTable = try value.build().string
                case 10 where Self.matches(name, "occurredAt"): occurredAt = try value.build().string
                default: try value.skip()
                }
            }
        } catch {
            return nil
        }
        guard let schemaVersion, let occurredAt, let codeTable, let actor, let data else { return nil }
        self.schemaVersion = schemaVersion
        self.occurredAt = occurredAt
        self.codeTable = codeTable
        self.actor = actor
        self.data = data
        self.isSealed = isSealed
        self.sealed = sealed
    }

    private static func matches(_ name: UnsafeRawBufferPointer, _ expected: StaticString) -> Bool {
        name.count == expected.utf8CodeUnitCount && memcmp(name.baseAddress!, expected.utf8Start, name.count) == 0
    }
}
