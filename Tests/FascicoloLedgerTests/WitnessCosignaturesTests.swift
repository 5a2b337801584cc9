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
            let first = Self.line("witness.test/a", keyID: [1, 2, 3, 4], filler: 1)
            // The same witness asked again after a restart: a new time, the same key.
            let again = Self.line("witness.test/a", keyID: [1, 2, 3, 4], filler: 2)
            let other = Self.line("witness.test/b", keyID: [9, 9, 9, 9], filler: 3)
            try store.add(size: 5, line: first)
            try store.add(size: 5, line: again)
            try store.add(size: 5, line: other)
            try store.add(size: 6, line: again)
            #expect(store.lines(size: 5) == [first, other] && store.lines(size: 6) == [again] && store.lines(size: 7).isEmpty)
            #expect(store.witnessed("note\n\n— log x\n", size: 5) == "note\n\n— log x\n" + first + other)
            // A crash while appending leaves a torn line: skipped when the file is read again.
            try appendFile(path, "7 — witness.test/a AQID")
            let reopened = WitnessCosignatures(path: path)
            #expect(reopened.lines(size: 5) == [first, other] && reopened.lines(size: 6) == [again] && reopened.lines(size: 7).isEmpty)
        }
    }
}

private func appendFile(_ path: String, _ text: String) throws {
    try writeFile(path, readFile(path) + text)
}
