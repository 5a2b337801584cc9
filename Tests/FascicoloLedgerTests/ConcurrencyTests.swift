import FascicoloLedger
import Testing

@Suite struct ConcurrencyTests {
    /// Many appenders to shared and private streams at once: the global sequence has no gap and no
    /// duplicate, each stream's versions are 1…n in position order, and every acknowledged
    /// position holds what was acknowledged.
    @Test func concurrentAppendersGetAGapFreeSequence() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
            let appenders = 48
            let appendsEach = 30
            let acknowledged = try await withThrowingTaskGroup(of: [(String, AppendResult, Int)].self) { group in
                for appender in 0..<appenders {
                    group.addTask {
                        var results: [(String, AppendResult, Int)] = []
                        for index in 0..<appendsEach {
                            // Half the appenders share three streams; the others write their own.
                            let stream = appender % 2 == 0 ? "shared-\(appender % 3)" : "own-\(appender)"
                            let count = index % 3 + 1
                            let events = (0..<count).map { event("\(appender)/\(index)/\($0)") }
                            let result = try await ledger.append(AppendRequest(stream: stream, events: events, author: "t"))
                            results.append((stream, result, count))
                        }
                        return results
                    }
                }
                var all: [(String, AppendResult, Int)] = []
                for try await results in group { all += results }
                return all
            }
            let total = acknowledged.reduce(0) { $0 + $1.2 }
            #expect(ledger.size == UInt64(total))
            let entries = try ledger.entries(from: 0, limit: total + 10)
            #expect(entries.map(\.position) == Array(0..<UInt64(total)))
            var positionsSeen = Set<UInt64>()
            for (stream, result, count) in acknowledged {
                #expect(result.leafHashes.count == count)
                for offset in 0..<count {
                    let position = result.firstPosition + UInt64(offset)
                    #expect(positionsSeen.insert(position).inserted, "position \(position) acknowledged twice")
                    let entry = entries[Int(position)]
                    #expect(entry.stream == stream && entry.streamVersion == result.firstStreamVersion + UInt64(offset))
                    #expect(entry.leafHash == result.leafHashes[offset])
                }
            }
            var versions: [String: UInt64] = [:]
            for entry in entries {
                let next = (versions[entry.stream] ?? 0) + 1
                #expect(entry.streamVersion == next)
                versions[entry.stream] = next
            }
            // LMDB forbids opening one environment twice in a process: close before verifying.
            ledger.close()
            _ = try Verifier.verify(directory: directory)
        }
    }

    /// Appenders race for the same expected version: exactly one wins each version, the others get
    /// a conflict naming the actual version, and the stream ends with exactly one entry per round.
    @Test func expectedVersionRacesResolveExactlyOnce() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
            defer { ledger.close() }
            let racers = 16
            let rounds = 20
            for round in 0..<rounds {
                let outcomes = await withTaskGroup(of: Result<AppendResult, LedgerError>.self) { group in
                    for racer in 0..<racers {
                        group.addTask {
                            do {
                                return .success(
                                    try await ledger.append(
                                        AppendRequest(
                                            stream: "contended", events: [event("\(round)/\(racer)")],
                                            expectedVersion: .exactly(UInt64(round)), author: "t")))
                            } catch let error as LedgerError {
                                return .failure(error)
                            } catch {
                                return .failure(.storage(.init(error)))
                            }
                        }
                    }
                    var all: [Result<AppendResult, LedgerError>] = []
                    for await outcome in group { all.append(outcome) }
                    return all
                }
                let winners = outcomes.compactMap { try? $0.get() }
                #expect(winners.count == 1, "round \(round): \(winners.count) winners")
                #expect(winners.first?.streamVersions == UInt64(round + 1)...UInt64(round + 1))
                for case .failure(let error) in outcomes {
                    #expect(
                        error == .wrongExpectedVersion(stream: "contended", expected: .exactly(UInt64(round)), actual: UInt64(round + 1)))
                }
            }
            #expect(try ledger.streamVersion("contended") == UInt64(rounds))
            #expect(ledger.size == UInt64(rounds))
        }
    }

    /// The same idempotent request sent many times at once (retries racing each other, some landing
    /// in the same group commit): one copy is stored and every caller gets its positions.
    @Test func concurrentIdempotentRetriesStoreOnce() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
            defer { ledger.close() }
            for key in 0..<10 {
                let request = AppendRequest(
                    stream: "s-\(key)", events: [event("a"), event("b")], idempotencyKey: "key-\(key)", author: "t")
                let results = try await withThrowingTaskGroup(of: AppendResult.self) { group in
                    for _ in 0..<12 { group.addTask { try await ledger.append(request) } }
                    var all: [AppendResult] = []
                    for try await result in group { all.append(result) }
                    return all
                }
                #expect(Set(results.map(\.firstPosition)).count == 1)
                #expect(results.filter { !$0.deduplicated }.count == 1)
                #expect(Set(results.map(\.leafHashes)).count == 1)
            }
            #expect(ledger.size == 20)
        }
    }
}
