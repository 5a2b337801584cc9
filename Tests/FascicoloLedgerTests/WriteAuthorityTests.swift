import FascicoloLedger
import Testing

/// The write gate: a follower, a fenced primary and one waiting for its synchronous followers
/// store nothing new, whatever path the write takes.
@Suite struct WriteAuthorityTests {
    @Test func aClosedGateStoresNothingAndOpensAgain() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration())
            defer { ledger.close() }
            _ = try await ledger.append(AppendRequest(stream: "s", events: [event("a")], author: "t"))
            _ = try await ledger.signCheckpoint()
            _ = try await ledger.append(AppendRequest(stream: "s", events: [event("b")], author: "t"))
            let checkpointSize = try #require(try ledger.latestCheckpoint()).size

            for refusal in [WriteAuthority.Refusal.follower(primary: "unix:/run/fascicolo/primary.sock"), .fenced, .replicasUnavailable] {
                ledger.writeAuthority.refuse(refusal)
                await #expect(throws: LedgerError.notWritable(refusal)) {
                    _ = try await ledger.append(AppendRequest(stream: "s", events: [event("c")], author: "t"))
                }
                // No checkpoint of a new size is signed either.
                await #expect(throws: LedgerError.notWritable(refusal)) { _ = try await ledger.signCheckpoint() }
                #expect(LedgerError.notWritable(refusal).code == refusal.code)
            }
            #expect(ledger.size == 2)
            #expect(try ledger.latestCheckpoint()?.size == checkpointSize)

            ledger.writeAuthority.allow()
            let after = try await ledger.append(AppendRequest(stream: "s", events: [event("c")], author: "t"))
            #expect(after.positions == 2...2)
        }
    }

    /// Closing the gate while appends are queued: once `refuse` returns, at most the batch the
    /// writer was already committing lands; everything still queued is refused, and every caller
    /// gets either its positions or the refusal.
    @Test func appendsQueuedWhenTheGateClosesDoNotCommit() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = testConfiguration()
            configuration.commitEventsMax = 1  // one append per commit: a long queue behind the writer
            let ledger = try Ledger.open(directory: directory, configuration: configuration)
            defer { ledger.close() }
            let outcomes = await withTaskGroup(of: Bool?.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        do {
                            _ = try await ledger.append(AppendRequest(stream: "s\(index)", events: [event("x")], author: "t"))
                            return true
                        } catch LedgerError.notWritable(.fenced) {
                            return false
                        } catch {
                            return nil
                        }
                    }
                }
                try? await Task.sleep(for: .milliseconds(5))
                ledger.writeAuthority.refuse(.fenced)
                let sizeWhenClosed = ledger.size
                var outcomes: [Bool?] = []
                for await outcome in group { outcomes.append(outcome) }
                // At most one commit was in flight when the gate closed.
                #expect(ledger.size <= sizeWhenClosed + 1)
                return outcomes
            }
            #expect(!outcomes.contains(nil), "every caller got its positions or the refusal")
            #expect(UInt64(outcomes.filter { $0 == true }.count) == ledger.size)
            #expect(outcomes.contains(false), "appends were still queued when the gate closed")
        }
    }
}
