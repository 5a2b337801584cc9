import FascicoloConcurrency
import FascicoloCrypto
import FascicoloDomain
import FascicoloLedger
import FascicoloStorage
import Glibc
import Logging
import Synchronization

extension ProjectionEngine {
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
    func prepareBatch(
        _ participants: [Participant], end: UInt64, limit: Int, decoded: [ProjectedEvent]?,
        underlay: PreparedBatch?
    ) throws -> PreparedBatch? {
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

    func write(_ batch: PreparedBatch) throws {
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
                logger.error(
                    "projection stopped at an entry it cannot apply",
                    metadata: [
                        "projection": "\(participant.kind.name)", "position": "\(failure.position)", "reason": "\(failure.reason)",
                    ])
            }
        }
    }

    /// A batch being written on another thread.
    struct PendingWrite {
        let batch: PreparedBatch
        let done: Promise<Void>
    }

    func startWrite(_ batch: PreparedBatch) -> PendingWrite {
        PendingWrite(batch: batch, done: Promise.onNewThread { try self.commit(batch) })
    }

    /// Waits for the write in flight, if any. When it failed, every participant goes back to
    /// its last checkpoint (what was applied after it is applied again) and the error is returned.
    func finishWrite(_ writing: inout PendingWrite?, _ participants: [Participant]) -> (any Error)? {
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

    func logWriteFailure(_ error: any Error) {
        logger.error("projection batch not written; applying it again", metadata: ["error": "\(error)"])
    }

    /// What one participant made of a batch: its changes, where it got to, why it stopped.
    struct Outcome: @unchecked Sendable {
        // @unchecked: the rows' read snapshot has ended; only the changes are used after this.
        let rows: ProjectionRows
        let position: UInt64
        let failure: FailureRecord?
    }

    func apply(_ events: [ProjectedEvent], to participant: Participant, underlay: [[RowKey: [UInt8]?]]?) throws -> Outcome {
        // The log's snapshot is taken after the rows': it holds every entry they reflect.
        try environment.read { txn in
            try ledger.read { log in
                var rows = ProjectionRows(
                    transaction: txn, tables: participant.tables,
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
            }
        }
    }

    /// Decodes `range` on a thread of its own.
    func startPrefetch(_ range: Range<UInt64>) -> Prefetch {
        Prefetch(range: range, events: Promise.onNewThread { try self.decode(from: range.lowerBound, to: range.upperBound, parts: 1) })
    }

    /// The entries at positions start ..< stop, decoded in `parts` parallel parts.
    func decode(from start: UInt64, to stop: UInt64, parts: Int) throws -> [ProjectedEvent] {
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
    func decodeRange(_ range: Range<UInt64>) throws -> [ProjectedEvent] {
        try ledger.read { log in
            var events: [ProjectedEvent] = []
            events.reserveCapacity(range.count)
            try log.forEachEntry(from: range.lowerBound) { view in
                guard view.position < range.upperBound else { return false }
                var event = ProjectedEvent(view, reference: reference, detail: .applying)
                // In this snapshot: the person's key is gone exactly when their erasure is in it.
                if let personalFields, event.opensPersonalFields, case .person(let person) = event.subject,
                    let sealed = event.payload?.sealed
                {
                    event.personal = try personalFields.personalFields(of: person, type: event.type, sealed: sealed, in: log)
                }
                events.append(event)
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

    func pause(milliseconds: Int) {
        signal.withLock {
            if !shared.withLock({ $0.stopping }) { signal.wait(milliseconds: milliseconds) }
        }
    }

    func finishThread() {
        shared.withLock { $0.threads -= 1 }
        signal.withLock { signal.broadcast() }
    }
}
