import FascicoloConcurrency
import FascicoloCrypto
import FascicoloDomain
import FascicoloLedger
import FascicoloStorage
import Glibc
import Logging
import Synchronization

extension ProjectionEngine {
    // MARK: - Builds

    func startBuildThread(_ builds: [(Participant, BuildingRecord)]) {
        shared.withLock { shared in
            for (participant, record) in builds {
                shared.statuses[participant.kind.name]?.build = BuildProgress(
                    slot: participant.slot, position: participant.position, startedAt: record.startedAt, entriesPerSecond: 0, failure: nil)
            }
        }
        // The build thread takes the participants over.
        let transfer = UnsafeTransfer(builds.map { (participant: $0.0, startedAt: $0.1.startedAt) })
        startThread { self.runBuild(transfer.value) }
    }

    /// Applies the whole log to fresh generations, then hands each to the live runner. A stop
    /// leaves the builds where they are (their checkpoints and `building` records resume them).
    func runBuild(_ builds: [(participant: Participant, startedAt: String)]) {
        var pending = builds
        let clock = ContinuousClock()
        let began = clock.now
        let firstPositions = Dictionary(uniqueKeysWithValues: builds.map { ($0.participant.kind.name, $0.participant.position) })
        func rate(_ participant: Participant) -> Int {
            Self.rate(participant.position - (firstPositions[participant.kind.name] ?? 0), since: began, clock: clock)
        }
        var lastLog = began
        // Three batches move at once: the next one is read and decoded on one thread, the
        // current one applied on a thread per projection, the previous one written (and synced)
        // on another — so the write lock's holder is never the only thread at work.
        var prefetch: Prefetch?
        var writing: PendingWrite?
        while !shared.withLock({ $0.stopping }) && !pending.isEmpty {
            var end = ledger.size
            if pending.contains(where: { $0.participant.position >= end }) {
                // Finished ones are handed over once everything they applied is written.
                if let failed = finishWrite(&writing, pending.map(\.participant)) {
                    logWriteFailure(failed)
                    pause(milliseconds: 1_000)
                    continue
                }
                for build in pending where build.participant.position >= end {
                    finishBuild(build.participant, startedAt: build.startedAt, rate: rate(build.participant))
                }
                pending.removeAll { $0.participant.position >= end }
            }
            guard let start = pending.map(\.participant.position).min() else { break }
            var decoded: [ProjectedEvent]?
            if let fetched = prefetch, fetched.range.lowerBound == start {
                decoded = try? fetched.events.wait()
                end = fetched.range.upperBound
            } else {
                // A prefetch of another range (the builds went back after a failure) still reads
                // the log: it ends before it is replaced, so that none outlives the engine.
                _ = try? prefetch?.events.wait()
            }
            let batchMax = UInt64(options.buildBatchEntriesMax)
            end = min(end, start + batchMax)
            prefetch = end < ledger.size ? startPrefetch(end..<min(ledger.size, end + batchMax)) : nil
            do {
                let batch = try prepareBatch(
                    pending.map(\.participant), end: end, limit: options.buildBatchEntriesMax, decoded: decoded,
                    underlay: writing?.batch)
                if let failed = finishWrite(&writing, pending.map(\.participant)) {
                    logWriteFailure(failed)
                    pause(milliseconds: 1_000)
                    continue
                }
                if let batch { writing = startWrite(batch) }
            } catch {
                // Back to the last checkpoint written, once the write in flight has ended.
                logger.error("projection build batch not applied; retrying", metadata: ["error": "\(error)"])
                _ = finishWrite(&writing, pending.map(\.participant))
                for build in pending { build.participant.reset() }
                pause(milliseconds: 1_000)
            }
            shared.withLock { shared in
                for build in pending {
                    let name = build.participant.kind.name
                    shared.statuses[name]?.build?.position = build.participant.position
                    shared.statuses[name]?.build?.entriesPerSecond = rate(build.participant)
                    shared.statuses[name]?.build?.failure = build.participant.failure
                    if build.participant.failure != nil { shared.building.remove(name) }
                }
            }
            for build in pending {
                guard let failure = build.participant.failure else { continue }
                logger.error(
                    "projection build stopped at an entry it cannot apply",
                    metadata: [
                        "projection": "\(build.participant.kind.name)", "position": "\(failure.position)", "reason": "\(failure.reason)",
                    ])
            }
            pending.removeAll { $0.participant.failure != nil }
            if clock.now - lastLog > .seconds(5) {
                lastLog = clock.now
                for build in pending {
                    logger.info(
                        "projection build progress",
                        metadata: [
                            "projection": "\(build.participant.kind.name)", "position": "\(build.participant.position)",
                            "logSize": "\(end)", "entriesPerSecond": "\(rate(build.participant))",
                        ])
                }
            }
        }
        // A decode or a write still running uses the environment: they end before the engine stops.
        _ = try? prefetch?.events.wait()
        if let failed = finishWrite(&writing, builds.map(\.participant)) { logWriteFailure(failed) }
        finishThread()
    }

    /// Records the digest of what the build produced and hands it over.
    func finishBuild(_ participant: Participant, startedAt: String, rate: Int) {
        let name = participant.kind.name
        do {
            let position = participant.position
            let digest = try environment.read { txn in
                try ProjectionDigest.compute(
                    name: name, version: participant.kind.version, tableNames: participant.kind.tables,
                    tables: participant.tables, in: txn)
            }
            let checkpoint = try ledger.latestCheckpoint()
            let record = RebuildRecord(
                version: participant.kind.version, position: position, digest: digest.hex,
                logRoot: try ledger.root(size: position).hex, checkpointSize: checkpoint?.size, checkpointRoot: checkpoint?.root.hex,
                startedAt: startedAt, finishedAt: ledger.wallClock.timestamp, entriesPerSecond: rate)
            shared.withLock { $0.handovers.append(Handover(participant: participant, record: record)) }
            signal.withLock { signal.broadcast() }
        } catch {
            logger.error("projection build could not be recorded", metadata: ["projection": "\(name)", "error": "\(error)"])
            _ = shared.withLock { $0.building.remove(name) }
        }
    }

    static func rate(_ entries: UInt64, since start: ContinuousClock.Instant, clock: ContinuousClock) -> Int {
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return seconds > 0 ? Int(Double(entries) / seconds) : 0
    }
}
