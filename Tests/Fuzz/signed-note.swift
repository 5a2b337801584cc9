// Signed notes (C2SP signed-note, FascicoloCrypto.SignedNote) and checkpoints
// (FascicoloLedger.Checkpoint), as a client reads them from a daemon or a file kept elsewhere.
// Hostile text is refused, never a trap. A checkpoint this harness signs (origin, size, root and
// time from the input) verifies; the same note with bytes changed by the input either fails or
// still says exactly what was signed.
import FascicoloCrypto
import Glibc

@testable import FascicoloLedger

private let key = SigningKey(seed: [UInt8](repeating: 7, count: SigningKey.seedByteCount))!
private let origin = "fascicolo.invalid/ledger"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    if input.first == 0xFF {
        var reader = InputReader(Array(input.dropFirst()))
        genuine(&reader)
    } else {
        hostile(String(decoding: input, as: UTF8.self))
    }
    return 0
}

/// Any text as a note, a checkpoint (of this log's origin and of the origin it names) and a verifier key.
private func hostile(_ text: String) {
    if let parsed = try? SignedNote.parse(text) {
        check(parsed.text.utf8.last == 0x0A, "a note's text does not end with a newline")
        check(!parsed.signatures.isEmpty, "a note without signatures")
        check(parsed.signatures.allSatisfy { $0.blob.count >= 5 && !$0.name.isEmpty }, "a short signature line")
        check(text.utf8.starts(with: parsed.text.utf8), "a note's text is not its beginning")
        _ = SignedNote.hasValidSignature(parsed, name: origin, publicKey: key.publicKey)
        _ = SignedNote.validCosignatureTimestamp(parsed, name: origin, publicKey: key.publicKey)
    }
    let firstLine = String(text.prefix { $0 != "\n" })
    for name in [origin, firstLine] {
        if let checkpoint = try? Checkpoint.verify(note: text, origin: name, publicKey: key.publicKey) {
            check(
                text.hasPrefix(
                    Checkpoint.body(
                        origin: name, size: checkpoint.size, root: checkpoint.root, streamHeadsRoot: checkpoint.streamHeadsRoot)),
                "a verified checkpoint's body is not what its note begins with")
            check(checkpoint.note == text, "a verified checkpoint keeps another note")
        }
    }
    if let verifier = SignedNote.parseVerifierKey(text) {
        let again = SignedNote.verifierKey(name: verifier.name, publicKey: verifier.publicKey)
        check(
            SignedNote.parseVerifierKey(again).map { $0.name == verifier.name && $0.publicKey == verifier.publicKey } ?? false,
            "a verifier key does not parse back")
    }
}

/// A checkpoint signed here, verified, then changed as the input says and verified again.
private func genuine(_ input: inout InputReader) {
    let size = input.uint64()
    let timestamp = input.uint64()
    let root = Digest(input.take(32))!
    let streamHeadsRoot = Digest(input.take(32))!
    let checkpoint = Checkpoint.sign(
        origin: origin, size: size, root: root, streamHeadsRoot: streamHeadsRoot, key: key, timestampSeconds: timestamp)
    guard let verified = try? Checkpoint.verify(note: checkpoint.note, origin: origin, publicKey: key.publicKey) else {
        check(false, "a checkpoint signed here does not verify")
        return
    }
    check(verified == checkpoint, "a checkpoint signed here reads back differently")
    // How the committed seeds of real notes were made: `FUZZ_PRINT_NOTE=1 tools/fuzz signed-note -- INPUT`
    // (libFuzzer may run the input more than once: keep one copy).
    if getenv("FUZZ_PRINT_NOTE") != nil { print(checkpoint.note, terminator: "") }
    // Byte edits: (offset, xor) pairs, or an insertion or deletion.
    var note = Array(checkpoint.note.utf8)
    while !input.bytes.isEmpty {
        let operation = input.byte()
        let at = Int(input.byte()) % (note.count + 1)
        let value = input.byte()
        switch operation % 3 {
        case 0 where at < note.count: note[at] ^= value
        case 1: note.insert(value, at: at)
        case 2 where at < note.count: note.remove(at: at)
        default: break
        }
    }
    let changed = String(decoding: note, as: UTF8.self)
    if let again = try? Checkpoint.verify(note: changed, origin: origin, publicKey: key.publicKey) {
        check(
            again.size == size && again.root == root && again.origin == origin,
            "a changed note verifies with other contents")
        check(again.timestampSeconds == nil || again.timestampSeconds == timestamp, "a changed note verifies with another time")
    }
    hostile(changed)
}
