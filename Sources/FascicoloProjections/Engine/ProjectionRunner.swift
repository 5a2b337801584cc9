import FascicoloConcurrency
import FascicoloCrypto
import FascicoloDomain
import FascicoloLedger
import FascicoloStorage
import Glibc
import Logging
import Synchronization

/// One projection instance bound to one generation, owned by the runner thread applying it.
final class Participant {
    let kind: any Projection.Type
    var instance: any Projection
    let slot: Slot
    let tables: [Table]
    /// The next position to apply.
    var position: UInt64
    /// The next position of the last checkpoint written (below `position` while a batch is
    /// being written).
    var committed: UInt64
    var failure: FailureRecord?

    init(kind: any Projection.Type, slot: Slot, tables: [Table], position: UInt64) {
        self.kind = kind
        self.instance = kind.init()
        self.slot = slot
        self.tables = tables
        self.position = position
        self.committed = position
    }

    /// Back to the last checkpoint written, with a fresh instance (its caches had moved on).
    func reset() {
        instance = kind.init()
        position = committed
        failure = nil
    }
}

/// Entries being decoded ahead of the batch that will apply them (on a thread of its own, not
/// the global pool: Swift's tasks run there).
struct Prefetch {
    let range: Range<UInt64>
    let events: Promise<[ProjectedEvent]>
}

/// A finished build, waiting for the live runner to swap it in.
/// @unchecked: the build thread hands its participant over and never touches it again.
struct Handover: @unchecked Sendable {
    let participant: Participant
    let record: RebuildRecord
}

extension ProjectionEngine {
    // MARK: - The live runner

    func runLive(_ initial: [Participant]) {
        var participants = initial
        let clock = ContinuousClock()
        var lastBatch: ContinuousClock.Instant?
        while !shared.withLock({ $0.stopping }) {
            adoptHandovers(into: &participants)
            let end = ledger.size
            guard participants.contains(where: { $0.failure == nil && $0.position < end }) else {
                // Idle until a commit (the commit watcher), a handover or a stop broadcasts.
                signal.withLock {
                    if !shared.withLock({ $0.stopping || !$0.handovers.isEmpty }) && ledger.size == end { signal.wait() }
                }
                continue
            }
            // A full batch waiting is applied at once: the interval never caps the rate.
            let backlog = end - (participants.filter { $0.failure == nil }.map(\.position).min() ?? end)
            if let due = lastBatch.map({ $0 + .milliseconds(options.liveIntervalMilliseconds) }), clock.now < due,
               backlog < UInt64(options.batchEntriesMax), !urgent() {
                // New commits wake the runner: it goes back to sleep until the batch is due.
                signal.withLock {
                    if !urgent() { signal.wait(milliseconds: max(1, Int(((due - clock.now) / .milliseconds(1)).rounded(.up)))) }
                }
                continue
            }
            lastBatch = clock.now
            do {
                try applyBatch(participants, end: end)
            } catch {
                logger.error("projection batch not written; retrying", metadata: ["error": "\(error)"])
                pause(milliseconds: 1_000)
            }
            publishLive(participants)
        }
        finishThread()
    }

    /// Something the live runner should not wait for: a stop, a finished build, a query
    /// waiting for a position.
    private func urgent() -> Bool {
        shared.withLock { $0.stopping || !$0.handovers.isEmpty || $0.positionWaiters > 0 }
    }

    /// Swaps finished builds in: one write transaction makes the new generation serve, records
    /// the rebuild, and empties the generation it replaces.
    private func adoptHandovers(into participants: inout [Participant]) {
        let handovers = shared.withLock { shared in
            defer { shared.handovers.removeAll() }
            return shared.handovers
        }
        for handover in handovers {
            let new = handover.participant
            let name = new.kind.name
            let old = participants.first { $0.kind.name == name }
            do {
                try environment.write { txn in
                    try txn.put(control, key: ControlKey.active(name), value: ActiveRecord(slot: new.slot, version: new.kind.version).bytes)
                    try txn.delete(control, key: ControlKey.building(name))
                    try txn.put(control, key: ControlKey.rebuilt(name), value: handover.record.json.bytes)
                    if let old, old.slot != new.slot {
                        for table in old.tables { try txn.empty(table) }
                        try txn.delete(control, key: ControlKey.checkpoint(name, old.slot))
                    }
                }
            } catch {
                logger.error("projection swap failed; the old generation keeps serving",
                             metadata: ["projection": "\(name)", "error": "\(error)"])
                shared.withLock { shared in
                    shared.building.remove(name)
                    shared.statuses[name]?.build = nil
                }
                continue
            }
            participants.removeAll { $0.kind.name == name }
            participants.append(new)
            shared.withLock { shared in
                shared.building.remove(name)
                shared.statuses[name]?.build = nil
                shared.statuses[name]?.lastRebuild = handover.record
            }
            logger.info("projection generation swapped in", metadata: [
                "projection": "\(name)", "slot": "\(new.slot)", "position": "\(handover.record.position)",
                "digest": "\(handover.record.digest)", "entriesPerSecond": "\(handover.record.entriesPerSecond)",
            ])
        }
        if !handovers.isEmpty { publishLive(participants) }
    }

    private func publishLive(_ participants: [Participant]) {
        shared.withLock { shared in
            for participant in participants {
                let name = participant.kind.name
                shared.statuses[name]?.servingSlot = participant.slot
                shared.statuses[name]?.position = participant.position
                shared.statuses[name]?.failure = participant.failure
                shared.statuses[name]?.state = participant.failure == nil ? .live : .failed
            }
        }
        statusChanged.notify()
    }

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
    private func runBuild(_ builds: [(participant: Participant, startedAt: String)]) {
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
                let batch = try prepareBatch(pending.map(\.participant), end: end, limit: options.buildBatchEntriesMax, decoded: decoded,
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
                logger.error("projection build stopped at an entry it cannot apply", metadata: [
                    "projection": "\(build.participant.kind.name)", "position": "\(failure.position)", "reason": "\(failure.reason)"])
            }
            pending.removeAll { $0.participant.failure != nil }
            if clock.now - lastLog > .seconds(5) {
                lastLog = clock.now
                for build in pending {
                    logger.info("projection build progress", metadata: [
                        "projection": "\(build.participant.kind.name)", "position": "\(build.participant.position)",
                        "logSize": "\(end)", "entriesPerSecond": "\(rate(build.participant))"])
                }
            }
        }
        // A decode or a write still running uses the environment: they end before the engine stops.
        _ = try? prefetch?.events.wait()
        if let failed = finishWrite(&writing, builds.map(\.participant)) { logWriteFailure(failed) }
        finishThread()
    }

    /// Records the digest of what the build produced and hands it over.
    private func finishBuild(_ participant: Participant, startedAt: String, rate: Int) {
        let name = participant.kind.name
        do {
            let position = participant.position
            let digest = try environment.read { txn in
                try ProjectionDigest.compute(name: name, version: participant.kind.version, tableNames: participant.kind.tables,
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

    // MARK: - Batches

    /// Applies the entries from the lowest position among `participants` up to `end` (at most
    /// `batchEntriesMax`) to every participant whose turn it is, then writes every participant's
    /// changes and checkpoint in one transaction. A participant that throws stops before that
    /// entry (its failure is in the same checkpoint); the others go on.
    ///
    /// Both cores work on large batches: the entries are decoded once, in two halves in
    /// parallel, then each projection applies them on a thread of its own (its rows are its own;
    /// each thread reads through its own snapshot, and the rows it reads are only ever written
    /// by this runner). Small batches, the live runner's usual ones, stay on the caller's thread.
    func applyBatch(_ participants: [Participant], end: UInt64) throws {
        do {
            guard let batch = try prepareBatch(participants, end: end, limit: options.batchEntriesMax, decoded: nil, underlay: nil) else {
                return
            }
            try commit(batch)
            markCommitted(batch)
        } catch {
            for participant in participants { participant.reset() }
            throw error
        }
    }

    /// A batch applied in memory, not yet written.
    struct PreparedBatch: @unchecked Sendable {
        // @unchecked: handed to the writing thread, which only reads it.
        let participants: [Participant]
        let outcomes: [Outcome]

        /// A participant's changes, for the next batch to read while these are written.
        func changes(of participant: Participant) -> [[RowKey: [UInt8]?]]? {
            participants.firstIndex { $0 === participant }.map { outcomes[$0].rows.changes }
        }
    }

    /// Applies the batch in memory (see `applyBatch`; at most `limit` entries): decodes unless `decoded` holds exactly
    /// its entries, and lets the participants read `underlay`'s changes (the previous batch, while
    /// it is written) before their tables. Advances the participants' positions.
    func prepareBatch(_ participants: [Participant], end: UInt64, limit: Int, decoded: [ProjectedEvent]?,
                      underlay: PreparedBatch?) throws -> PreparedBatch? {
        let active = participants.filter { $0.failure == nil && $0.position < end }
        guard let start = active.map(\.position).min() else { return nil }
        let stop = min(end, start + UInt64(limit))
        let events: [ProjectedEvent]
        if let decoded, decoded.first?.position == start, decoded.count == Int(stop - start) {
            events = decoded
        } else {
            events = try decode(from: start, to: stop, parts: stop - start >= 512 ? 2 : 1)
        }

        let outcomes = Mutex<[Outcome?]>(Array(repeating: nil, count: active.count))
        let errors = Mutex<[any Error]>([])
        // Each thread applies to its own participant; the events and the underlay are only read.
        let shared = UnsafeTransfer((active, events, underlay))
        // Small batches (the live runner's usual ones) are applied on this thread alone.
        onThreads(events.count >= 256 ? active.count : 1, iterations: active.count) { index in
            let (active, events, underlay) = shared.value
            do {
                let outcome = try self.timed("apply " + active[index].kind.name) {
                    try self.apply(events, to: active[index], underlay: underlay?.changes(of: active[index]))
                }
                outcomes.withLock { $0[index] = outcome }
            } catch {
                errors.withLock { $0.append(error) }
            }
        }
        if let error = errors.withLock({ $0.first }) { throw error }
        let results = outcomes.withLock { $0.map { $0! } }
        for (participant, outcome) in zip(active, results) {
            participant.position = outcome.position
            participant.failure = outcome.failure
        }
        return PreparedBatch(participants: active, outcomes: results)
    }

    /// Writes a prepared batch: every participant's changes and checkpoint, one transaction.
    /// (It may run on another thread: it changes nothing but the tables.)
    func commit(_ batch: PreparedBatch) throws {
        try timed("write") { try write(batch) }
    }

    private func write(_ batch: PreparedBatch) throws {
        try environment.write { txn in
            for (participant, outcome) in zip(batch.participants, batch.outcomes) {
                try outcome.rows.write(to: txn)
                let checkpoint = CheckpointRecord(version: participant.kind.version, position: outcome.position, failure: outcome.failure)
                try txn.put(control, key: ControlKey.checkpoint(participant.kind.name, participant.slot), value: checkpoint.bytes)
            }
        }
    }

    /// After `commit`, on the participants' own thread.
    func markCommitted(_ batch: PreparedBatch) {
        for (participant, outcome) in zip(batch.participants, batch.outcomes) {
            participant.committed = outcome.position
            if let failure = outcome.failure {
                logger.error("projection stopped at an entry it cannot apply", metadata: [
                    "projection": "\(participant.kind.name)", "position": "\(failure.position)", "reason": "\(failure.reason)"])
            }
        }
    }

    /// A batch being written on another thread.
    struct PendingWrite {
        let batch: PreparedBatch
        let done: Promise<Void>
    }

    private func startWrite(_ batch: PreparedBatch) -> PendingWrite {
        PendingWrite(batch: batch, done: Promise.onNewThread { try self.commit(batch) })
    }

    /// Waits for the write in flight, if any. When it failed, every participant goes back to
    /// its last checkpoint (what was applied after it is applied again) and the error is returned.
    private func finishWrite(_ writing: inout PendingWrite?, _ participants: [Participant]) -> (any Error)? {
        guard let pending = writing else { return nil }
        writing = nil
        do {
            _ = try pending.done.wait()
            markCommitted(pending.batch)
            return nil
        } catch {
            for participant in participants { participant.reset() }
            return error
        }
    }

    private func logWriteFailure(_ error: any Error) {
        logger.error("projection batch not written; applying it again", metadata: ["error": "\(error)"])
    }

    /// What one participant made of a batch: its changes, where it got to, why it stopped.
    struct Outcome: @unchecked Sendable {
        // @unchecked: the rows' read snapshot has ended; only the changes are used after this.
        let rows: ProjectionRows
        let position: UInt64
        let failure: FailureRecord?
    }

    private func apply(_ events: [ProjectedEvent], to participant: Participant, underlay: [[RowKey: [UInt8]?]]?) throws -> Outcome {
        // The log's snapshot is taken after the rows': it holds every entry they reflect.
        try environment.read { txn in try ledger.read { log in
            var rows = ProjectionRows(transaction: txn, tables: participant.tables,
                                      log: LogSnapshot(ledger: log, reference: reference), underlay: underlay)
            var position = participant.position
            var failure: FailureRecord?
            for event in events where event.position >= position {
                rows.beginEntry()
                do {
                    try participant.instance.apply(event, to: &rows)
                    position = event.position + 1
                } catch {
                    rows.rollBackEntry()
                    failure = FailureRecord(position: event.position, reason: String(describing: error))
                    break
                }
            }
            try participant.instance.finishBatch(&rows)
            return Outcome(rows: rows, position: position, failure: failure)
        } }
    }

    /// Decodes `range` on a thread of its own.
    private func startPrefetch(_ range: Range<UInt64>) -> Prefetch {
        Prefetch(range: range, events: Promise.onNewThread { try self.decode(from: range.lowerBound, to: range.upperBound, parts: 1) })
    }

    /// The entries at positions start ..< stop, decoded in `parts` parallel parts.
    private func decode(from start: UInt64, to stop: UInt64, parts: Int) throws -> [ProjectedEvent] {
        let count = Int(stop - start)
        let decoded = Mutex<[[ProjectedEvent]]>(Array(repeating: [], count: parts))
        let errors = Mutex<[any Error]>([])
        onThreads(parts, iterations: parts) { part in
            let from = start + UInt64(count * part / parts)
            let to = start + UInt64(count * (part + 1) / parts)
            do {
                let events = try self.timed("decode") { try self.decodeRange(from..<to) }
                decoded.withLock { $0[part] = events }
            } catch {
                errors.withLock { $0.append(error) }
            }
        }
        if let error = errors.withLock({ $0.first }) { throw error }
        return decoded.withLock { $0.flatMap { $0 } }
    }

    /// The entries at the positions of `range`, decoded for applying, in one read snapshot.
    private func decodeRange(_ range: Range<UInt64>) throws -> [ProjectedEvent] {
        try ledger.read { log in
            var events: [ProjectedEvent] = []
            events.reserveCapacity(range.count)
            try log.forEachEntry(from: range.lowerBound) { view in
                guard view.position < range.upperBound else { return false }
                events.append(ProjectedEvent(view, reference: reference, detail: .applying))
                return true
            }
            return events
        }
    }

    // MARK: - Threads

    /// Runs `body` for each of `iterations` on `threads` threads (the caller's and new ones, not
    /// the global pool's: Swift's tasks, the API's handlers, run there) and returns when all are done.
    func onThreads(_ threads: Int, iterations: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let threads = max(1, min(threads, iterations))
        let next = Atomic(0)
        let work: @Sendable () -> Void = {
            while true {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < iterations else { return }
                body(index)
            }
        }
        let helpers = (1..<threads).map { _ in Promise<Void>.onNewThread(work) }
        work()
        for helper in helpers { try? helper.wait() }
    }

    private func pause(milliseconds: Int) {
        signal.withLock {
            if !shared.withLock({ $0.stopping }) { signal.wait(milliseconds: milliseconds) }
        }
    }

    private func finishThread() {
        shared.withLock { $0.threads -= 1 }
        signal.withLock { signal.broadcast() }
    }
}
