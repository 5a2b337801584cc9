import FascicoloDomain
import FascicoloJSON
import FascicoloProjections
import FascicoloTesting
import FascicoloWorkload
import Glibc
import Synchronization
import Testing

@testable import FascicoloLedger

// The engine against a real ledger (LMDB, libsodium) and generated paths: what a rebuild
// produces equals what following the log produced, across stops and restarts, and a failing
// projection holds back nothing else.

private let seed: UInt64 = 0xF0_2026

@Suite struct EngineTests {
    /// The live runner applies the workload as it is appended; a rebuild from position 0 then
    /// gives every projection the same digest, at the same position.
    @Test func aRebuildReproducesTheIncrementalState() async throws {
        try await withCaseFiles { _, ledger, files in
            let engine = try makeEngine(ledger, batch: 256)
            try engine.start()
            defer { engine.stop() }
            try await applyWorkload(files, seed: seed, persons: 60)
            try await waitFor(engine, "catch-up", caughtUp(ledger))
            var incremental: [String: (digest: String, position: UInt64)] = [:]
            for projection in allProjections {
                let (digest, position) = try engine.digest(projection.name)
                incremental[projection.name] = (digest.hex, position)
            }
            for projection in allProjections { try engine.rebuild(projection.name) }
            try await waitFor(engine, "rebuilds") { statuses in
                statuses.allSatisfy { $0.build == nil && $0.lastRebuild?.position == ledger.size }
            }
            for status in engine.statuses() {
                let record = try #require(status.lastRebuild)
                #expect(record.digest == incremental[status.name]?.digest, "seed \(seed): \(status.name) rebuilt differs")
                #expect(record.position == incremental[status.name]?.position)
                #expect(record.logRoot == (try ledger.root(size: record.position)).hex)
                #expect(try engine.digest(status.name).digest.hex == record.digest)
            }
            // Where the time went: every phase of the work is accounted for.
            let phases = Dictionary(uniqueKeysWithValues: engine.cpuSecondsByPhase().map { ($0.phase, $0.seconds) })
            #expect(Set(phases.keys) == Set(["decode", "write"] + allProjections.map { "apply " + $0.name }))
            #expect(phases.values.allSatisfy { $0 >= 0 } && (phases["decode"] ?? 0) > 0)
        }
    }

    /// A stop in the middle of a build (the state a crash leaves: the last committed batch and
    /// its checkpoint) resumes where it was with a new engine; one during catch-up, likewise.
    /// Both end where a single uninterrupted build ends.
    @Test func stopsDuringBuildAndCatchUpRecoverExactly() async throws {
        try await withCaseFiles { _, ledger, files in
            try await applyWorkload(files, seed: seed &+ 1, persons: 40)
            let firstSize = ledger.size
            // Build with small batches, stopped as soon as it has made progress.
            let interrupted = try makeEngine(ledger, batch: 32)
            try interrupted.start()
            try await waitFor(interrupted, "some progress") { statuses in
                statuses.allSatisfy { ($0.build?.position ?? 0) > 0 || $0.state == .live }
            }
            interrupted.stop()
            let stoppedAt = interrupted.statuses().map { $0.build?.position ?? $0.position }
            #expect(stoppedAt.contains { $0 < firstSize }, "the stop came too late to interrupt a build")

            // More entries while nothing runs, then a new engine resumes and catches up.
            try await applyWorkload(files, seed: seed &+ 2, persons: 10)
            let resumed = try makeEngine(ledger, batch: 32)
            try resumed.start()
            try await waitFor(resumed, "resumed build", caughtUp(ledger))
            // Catch-up after a stop: append, stop midway, start again.
            try await applyWorkload(files, seed: seed &+ 3, persons: 10)
            resumed.stop()
            let again = try makeEngine(ledger, batch: 32)
            try again.start()
            try await waitFor(again, "catch-up", caughtUp(ledger))
            let followed = try allProjections.map { try again.digest($0.name) }

            // The reference: the same log built in one go, into the other generation.
            defer { again.stop() }
            for projection in allProjections { try again.rebuild(projection.name) }
            try await waitFor(again, "reference rebuild") { statuses in
                statuses.allSatisfy { $0.build == nil && $0.lastRebuild?.position == ledger.size }
            }
            for (projection, followedDigest) in zip(allProjections, followed) {
                let record = try #require(again.statuses().first { $0.name == projection.name }?.lastRebuild)
                #expect(record.digest == followedDigest.digest.hex, "\(projection.name): resumed and caught up ≠ built in one go")
                #expect(record.position == followedDigest.position)
            }
        }
    }

    /// While a rebuild runs, queries answer from the generation that served before, complete.
    @Test func queriesDuringARebuildAnswerFromTheOldGeneration() async throws {
        try await withCaseFiles { _, ledger, files in
            try await applyWorkload(files, seed: seed &+ 4, persons: 40)
            let engine = try makeEngine(ledger, [Timeline.self], batch: 8)
            try engine.start()
            defer { engine.stop() }
            try await waitFor(engine, "first build", caughtUp(ledger))
            let person = try firstPerson(ledger)
            let before = try await engine.query(Timeline.name) { view in try Timeline.read(view, person: person, from: 1, limit: 1_000) }
            try engine.rebuild(Timeline.name)
            #expect(throws: ProjectionError.self) { try engine.rebuild(Timeline.name) }
            var answeredDuringBuild = 0
            while engine.statuses()[0].build != nil {
                let during = try await engine.query(Timeline.name) { view in
                    try Timeline.read(view, person: person, from: 1, limit: 1_000)
                }
                if engine.statuses()[0].build != nil { answeredDuringBuild += 1 }
                #expect(during?.rows == before?.rows && during?.position == before?.position)
                try await Task.sleep(for: .milliseconds(1))
            }
            #expect(answeredDuringBuild > 0, "the rebuild finished before a query could run during it")
            let after = try await engine.query(Timeline.name) { view in try Timeline.read(view, person: person, from: 1, limit: 1_000) }
            #expect(after?.rows == before?.rows)
        }
    }

    /// A projection that throws on an entry stops just before it, says where and why, answers
    /// as of there, and holds back neither appends nor the other projections.
    @Test func aFailingProjectionIsIsolated() async throws {
        try await withCaseFiles { _, ledger, files in
            let engine = try makeEngine(ledger, allProjections + [FailsOnTakenInCharge.self], batch: 64)
            try engine.start()
            defer { engine.stop() }
            try await applyWorkload(files, seed: seed &+ 5, persons: 30)
            try await waitFor(engine, "the others to catch up") { statuses in
                statuses.filter { $0.name != FailsOnTakenInCharge.name }.allSatisfy { $0.state == .live && $0.position == ledger.size }
                    && statuses.contains { $0.name == FailsOnTakenInCharge.name && $0.state == .failed }
            }
            let failed = try engine.status(FailsOnTakenInCharge.name)
            let failure = try #require(failed.failure)
            #expect(failed.position == failure.position)
            #expect(try ledger.entry(at: failure.position)?.eventType == "TakenInCharge")
            #expect(failure.reason.contains("refuses TakenInCharge"))
            let counted = try await engine.query(FailsOnTakenInCharge.name) { view in try view.transaction.count(view.tables[0]) }
            #expect(counted == Int(failure.position), "every entry before the failing one applied, none after")
            await #expect(throws: ProjectionError.self) {
                try await engine.query(FailsOnTakenInCharge.name, reflecting: failure.position, timeout: .seconds(1)) { _ in }
            }
        }
    }

    /// A query that asks to reflect position N never sees a generation that has not applied N.
    @Test func readYourWritesNeverAnswersOlderThanAsked() async throws {
        try await withCaseFiles { _, ledger, files in
            let engine = try makeEngine(ledger, [Timeline.self, Cases.self])
            try engine.start()
            defer { engine.stop() }
            var generator = PathGenerator(seed: seed &+ 6, persons: 20, reference: referenceData.current)
            let driver = WorkloadDriver(files: files)
            var checked = 0
            while let step = generator.next() {
                try await driver.apply(step)
                guard case .record = step, checked < 300 else { continue }
                let last = ledger.size - 1
                let entry = try #require(try ledger.entry(at: last))
                guard let person = Pseudonym.owning(stream: entry.stream), entry.stream.hasPrefix(Pseudonym.personPrefix) else { continue }
                let page = try await engine.query(Timeline.name, reflecting: last) { view in
                    try Timeline.read(view, person: person, from: entry.streamVersion, limit: 1)
                }
                #expect(page.map { $0.position > last } == true)
                #expect(page?.rows.first?.position == last, "the timeline does not show the entry it was asked to reflect")
                checked += 1
            }
            #expect(checked > 50)
            await #expect(throws: ProjectionError.self) {
                try await engine.query(Timeline.name, reflecting: ledger.size + 10, timeout: .milliseconds(50)) { _ in }
            }
        }
    }
}

extension EngineTests {
    /// The live runner writes at most one batch per interval, but a query that asks to reflect
    /// a position gets it at once.
    @Test func aQueryForAPositionDoesNotWaitForTheLiveInterval() async throws {
        try await withCaseFiles { _, ledger, files in
            try await applyWorkload(files, seed: seed &+ 8, persons: 5)
            let engine = try makeEngine(ledger, [Timeline.self], liveIntervalMilliseconds: 60_000)
            try engine.start()
            defer { engine.stop() }
            try await waitFor(engine, "the first build", caughtUp(ledger))
            // The first live batch is applied at once; the next one is a minute away.
            _ = try await ledger.append(notes(1))
            try await waitFor(engine, seconds: 10, "the first live batch", caughtUp(ledger))
            for _ in 1..<5 { _ = try await ledger.append(notes(1)) }
            try await Task.sleep(for: .milliseconds(300))
            #expect(try engine.status(Timeline.name).position < ledger.size, "the live runner did not wait for its interval")
            let last = ledger.size - 1
            let asked = ContinuousClock.now
            try await engine.query(Timeline.name, reflecting: last, timeout: .seconds(20)) { view in #expect(view.position > last) }
            #expect(ContinuousClock.now - asked < .seconds(5))
        }
    }

    /// The interval only holds back a small backlog: a full batch waiting is applied at once, so
    /// the interval never caps how fast the read models follow the log.
    @Test func aFullBatchIsAppliedWithoutWaitingForTheInterval() async throws {
        try await withCaseFiles { _, ledger, files in
            try await applyWorkload(files, seed: seed &+ 9, persons: 3)
            let engine = try makeEngine(ledger, [Timeline.self], batch: 8, liveIntervalMilliseconds: 60_000)
            try engine.start()
            defer { engine.stop() }
            try await waitFor(engine, "the first build", caughtUp(ledger))
            // The first live batch is applied at once; the interval starts then.
            _ = try await ledger.append(notes(3))
            try await waitFor(engine, seconds: 10, "the first live batch", caughtUp(ledger))
            // Five full batches: applied without waiting a minute.
            _ = try await ledger.append(notes(40))
            try await waitFor(engine, seconds: 10, "five full batches", caughtUp(ledger))
        }
    }

    /// An append of `count` events no projection reads, to move the log on.
    private func notes(_ count: Int) -> AppendRequest {
        AppendRequest(
            stream: "notes", events: (0..<count).map { NewEvent(type: "Note", payload: Array("{\"n\":\($0)}".utf8)) },
            author: "uid:0/test")
    }

    /// A new version of a projection rebuilds by itself at start; until it has caught up its
    /// queries say it is being built (the old rows were written by other code), and its rows
    /// then reflect the new code.
    @Test func aNewVersionRebuildsByItselfAtStart() async throws {
        try await withCaseFiles { _, ledger, files in
            try await applyWorkload(files, seed: seed &+ 7, persons: 20)
            let first = try makeEngine(ledger, [CountsEntries.self])
            try first.start()
            try await waitFor(first, "version 1", caughtUp(ledger))
            #expect(try await first.query(CountsEntries.name) { view in try view.transaction.count(view.tables[0]) } == Int(ledger.size))
            first.stop()

            let second = try makeEngine(ledger, [CountsPersonEntries.self], batch: 16)
            try second.start()
            defer { second.stop() }
            #expect(try second.status(CountsPersonEntries.name).state == .building)
            await #expect(throws: ProjectionError.self) {
                try await second.query(CountsPersonEntries.name) { _ in }
            }
            CountsPersonEntries.gate.store(true, ordering: .releasing)
            try await waitFor(second, "version 2", caughtUp(ledger))
            let personEntries = try ledger.entries(from: 0, limit: Int(ledger.size)).filter { $0.stream.hasPrefix(Pseudonym.personPrefix) }
            #expect(
                try await second.query(CountsPersonEntries.name) { view in try view.transaction.count(view.tables[0]) }
                    == personEntries.count)
            #expect(try second.status(CountsPersonEntries.name).lastRebuild?.version == 2)
        }
    }

    /// The rows live in their own environment next to the log. Rows that outran the log — a
    /// log restored from an older copy — or that another log built are never served: they are
    /// dropped at start and rebuilt, and the rebuild equals one made from nothing.
    @Test func rowsNotBuiltFromThisLogAreRebuilt() async throws {
        try await withCaseFiles { directory, ledger, files in
            try await applyWorkload(files, seed: seed &+ 9, persons: 20)
            // The "older backup": a hot copy of the log as it is now.
            let older = directory + "/older"
            #expect(mkdir(older, 0o700) == 0)
            try ledger.copy(to: older, compact: false)
            for name in ["signing.key", "signing.pub"] { _ = try runProcess("/bin/cp", [directory + "/" + name, older + "/" + name]) }
            try await applyWorkload(files, seed: seed &+ 10, persons: 10)
            let engine = try makeEngine(ledger)
            try engine.start()
            try await waitFor(engine, "catch-up", caughtUp(ledger))
            engine.stop()
            _ = try runProcess("/bin/cp", ["-r", ProjectionEngine.directory(in: directory), ProjectionEngine.directory(in: older)])

            var configuration = LedgerConfiguration()
            configuration.unsafeNoSync = true
            let restored = try Ledger.open(directory: older, configuration: configuration)
            defer { restored.close() }
            #expect(restored.size < ledger.size)
            let onRestored = try makeEngine(restored)
            try onRestored.start()
            defer { onRestored.stop() }
            try await waitFor(onRestored, "rebuild on the restored log", caughtUp(restored))
            let followed = try allProjections.map { try onRestored.digest($0.name) }
            for projection in allProjections { try onRestored.rebuild(projection.name) }
            try await waitFor(onRestored, "reference rebuild") { statuses in
                statuses.allSatisfy { $0.build == nil && $0.lastRebuild?.position == restored.size && $0.position == restored.size }
            }
            for (projection, followedDigest) in zip(allProjections, followed) {
                let record = try #require(onRestored.statuses().first { $0.name == projection.name }?.lastRebuild)
                #expect(record.digest == followedDigest.digest.hex, "\(projection.name): rows kept from the longer log")
                #expect(followedDigest.position == restored.size)
            }
        }
        // Another log (another key) with this log's rows: nothing of them is served either.
        try await withCaseFiles { directory, ledger, files in
            try await applyWorkload(files, seed: seed &+ 11, persons: 10)
            let engine = try makeEngine(ledger)
            try engine.start()
            try await waitFor(engine, "catch-up", caughtUp(ledger))
            engine.stop()
            try await withCaseFiles { otherDirectory, other, otherFiles in
                try await applyWorkload(otherFiles, seed: seed &+ 12, persons: 3)
                #expect(other.verifierKey != ledger.verifierKey && other.size < ledger.size)
                _ = try runProcess(
                    "/bin/cp", ["-r", ProjectionEngine.directory(in: directory), ProjectionEngine.directory(in: otherDirectory)])
                let onOther = try makeEngine(other)
                try onOther.start()
                defer { onOther.stop() }
                try await waitFor(onOther, "rebuild on the other log", caughtUp(other))
                let persons = try await onOther.query(Cases.name) { view in try view.transaction.count(view.tables[0]) }
                #expect(persons == 3, "the other log has 3 persons; the rows show \(persons)")
            }
        }
    }

    /// Before the projections had an environment of their own their tables lived in the log's;
    /// the engine drops them there.
    @Test func tablesOfTheEarlierLayoutAreDropped() async throws {
        try await withCaseFiles { _, ledger, _ in
            try ledger.store.environment.write { txn in
                let table = try txn.createTable("projection/cases/a/persons")
                try txn.put(table, key: [1], value: [2])
                _ = try txn.createTable("projections")
            }
            let engine = try makeEngine(ledger)
            engine.stop()
            let names = try ledger.store.environment.read { txn in try txn.tableNames() }
            #expect(!names.contains { $0 == "projections" || $0.hasPrefix("projection/") }, "\(names)")
            #expect(names.contains("entries"), "\(names)")
        }
    }
}

/// Version 1 of a projection: one row per entry.
final class CountsEntries: Projection {
    static let name = "counts"
    static let version = 1
    static let tables = ["seen"]
    init() {}
    func apply(_ event: ProjectedEvent, to rows: inout ProjectionRows) throws {
        rows.put(0, Array(String(event.position).utf8), [1])
    }
}

/// Version 2 of the same projection: person entries only. It waits for `gate` before its first
/// entry, so that the test sees it being built.
final class CountsPersonEntries: Projection {
    static let name = "counts"
    static let version = 2
    static let tables = ["seen"]
    static let gate = Atomic(false)
    init() {}
    func apply(_ event: ProjectedEvent, to rows: inout ProjectionRows) throws {
        while !Self.gate.load(ordering: .acquiring) { usleep(1_000) }
        guard case .person = event.subject else { return }
        rows.put(0, Array(String(event.position).utf8), [1])
    }
}

/// A projection with a bug: it counts entries, and refuses the first TakenInCharge.
final class FailsOnTakenInCharge: Projection {
    static let name = "fails-on-taken-in-charge"
    static let version = 1
    static let tables = ["seen"]

    init() {}

    func apply(_ event: ProjectedEvent, to rows: inout ProjectionRows) throws {
        rows.put(0, Array(String(event.position).utf8), [1])
        if event.type == "TakenInCharge" { throw ProjectionFailure("this projection refuses TakenInCharge") }
    }
}

/// The first person stream of the log.
func firstPerson(_ ledger: Ledger) throws -> Pseudonym {
    for entry in try ledger.entries(from: 0, limit: 100) {
        if entry.stream.hasPrefix(Pseudonym.personPrefix), let person = Pseudonym.owning(stream: entry.stream) { return person }
    }
    throw ProjectionFailure("no person stream")
}
