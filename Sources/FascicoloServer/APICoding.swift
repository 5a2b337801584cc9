import FascicoloConcurrency
import FascicoloJSON
import FascicoloCrypto
import FascicoloLedger
import Glibc

/// Renders ledger values as JSON.
enum Render {
    /// `receipts`: each event's record (signed bytes ‖ signature), rendered as receipts a client
    /// keeps to prove later that the daemon acknowledged the entry (`fascicolo verify --receipts`).
    static func appendResult(_ result: AppendResult, receipts: [[UInt8]]? = nil) -> [UInt8] {
        var json = JSONBytes()
        json.raw("{\"positions\":[")
        for (index, position) in result.positions.enumerated() {
            if index > 0 { json.raw(",") }
            json.number(position)
        }
        json.raw("],\"streamVersions\":[")
        for (index, version) in result.streamVersions.enumerated() {
            if index > 0 { json.raw(",") }
            json.number(version)
        }
        json.raw("],\"leafHashes\":[")
        for (index, hash) in result.leafHashes.enumerated() {
            if index > 0 { json.raw(",") }
            json.string(hash.hex)
        }
        json.raw("],\"deduplicated\":")
        json.bool(result.deduplicated)
        if let receipts {
            json.raw(",\"receipts\":[")
            for (index, (position, record)) in zip(result.positions, receipts).enumerated() {
                if index > 0 { json.raw(",") }
                json.raw("{\"position\":")
                json.number(position)
                json.raw(",\"leafHash\":")
                json.string(MerkleHash.leaf(record).hex)
                json.raw(",\"signedBytes\":")
                json.string(Base64.encode(Array(record.dropLast(Signature.byteCount))))
                json.raw(",\"signature\":")
                json.string(Base64.encode(Array(record.suffix(Signature.byteCount))))
                json.raw("}")
            }
            json.raw("]")
        }
        json.raw("}")
        return json.bytes
    }

    /// An entry; `detailed` adds the signed bytes (base64), for checking the signature offline.
    /// `withheld` leaves the payload (and the signed bytes, which hold it) out: see `RawRead`.
    static func entry(_ entry: Entry, detailed: Bool = false, withheld: Bool = false, into json: inout JSONBytes) {
        json.raw("{\"position\":")
        json.number(entry.position)
        json.raw(",\"stream\":")
        json.string(entry.stream)
        json.raw(",\"streamVersion\":")
        json.number(entry.streamVersion)
        json.raw(",\"type\":")
        json.string(entry.eventType)
        json.raw(",\"recordedAt\":")
        json.string(Timestamp.iso8601(milliseconds: entry.recordedAtMilliseconds))
        json.raw(",\"author\":")
        json.string(entry.author)
        if withheld {
            json.raw(",\"data\":null,\"withheld\":\"person_data\"")
        } else {
            json.raw(",\"data\":")
            json.payload(entry.payload)
        }
        json.raw(",\"keyId\":")
        json.string(Hex.encode(entry.keyID))
        json.raw(",\"signature\":")
        json.string(Base64.encode(entry.signature))
        json.raw(",\"leafHash\":")
        json.string(entry.leafHash.hex)
        if detailed && !withheld {
            json.raw(",\"signedBytes\":")
            json.string(Base64.encode(Array(entry.signedBytes)))
        }
        json.raw("}")
    }

    static func entry(_ entry: Entry, detailed: Bool = false, withheld: Bool = false) -> [UInt8] {
        var json = JSONBytes()
        Render.entry(entry, detailed: detailed, withheld: withheld, into: &json)
        return json.bytes
    }

    /// `withholding`: which entries to serve withheld (none by default).
    static func entries(_ entries: [Entry], withholding: (Entry) -> Bool = { _ in false }) -> [UInt8] {
        var json = JSONBytes(capacity: 600 * entries.count + 16)
        json.raw("{\"entries\":[")
        for (index, entry) in entries.enumerated() {
            if index > 0 { json.raw(",") }
            Render.entry(entry, withheld: withholding(entry), into: &json)
        }
        json.raw("]}")
        return json.bytes
    }

    static func proof(_ proof: [Digest], into json: inout JSONBytes) {
        json.raw("[")
        for (index, hash) in proof.enumerated() {
            if index > 0 { json.raw(",") }
            json.string(Base64.encode(hash.bytes))
        }
        json.raw("]")
    }
}
