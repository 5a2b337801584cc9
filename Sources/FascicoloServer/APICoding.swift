import FascicoloCrypto
import FascicoloLedger
import Glibc

/// Renders ledger values as JSON text.
enum Render {
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
