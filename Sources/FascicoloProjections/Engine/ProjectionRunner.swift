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
                backlog < UInt64(options.batchEntriesMax), !urgent()
            {
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
    func urgent() -> Bool {
        shared.withLock { $0.stopping || !$0.handovers.isEmpty || $0.positionWaiters > 0 }
    }

    /// Swaps finished builds in: one write transaction makes the new generation serve, records
    /// the rebuild, and empties the generation it replaces.
    func adoptHandovers(into participants: inout [Participant]) {
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
                logger.error(
                    "projection swap failed; the old generation keeps serving",
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
            logger.info(
                "projection generation swapped in",
                metadata: [
                    "projection": "\(name)", "slot": "\(new.slot)", "position": "\(handover.record.position)",
                    "digest": "\(handover.record.digest)", "entriesPerSecond": "\(handover.record.entriesPerSecond)",
                ])
        }
        if !handovers.isEmpty { publishLive(participants) }
    }

    func publishLive(_ participants: [Participant]) {
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
}
