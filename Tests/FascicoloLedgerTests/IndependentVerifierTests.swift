import Glibc
import Testing

@testable import FascicoloLedger

/// `tools/verify-offline.py` was written by someone who read only Formats.md. That it accepts
/// this build's logs, and rejects a tampered one at the same position as `fascicolo verify`,
/// shows that the document is enough to verify a log without this project's code.
@Suite(.enabled(if: pythonVerifierAvailable(), "python3 with the lmdb and pynacl modules (tools/bootstrap installs them)"))
struct IndependentVerifierTests {
    @Test func thePythonVerifierAgreesOnAGoodAndATamperedLog() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
            for index in 0..<150 {
                let events = (0...(index % 3)).map { event("entry \(index)/\($0)") }
                _ = try await ledger.append(AppendRequest(stream: "case-\(index % 7)", events: events, author: "uid:1000/test"))
            }
            let size = ledger.size
            ledger.close()

            let good = try runProcess("/usr/bin/env", ["python3", "tools/verify-offline.py", directory])
            #expect(good.status == 0 && good.output.contains("OK:") && good.output.contains("\(size) entries"), "\(good.output)")

            let target: UInt64 = 123
            let (offset, _) = try valueOffset(directory: directory, table: \.entries, key: bigEndianBytes(target))
            try flipByte(directory: directory, at: offset + 40)

            let bad = try runProcess("/usr/bin/env", ["python3", "tools/verify-offline.py", directory])
            #expect(bad.status == 1 && bad.output.contains("FAILED: position \(target):"), "\(bad.output)")
            do {
                _ = try Verifier.verify(directory: directory)
                Issue.record("fascicolo's verifier passed the tampered log")
            } catch let failure as Verifier.Failure {
                #expect(failure.position == target)
            }
        }
    }
}

func pythonVerifierAvailable() -> Bool {
    access("tools/verify-offline.py", R_OK) == 0
        && ((try? runProcess("/usr/bin/env", ["python3", "-c", "import lmdb, nacl"]).status) == 0)
}
