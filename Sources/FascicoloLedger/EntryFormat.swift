import FascicoloCrypto
import FascicoloStorage

/// The bytes of one log entry, version 1 — the format a verifier must reproduce (see
/// Formats.md). All integers are big-endian; strings are UTF-8 with a length prefix.
///
///     offset  size  field
///     0       4     magic "FSE1" (0x46 0x53 0x45 0x31)
///     4       8     position (u64): 0-based index in the global log, equal to the Merkle leaf index
///     12      8     recordedAt (i64): milliseconds since the Unix epoch, never decreasing
///     20      8     stream version (u64): 1 for a stream's first entry
///     28      4     key ID: first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)
///     32      2+S   stream name (u16 length S, then S bytes)
///             2+T   event type (u16 length T, then T bytes)
///             2+A   author identity (u16 length A, then A bytes)
///             4+P   payload (u32 length P, then P bytes)
///
/// These are the *signed bytes*. The stored record is the signed bytes followed by the 64-byte
/// Ed25519 signature over them; the Merkle leaf is SHA-256(0x00 ‖ signed bytes ‖ signature).
public enum EntryFormat {
    public static let magic: [UInt8] = Array("FSE1".utf8)
    static let fixedHeaderBytes = 32

    /// Encodes the signed bytes of an entry.
    static func signedBytes(
        position: UInt64, recordedAtMilliseconds: Int64, streamVersion: UInt64, keyID: [UInt8],
        stream: [UInt8], eventType: [UInt8], author: [UInt8], payload: [UInt8]
    ) -> [UInt8] {
        precondition(
            keyID.count == 4 && stream.count <= UInt16.max && eventType.count <= UInt16.max
                && author.count <= UInt16.max && payload.count <= UInt32.max)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(
            fixedHeaderBytes + 10 + stream.count + eventType.count + author.count + payload.count
                + Signature.byteCount)
        bytes += magic
        BigEndian.append(position, to: &bytes)
        BigEndian.append(UInt64(bitPattern: recordedAtMilliseconds), to: &bytes)
        BigEndian.append(streamVersion, to: &bytes)
        bytes += keyID
        BigEndian.append(UInt16(stream.count), to: &bytes)
        bytes += stream
        BigEndian.append(UInt16(eventType.count), to: &bytes)
        bytes += eventType
        BigEndian.append(UInt16(author.count), to: &bytes)
        bytes += author
        BigEndian.append(UInt32(payload.count), to: &bytes)
        bytes += payload
        return bytes
    }
}

/// A parsed view of a stored record (signed bytes ‖ signature), pointing into its buffer.
/// Parsing checks every length against the buffer, so a damaged record is an error, not a crash.
public struct EntryView {
    public let record: UnsafeRawBufferPointer
    public let position: UInt64
    public let recordedAtMilliseconds: Int64
    public let streamVersion: UInt64
    public let keyID: UnsafeRawBufferPointer
    public let stream: UnsafeRawBufferPointer
    public let eventType: UnsafeRawBufferPointer
    public let author: UnsafeRawBufferPointer
    public let payload: UnsafeRawBufferPointer
    public let signedBytes: UnsafeRawBufferPointer
    public let signature: UnsafeRawBufferPointer

    public struct Malformed: Error, CustomStringConvertible, Sendable {
        public let reason: String
        public var description: String { "malformed entry: \(reason)" }
    }

    public init(record: UnsafeRawBufferPointer) throws(Malformed) {
        self.record = record
        let minimum = EntryFormat.fixedHeaderBytes + 10 + Signature.byteCount
        guard record.count >= minimum else { throw Malformed(reason: "record of \(record.count) bytes is too short") }
        guard record[0] == 0x46, record[1] == 0x53, record[2] == 0x45, record[3] == 0x31 else {
            throw Malformed(reason: "bad magic")
        }
        let signedCount = record.count - Signature.byteCount
        position = BigEndian.read(UInt64.self, from: record, at: 4)
        recordedAtMilliseconds = Int64(bitPattern: BigEndian.read(UInt64.self, from: record, at: 12))
        streamVersion = BigEndian.read(UInt64.self, from: record, at: 20)
        keyID = UnsafeRawBufferPointer(rebasing: record[28..<32])
        var offset = EntryFormat.fixedHeaderBytes
        func field(lengthBytes: Int) throws(Malformed) -> UnsafeRawBufferPointer {
            guard offset + lengthBytes <= signedCount else { throw Malformed(reason: "truncated length at byte \(offset)") }
            let length =
                lengthBytes == 2
                ? Int(BigEndian.read(UInt16.self, from: record, at: offset))
                : Int(BigEndian.read(UInt32.self, from: record, at: offset))
            offset += lengthBytes
            guard offset + length <= signedCount else { throw Malformed(reason: "field at byte \(offset) overruns the record") }
            defer { offset += length }
            return UnsafeRawBufferPointer(rebasing: record[offset..<(offset + length)])
        }
        stream = try field(lengthBytes: 2)
        eventType = try field(lengthBytes: 2)
        author = try field(lengthBytes: 2)
        payload = try field(lengthBytes: 4)
        guard offset == signedCount else { throw Malformed(reason: "\(signedCount - offset) unexpected bytes after the payload") }
        signedBytes = UnsafeRawBufferPointer(rebasing: record[..<signedCount])
        signature = UnsafeRawBufferPointer(rebasing: record[signedCount...])
    }

    /// The Merkle leaf hash of this entry: SHA-256(0x00 ‖ record).
    public var leafHash: Digest { MerkleHash.leaf(record) }
}

/// An entry read from the log, owning its bytes.
public struct Entry: Sendable, Equatable {
    public let position: UInt64
    public let recordedAtMilliseconds: Int64
    public let stream: String
    public let streamVersion: UInt64
    public let eventType: String
    public let author: String
    public let payload: [UInt8]
    public let keyID: [UInt8]
    public let signature: [UInt8]
    /// The exact stored record (signed bytes ‖ signature), as hashed into the Merkle tree.
    public let record: [UInt8]

    public init(_ view: EntryView) {
        position = view.position
        recordedAtMilliseconds = view.recordedAtMilliseconds
        stream = String(decoding: view.stream, as: UTF8.self)
        streamVersion = view.streamVersion
        eventType = String(decoding: view.eventType, as: UTF8.self)
        author = String(decoding: view.author, as: UTF8.self)
        payload = Array(view.payload)
        keyID = Array(view.keyID)
        signature = Array(view.signature)
        record = Array(view.record)
    }

    /// The signed bytes: the record without its signature.
    public var signedBytes: ArraySlice<UInt8> { record.dropLast(Signature.byteCount) }

    /// The Merkle leaf hash.
    public var leafHash: Digest { MerkleHash.leaf(record) }
}
