import FascicoloCrypto
import FascicoloLedger
import FascicoloTesting
import Testing

/// The witnesses' cosignatures the daemon keeps: one line per witness key and checkpoint, kept
/// across a restart, a torn last line ignored.
@Suite struct WitnessCosignaturesTests {
    static func line(_ name: String, keyID: [UInt8], filler: UInt8) -> String {
        "— \(name) \(Base64.encode(keyID + [UInt8](repeating: filler, count: 72)))\n"
    }

    @Test func oneLinePerWitnessKeyAndCheckpointSurvivesARestart() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/" + WitnessCosignatures.fileName
            let store = WitnessCosignatures(path: path)
            let root = Digest([UInt8](repeating: 7, count: 32))!
            let first = Self.line("witness.test/a", keyID: [1, 2, 3, 4], filler: 1)
            // The same witness asked again after a restart: a new time, the same key.
            let again = Self.line("witness.test/a", keyID: [1, 2, 3, 4], filler: 2)
            let other = Self.line("witness.test/b", keyID: [9, 9, 9, 9], filler: 3)
            try store.add(size: 5, root: root, line: first)
            try store.add(size: 5, root: root, line: again)
            try store.add(size: 5, root: root, line: other)
            try store.add(size: 6, root: root, line: again)
            #expect(store.lines(size: 5, root: root) == [first, other] && store.lines(size: 6, root: root) == [again])
            #expect(store.lines(size: 7, root: root).isEmpty)
            let note = "log\n5\n\(Base64.encode(root.bytes))\n\n— log x\n"
            #expect(store.witnessed(note) == note + first + other)
            // A crash while appending leaves a torn line: skipped when the file is read again.
            try appendFile(path, "7 \(Base64.encode(root.bytes)) — witness.test/a AQID")
            let reopened = WitnessCosignatures(path: path)
            #expect(reopened.lines(size: 5, root: root) == [first, other] && reopened.lines(size: 6, root: root) == [again])
            #expect(reopened.lines(size: 7, root: root).isEmpty)
        }
    }

    /// A note of the same size but another tree (a history restored from an older backup, a
    /// fork) is served without the cosignatures of the tree the witnesses saw.
    @Test func aCosignatureIsServedOnlyWithTheTreeItCosigned() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/" + WitnessCosignatures.fileName
            let honest = Digest([UInt8](repeating: 1, count: 32))!
            let forked = Digest([UInt8](repeating: 2, count: 32))!
            try WitnessCosignatures(path: path).add(
                size: 6, root: honest, line: Self.line("witness.test/a", keyID: [1, 2, 3, 4], filler: 1))
            // A line kept before roots were: not served with any note.
            try appendFile(path, "6 " + Self.line("witness.test/b", keyID: [5, 5, 5, 5], filler: 4))
            let store = WitnessCosignatures(path: path)
            let forkedNote = "log\n6\n\(Base64.encode(forked.bytes))\n\n— log x\n"
            #expect(store.witnessed(forkedNote) == forkedNote)
            let honestNote = "log\n6\n\(Base64.encode(honest.bytes))\n\n— log x\n"
            #expect(store.witnessed(honestNote).contains("witness.test/a") && !store.witnessed(honestNote).contains("witness.test/b"))
        }
    }
}

private func appendFile(_ path: String, _ text: String) throws {
    try writeFile(path, readFile(path) + text)
}
