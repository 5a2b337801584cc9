import FascicoloCrypto
import FascicoloStorage
@_exported import FascicoloTesting
import Glibc
import Testing

@testable import FascicoloLedger

/// A configuration for tests of logic: small limits where a test needs them. Durability stays
/// on unless a test asks otherwise, since several tests reopen the store.
func testConfiguration(noSync: Bool = false) -> LedgerConfiguration {
    var configuration = LedgerConfiguration()
    configuration.unsafeNoSync = noSync
    configuration.checkpointEveryEntries = 10
    configuration.checkpointEveryMilliseconds = 50
    return configuration
}

func payload(_ text: String) -> [UInt8] { Array(text.utf8) }

func event(_ text: String, type: String = "TestEvent") -> NewEvent { NewEvent(type: type, payload: payload(text)) }

// MARK: - Changing bytes of data.mdb behind LMDB's back

/// The offset in data.mdb of the live value stored under `key` in `table`.
func valueOffset(directory: String, table: (LedgerStore) -> Table, key: [UInt8]) throws -> (offset: Int, count: Int) {
    let store = try LedgerStore.open(directory: directory, readOnly: true)
    defer { store.environment.close() }
    let base = try #require(mapBase(of: directory + "/data.mdb"))
    return try #require(
        try store.environment.read { txn in
            try txn.withValue(in: table(store), key: key) { value in (base.distance(to: value.baseAddress!), value.count) }
        })
}

/// Where `file` is mapped in this process, from /proc/self/maps (LMDB maps data.mdb whole,
/// from offset 0, so a value's address minus this is its offset in the file).
func mapBase(of file: String) -> UnsafeRawPointer? {
    var resolved = [CChar](repeating: 0, count: Int(PATH_MAX))
    guard realpath(file, &resolved) != nil else { return nil }
    let path = String(decoding: resolved.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    for line in readFile("/proc/self/maps").split(separator: "\n") where line.hasSuffix(" " + path) {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 6, fields[2] == "00000000",
            let start = UInt(fields[0].split(separator: "-")[0], radix: 16)
        else { continue }
        return UnsafeRawPointer(bitPattern: start)
    }
    return nil
}

func flipByte(directory: String, at offset: Int) throws {
    let descriptor = open(directory + "/data.mdb", O_RDWR)
    try #require(descriptor >= 0)
    defer { close(descriptor) }
    var byte: UInt8 = 0
    try #require(pread(descriptor, &byte, 1, off_t(offset)) == 1)
    byte ^= 0x01
    try #require(pwrite(descriptor, &byte, 1, off_t(offset)) == 1)
}

func bigEndianBytes(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

/// The appender's (`fascicolo-bench appender`) acknowledgement line `ack <stream> <first position>
/// <count> <first version>`, as the positions it acknowledged; nil for any other line.
func acknowledgements(in line: Substring) -> [(position: UInt64, stream: String, version: UInt64)]? {
    let fields = line.split(separator: " ")
    guard fields.first == "ack", fields.count == 5, let first = UInt64(fields[2]), let count = UInt64(fields[3]),
        let version = UInt64(fields[4])
    else { return nil }
    return (0..<count).map { (first + $0, String(fields[1]), version + $0) }
}

/// Every acknowledged position holds an entry of its stream at its version.
func expectAcknowledgedPresent(
    in directory: String, _ acknowledged: [UInt64: (stream: String, version: UInt64)],
    _ context: String, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let store = try LedgerStore.open(directory: directory, readOnly: true)
    defer { store.environment.close() }
    for (position, expected) in acknowledged {
        let entry = try store.environment.read { txn in
            try txn.withValue(in: store.entries, key: bigEndianBytes(position)) { try Entry(EntryView(record: $0)) }
        }
        #expect(
            entry?.stream == expected.stream && entry?.streamVersion == expected.version,
            "\(context): acknowledged position \(position) is missing or different", sourceLocation: sourceLocation)
    }
}

/// Writes the next entry (stream `case-0` unless told) behind the ledger's back, signed by `key`, with its
/// stream index and version rows but no Merkle nodes (the verifiers stop at the entry first).
func forgeEntry(
    directory: String, stream name: String = "case-0", type: String = "TestEvent", payload: [UInt8], key: SigningKey
) throws {
    let store = try LedgerStore.open(directory: directory, readOnly: false)
    defer { store.environment.close() }
    let origin = try store.origin()
    try store.environment.write { txn in
        let position = try store.size(in: txn)
        let stream = Array(name.utf8)
        let version = (try txn.get(store.streams, key: stream)).flatMap { BigEndian.uint64($0) } ?? 0
        var record = EntryFormat.signedBytes(
            position: position, recordedAtMilliseconds: Int64.max / 2, streamVersion: version + 1,
            keyID: SignedNote.keyID(name: origin, publicKey: key.publicKey), stream: stream,
            eventType: Array(type.utf8), author: Array("forger".utf8), payload: payload)
        record += key.sign(record)
        try txn.put(store.entries, key: BigEndian.bytes(position), value: record)
        try txn.put(
            store.streamIndex, key: LedgerStore.streamIndexKey(stream: stream, version: version + 1), value: BigEndian.bytes(position))
        try txn.put(store.streams, key: stream, value: BigEndian.bytes(version + 1))
    }
}
