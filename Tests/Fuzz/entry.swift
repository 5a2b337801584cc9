// Stored entry records (FascicoloLedger.EntryView(record:)), as read back from LMDB — where a
// damaged page can hand over any bytes. Any record is parsed or refused with Malformed, never
// read out of bounds; a record built here (fields from the input) parses back to its fields.
import FascicoloCrypto

@testable import FascicoloLedger

private let key = SigningKey(seed: [UInt8](repeating: 9, count: SigningKey.seedByteCount))!

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    parse(input)
    // The same bytes with a valid magic in front, so the length fields get exercised.
    parse(EntryFormat.magic + input)
    var reader = InputReader(input)
    built(&reader)
    return 0
}

private func parse(_ record: [UInt8]) {
    record.withUnsafeBytes { buffer in
        guard let view = try? EntryView(record: buffer) else { return }
        let lengths = 32 + 2 + view.stream.count + 2 + view.eventType.count + 2 + view.author.count + 4 + view.payload.count
        check(lengths + Signature.byteCount == buffer.count, "an entry's fields do not add up to its record")
        check(
            view.signedBytes.count + view.signature.count == buffer.count && view.signature.count == Signature.byteCount,
            "the signed bytes and signature do not split the record")
        for field in [view.stream, view.eventType, view.author, view.payload, view.keyID, view.signedBytes, view.signature] {
            let start = field.baseAddress.map { $0 - buffer.baseAddress! } ?? 0
            check(start >= 0 && start + field.count <= buffer.count, "a field points outside the record")
        }
        let entry = Entry(view)
        check(entry.record == record && Array(entry.signedBytes) == Array(view.signedBytes), "an Entry copies other bytes")
        check(entry.leafHash == view.leafHash, "the leaf hash differs between the view and the entry")
    }
}

private func built(_ input: inout InputReader) {
    let position = input.uint64()
    let recordedAt = Int64(bitPattern: input.uint64())
    let version = input.uint64()
    let stream = input.take(Int(input.byte()))
    let type = input.take(Int(input.byte()) % 64)
    let author = input.take(Int(input.byte()) % 64)
    let payload = Array(input.bytes)
    let keyID = SignedNote.keyID(name: "fascicolo.invalid/ledger", publicKey: key.publicKey)
    let signed = EntryFormat.signedBytes(
        position: position, recordedAtMilliseconds: recordedAt, streamVersion: version, keyID: keyID,
        stream: stream, eventType: type, author: author, payload: payload)
    let record = signed + key.sign(signed)
    record.withUnsafeBytes { buffer in
        guard let view = try? EntryView(record: buffer) else {
            check(false, "a record built here does not parse")
            return
        }
        check(
            view.position == position && view.recordedAtMilliseconds == recordedAt && view.streamVersion == version,
            "a built record's numbers read differently")
        check(
            Array(view.stream) == stream && Array(view.eventType) == type && Array(view.author) == author
                && Array(view.payload) == payload && Array(view.keyID) == keyID, "a built record's fields read differently")
        check(key.publicKey.isValidSignature(view.signature, for: view.signedBytes), "a built record's signature fails")
    }
    parse(Array(record.dropLast()))
}
