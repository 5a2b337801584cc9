import FascicoloConcurrency
import FascicoloLedger
import Synchronization
import Testing

/// The lease's part of the write gate (issue 23): open until a deadline that nobody has to
/// enforce — the writer reads it before each commit — and apart from the follower's and the
/// synchronous replication's refusals, which it neither opens nor closes.
@Suite struct WriteAuthorityLeaseTests {
    @Test func theGateClosesByItselfAtTheLeasesDeadline() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration())
            defer { ledger.close() }
            let now = Mutex<UInt64>(1_000)
            let clock = MonotonicClock { now.withLock { $0 } }
            let gate = ledger.writeAuthority
            gate.loseLease(holder: nil)
            await #expect(throws: LedgerError.notWritable(.fenced)) {
                _ = try await ledger.append(AppendRequest(stream: "s", events: [event("a")], author: "t"))
            }
            gate.holdLease(until: 2_000, on: clock)
            _ = try await ledger.append(AppendRequest(stream: "s", events: [event("a")], author: "t"))

            // The deadline passes: refused, though nobody called refuse.
            now.withLock { $0 = 2_000 }
            #expect(gate.refusal == .fenced)
            await #expect(throws: LedgerError.notWritable(.fenced)) {
                _ = try await ledger.append(AppendRequest(stream: "s", events: [event("b")], author: "t"))
            }
            // A renewal moves it.
            gate.holdLease(until: 3_000, on: clock)
            #expect(gate.refusal == nil)

            // Another node holds the lease: not_primary, naming it.
            gate.loseLease(holder: "/run/b.sock")
            #expect(gate.refusal == .follower(primary: "/run/b.sock"))

            // The other refusals are independent: the lease held does not open them, and
            // allowing them does not open a lost lease.
            gate.holdLease(until: 3_000, on: clock)
            gate.refuse(.replicasUnavailable)
            #expect(gate.refusal == .replicasUnavailable)
            gate.allow()
            #expect(gate.refusal == nil)
            gate.loseLease(holder: nil)
            gate.allow()
            #expect(gate.refusal == .fenced)
            #expect(ledger.size == 1)
        }
    }
}
