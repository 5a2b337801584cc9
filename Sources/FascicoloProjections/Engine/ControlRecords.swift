import FascicoloCrypto
import FascicoloJSON
import FascicoloStorage

/// Each projection has two generations of tables, `a` and `b`: one serves queries while the
/// other is (re)built, then they swap. Tables are named `projection/<name>/<slot>/<table>`.
public enum Slot: String, Sendable, CaseIterable {
    case a, b
    var other: Slot { self == .a ? .b : .a }
}

/// The rows of the `projections` control table (compact JSON values), documented in Formats.md:
///
/// | key                | value                                                                        |
/// |--------------------|------------------------------------------------------------------------------|
/// | `<name>`           | `{"active":"a","version":N}` — the generation that serves queries            |
/// | `<name>/<slot>`    | `{"version":N,"position":P}` (+ `"failure":{"position":P,"reason":"…"}`) — that generation's checkpoint, written in the same transaction as its rows |
/// | `<name>/building`  | `{"slot":"b","version":N,"startedAt":"…"}` — a (re)build in progress        |
/// | `<name>/rebuilt`   | the last `RebuildRecord`                                                     |
/// | `/log`             | the verifier key of the log the rows were built from                         |
enum ControlKey {
    /// Not a projection name: those have no `/`.
    static let log = Array("/log".utf8)
    static func active(_ name: String) -> [UInt8] { Array(name.utf8) }
    static func checkpoint(_ name: String, _ slot: Slot) -> [UInt8] { Array("\(name)/\(slot.rawValue)".utf8) }
    static func building(_ name: String) -> [UInt8] { Array("\(name)/building".utf8) }
    static func rebuilt(_ name: String) -> [UInt8] { Array("\(name)/rebuilt".utf8) }
}

struct ActiveRecord: Equatable {
    var slot: Slot
    var version: Int

    var bytes: [UInt8] {
        JSON.object([("active", .string(slot.rawValue)), ("version", .number(String(version)))]).bytes
    }

    init(slot: Slot, version: Int) {
        self.slot = slot
        self.version = version
    }

    init?(_ bytes: [UInt8]?) {
        guard let bytes, let json = try? JSON.parse(bytes), let slot = json["active"]?.string.flatMap(Slot.init(rawValue:)),
            let version = json["version"]?.int
        else { return nil }
        self.init(slot: slot, version: version)
    }
}

/// Where a generation stands: the next position it will apply (all entries below it applied),
/// and the entry it failed on, if it did.
struct CheckpointRecord: Equatable {
    var version: Int
    var position: UInt64
    var failure: FailureRecord?

    var bytes: [UInt8] {
        var members: [(key: String, value: JSON)] = [("version", .number(String(version))), ("position", .number(String(position)))]
        if let failure {
            members.append(("failure", .object([("position", .number(String(failure.position))), ("reason", .string(failure.reason))])))
        }
        return JSON.object(members).bytes
    }

    init(version: Int, position: UInt64, failure: FailureRecord?) {
        self.version = version
        self.position = position
        self.failure = failure
    }

    init?(_ bytes: [UInt8]?) {
        guard let bytes, let json = try? JSON.parse(bytes), let version = json["version"]?.int,
            let position = json["position"]?.uint64
        else { return nil }
        var failure: FailureRecord?
        if let object = json["failure"], let at = object["position"]?.uint64, let reason = object["reason"]?.string {
            failure = FailureRecord(position: at, reason: reason)
        }
        self.init(version: version, position: position, failure: failure)
    }
}

public struct FailureRecord: Sendable, Equatable {
    /// The entry the projection could not apply; it stopped before it.
    public let position: UInt64
    public let reason: String
}

struct BuildingRecord: Equatable {
    var slot: Slot
    var version: Int
    var startedAt: String

    var bytes: [UInt8] {
        JSON.object([("slot", .string(slot.rawValue)), ("version", .number(String(version))), ("startedAt", .string(startedAt))]).bytes
    }

    init(slot: Slot, version: Int, startedAt: String) {
        self.slot = slot
        self.version = version
        self.startedAt = startedAt
    }

    init?(_ bytes: [UInt8]?) {
        guard let bytes, let json = try? JSON.parse(bytes), let slot = json["slot"]?.string.flatMap(Slot.init(rawValue:)),
            let version = json["version"]?.int, let startedAt = json["startedAt"]?.string
        else { return nil }
        self.init(slot: slot, version: version, startedAt: startedAt)
    }
}

/// What a (re)build produced, so that anyone can rebuild again and compare: the digest of the
/// rows, the log position they reflect, and the log's Merkle root at that size together with
/// the newest signed checkpoint then.
public struct RebuildRecord: Sendable, Equatable {
    public let version: Int
    /// Entries applied: positions 0 ..< position.
    public let position: UInt64
    /// `ProjectionDigest` of the rows at `position` (hex).
    public let digest: String
    /// RFC 9162 root of the log's first `position` entries (hex).
    public let logRoot: String
    /// The newest signed checkpoint when the build finished (its size and root), if any.
    public let checkpointSize: UInt64?
    public let checkpointRoot: String?
    public let startedAt: String
    public let finishedAt: String
    public let entriesPerSecond: Int

    /// The stored control record (the server renders the record for its answers itself).
    var json: JSON {
        var members: [(key: String, value: JSON)] = [
            ("version", .number(String(version))), ("position", .number(String(position))), ("digest", .string(digest)),
            ("logRoot", .string(logRoot)),
        ]
        if let checkpointSize, let checkpointRoot {
            members.append(("checkpoint", .object([("size", .number(String(checkpointSize))), ("root", .string(checkpointRoot))])))
        }
        members += [
            ("startedAt", .string(startedAt)), ("finishedAt", .string(finishedAt)),
            ("entriesPerSecond", .number(String(entriesPerSecond))),
        ]
        return .object(members)
    }

    init(
        version: Int, position: UInt64, digest: String, logRoot: String, checkpointSize: UInt64?, checkpointRoot: String?,
        startedAt: String, finishedAt: String, entriesPerSecond: Int
    ) {
        self.version = version
        self.position = position
        self.digest = digest
        self.logRoot = logRoot
        self.checkpointSize = checkpointSize
        self.checkpointRoot = checkpointRoot
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.entriesPerSecond = entriesPerSecond
    }

    init?(_ bytes: [UInt8]?) {
        guard let bytes, let json = try? JSON.parse(bytes), let version = json["version"]?.int,
            let position = json["position"]?.uint64, let digest = json["digest"]?.string, let logRoot = json["logRoot"]?.string,
            let startedAt = json["startedAt"]?.string, let finishedAt = json["finishedAt"]?.string,
            let rate = json["entriesPerSecond"]?.int
        else { return nil }
        self.init(
            version: version, position: position, digest: digest, logRoot: logRoot,
            checkpointSize: json["checkpoint"]?["size"]?.uint64, checkpointRoot: json["checkpoint"]?["root"]?.string,
            startedAt: startedAt, finishedAt: finishedAt, entriesPerSecond: rate)
    }
}

/// The digest of a projection's rows: SHA-256 over
/// `"fascicolo/projection-digest/v1" ‖ 0x0A ‖ name ‖ 0x0A ‖ version (u32 BE)`, then for each of
/// the projection's tables in declared order: `table name ‖ 0x00 ‖ row count (u64 BE)`, then each
/// row in key order as `key length (u32 BE) ‖ key ‖ value length (u32 BE) ‖ value`.
/// Two generations that applied the same entries have the same digest.
public enum ProjectionDigest {
    static func compute(name: String, version: Int, tableNames: [String], tables: [Table], in txn: ReadTransaction) throws -> Digest {
        var hasher = SHA256()
        hasher.update(Array("fascicolo/projection-digest/v1\n\(name)\n".utf8))
        var header: [UInt8] = []
        BigEndian.append(UInt32(version), to: &header)
        hasher.update(header)
        for (tableName, table) in zip(tableNames, tables) {
            var prefix = Array(tableName.utf8) + [0]
            BigEndian.append(UInt64(try txn.count(table)), to: &prefix)
            hasher.update(prefix)
            try txn.withCursor(table) { cursor in
                var record = try cursor.first()
                var length: [UInt8] = []
                while let current = record {
                    length.removeAll(keepingCapacity: true)
                    BigEndian.append(UInt32(current.key.count), to: &length)
                    hasher.update(length)
                    hasher.update(current.key)
                    length.removeAll(keepingCapacity: true)
                    BigEndian.append(UInt32(current.value.count), to: &length)
                    hasher.update(length)
                    hasher.update(current.value)
                    record = try cursor.next()
                }
            }
        }
        return hasher.finalize()
    }
}
