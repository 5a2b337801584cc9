// checkpoints.log (FascicoloLedger.CheckpointFile.parse), which the daemon reads at start to refuse
// a rolled-back log: any bytes are read or refused as damage, never a trap. A torn tail (a record
// cut by a crash in the middle of its append, perhaps followed by zero bytes) is never taken for
// damage, and damage is never taken for a torn tail: what is cut off never holds a whole record.
import FascicoloLedger
import FascicoloStorage

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    if input.first == 0xFF {
        crashed(Array(input.dropFirst()))
    } else {
        hostile(input)
    }
    return 0
}

private func record(_ note: [UInt8]) -> [UInt8] { Array("\(note.count)\n".utf8) + note }

private func hostile(_ bytes: [UInt8]) {
    guard let (notes, torn) = try? CheckpointFile.parse(bytes) else { return }
    check((0...bytes.count).contains(torn), "a torn tail longer than the file")
    let whole = notes.flatMap { record(Array($0.utf8)) }
    check(whole == Array(bytes.prefix(bytes.count - torn)), "the notes read are not the bytes before the torn tail")
    // The tail holds no whole record, and once it is cut off appends go on.
    let tail = Array(bytes.suffix(torn))
    if let alone = try? CheckpointFile.parse(tail) {
        check(alone.notes.isEmpty && alone.tornBytes == tail.count, "a torn tail holds a whole record")
    }
    let next = Array("origin\n1\nAAAA\n\n\u{2014} origin AAAA\n".utf8)
    let appended = try? CheckpointFile.parse(whole + record(next))
    check(
        appended.map { $0.notes == notes + [String(decoding: next, as: UTF8.self)] && $0.tornBytes == 0 } ?? false,
        "a record appended after the cut is not read")
}

/// Notes from the input (UTF-8, no zero byte, one blank line at most, as real notes), written as the
/// daemon writes them, then cut where the input says and perhaps followed by zero bytes.
private func crashed(_ input: [UInt8]) {
    guard input.count >= 2 else { return }
    let cut = Int(input[0]) << 8 | Int(input[1])
    let zeros = Int(input.count > 2 ? input[2] : 0) % 5 * 100
    var notes: [[UInt8]] = []
    for chunk in input.dropFirst(3).split(separator: 0xFE, omittingEmptySubsequences: true) {
        var note: [UInt8] = []
        var hasBlankLine = false
        for byte in chunk where byte != 0 {
            if byte == 0x0A, note.last == 0x0A {
                if hasBlankLine { continue }
                hasBlankLine = true
            }
            note.append(byte)
        }
        // UTF-8 text, as the daemon writes it.
        note = Array(String(decoding: note, as: UTF8.self).utf8)
        if !note.isEmpty { notes.append(note) }
    }
    let file = notes.flatMap(record)
    let kept = min(cut, file.count)
    let bytes = Array(file.prefix(kept)) + [UInt8](repeating: 0, count: zeros)
    let parsed: (notes: [String], tornBytes: Int)
    do throws(DamagedData) { parsed = try CheckpointFile.parse(bytes) } catch {
        check(false, "a file cut by a crash is taken for damage: \(error)")
        return
    }
    // The whole records before the cut are read; the rest is the torn tail.
    var offset = 0
    var whole: [String] = []
    for note in notes {
        let length = record(note).count
        guard offset + length <= kept else { break }
        whole.append(String(decoding: note, as: UTF8.self))
        offset += length
    }
    check(parsed.notes == whole, "a file cut by a crash reads \(parsed.notes.count) notes, not \(whole.count)")
    check(
        parsed.tornBytes == bytes.count - offset,
        "a file cut by a crash has a torn tail of \(parsed.tornBytes), not \(bytes.count - offset)")
}
