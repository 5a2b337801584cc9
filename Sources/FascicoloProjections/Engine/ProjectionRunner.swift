import FascicoloCrypto
import FascicoloDomain
import FascicoloLedger
import FascicoloStorage
import Glibc
import Logging

/// One projection instance bound to one generation, owned by the runner thread applying it.
final class Participant {
    let kind: any Projection.Type
    var instance: any Projection
    let slot: Slot
    let tables: [Table]
    /// The next position to apply.
    var position: UInt64
    var failure: FailureRecord?

    init(kind: any Projection.Type, slot: Slot, tables: [Table], position: UInt64) {
        self.kind = kind
        self.instance = kind.init()
        self.slot = slot
        self.tables = tables
        self.position = position
    }
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
        while !shared.withLock({ $0.stopping }) {
            adoptHandovers(into: &participants)
            let end = ledger.size
            guard participants.contains(where: { $0.failure == nil && $0.position < end }) else {
                signal.withLock {
                    if !shared.withLock({ $0.stopping || !$0.handovers.isEmpty }) && ledger.size == end { signal.wait(milliseconds: 200) }
                }
                continue
            }
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
                try ledger.store.environment.write { txn in
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
    }

    // MARK: - Builds

    func startBuildThread(_ participant: Participant, record: BuildingRecord) {
        let started = record.startedAt
        shared.withLock { shared in
            shared.statuses[participant.kind.name]?.build = BuildProgress(
                slot: participant.slot, position: participant.position, startedAt: started, entriesPerSecond: 0, failure: nil)
        }
        let transfer = UncheckedTransfer(participant)
        startThread { self.runBuild(transfer.value, startedAt: started) }
    }

    /// Applies the whole log to a fresh generation, then hands it to the live runner. A stop
    /// leaves the build where it is (its checkpoint and the `building` record resume it).
    private func runBuild(_ participant: Participant, startedAt: String) {
        let name = participant.kind.name
        let clock = ContinuousClock()
        let began = clock.now
        let firstPosition = participant.position
        var lastLog = began
        while !shared.withLock({ $0.stopping }) {
            let end = ledger.size
            if participant.position >= end {
                finishBuild(participant, startedAt: startedAt,
                            rate: Self.rate(participant.position - firstPosition, since: began, clock: clock))
                break
            }
            do {
                try applyBatch([participant], end: end)
            } catch {
                logger.error("projection build batch not written; retrying", metadata: ["projection": "\(name)", "error": "\(error)"])
                pause(milliseconds: 1_000)
            }
            let rate = Self.rate(participant.position - firstPosition, since: began, clock: clock)
            shared.withLock { shared in
                shared.statuses[name]?.build?.position = participant.position
                shared.statuses[name]?.build?.entriesPerSecond = rate
                shared.statuses[name]?.build?.failure = participant.failure
            }
            if let failure = participant.failure {
                logger.error("projection build stopped at an entry it cannot apply", metadata: [
                    "projection": "\(name)", "position": "\(failure.position)", "reason": "\(failure.reason)"])
                _ = shared.withLock { $0.building.remove(name) }
                break
            }
            if clock.now - lastLog > .seconds(5) {
                lastLog = clock.now
                logger.info("projection build progress", metadata: [
                    "projection": "\(name)", "position": "\(participant.position)", "logSize": "\(end)", "entriesPerSecond": "\(rate)"])
            }
        }
        finishThread()
    }

    /// Records the digest of what the build produced and hands it over.
    private func finishBuild(_ participant: Participant, startedAt: String, rate: Int) {
        let name = participant.kind.name
        do {
            let position = participant.position
            let digest = try ledger.store.environment.read { txn in
                try ProjectionDigest.compute(name: name, version: participant.kind.version, tableNames: participant.kind.tables,
                                             tables: participant.tables, in: txn)
            }
            let checkpoint = try ledger.latestCheckpoint()
            let record = RebuildRecord(
                version: participant.kind.version, position: position, digest: digest.hex,
                logRoot: try ledger.root(size: position).hex, checkpointSize: checkpoint?.size, checkpointRoot: checkpoint?.root.hex,
                startedAt: startedAt, finishedAt: Timestamp.now(), entriesPerSecond: rate)
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
    /// `batchEntriesMax`), each decoded once, to every participant whose turn it is; then writes
    /// every participant's changes and checkpoint in one transaction. A participant that throws
    /// stops before that entry (its failure is in the same checkpoint); the others go on.
    func applyBatch(_ participants: [Participant], end: UInt64) throws {
        let active = participants.filter { $0.failure == nil && $0.position < end }
        guard let start = active.map(\.position).min() else { return }
        let stop = min(end, start + UInt64(options.batchEntriesMax))
        var rows: [ProjectionRows] = []
        var positions = active.map(\.position)
        var failures = [FailureRecord?](repeating: nil, count: active.count)
        try ledger.store.environment.read { txn in
            let log = LogSnapshot(transaction: txn, store: ledger.store, reference: reference)
            rows = active.map { ProjectionRows(transaction: txn, tables: $0.tables, log: log) }
            try txn.withCursor(ledger.store.entries) { cursor in
                var record = try cursor.seek(atOrAfter: BigEndian.bytes(start))
                while let current = record {
                    let view = try EntryView(record: current.value)
                    guard view.position < stop else { break }
                    var event: ProjectedEvent?
                    for index in active.indices where failures[index] == nil && positions[index] == view.position {
                        let decoded = event ?? ProjectedEvent(view, reference: reference)
                        event = decoded
                        rows[index].beginEntry()
                        do {
                            try active[index].instance.apply(decoded, to: &rows[index])
                            positions[index] = view.position + 1
                        } catch {
                            rows[index].rollBackEntry()
                            failures[index] = FailureRecord(position: view.position, reason: String(describing: error))
                        }
                    }
                    record = try cursor.next()
                }
            }
        }
        do {
            try ledger.store.environment.write { txn in
                for (index, participant) in active.enumerated() {
                    try rows[index].write(to: txn)
                    let checkpoint = CheckpointRecord(version: participant.kind.version, position: positions[index], failure: failures[index])
                    try txn.put(control, key: ControlKey.checkpoint(participant.kind.name, participant.slot), value: checkpoint.bytes)
                }
            }
        } catch {
            // The instances have moved past what is stored: start them afresh from their rows.
            for participant in active { participant.instance = participant.kind.init() }
            throw error
        }
        for (index, participant) in active.enumerated() {
            participant.position = positions[index]
            participant.failure = failures[index]
            if let failure = failures[index] {
                logger.error("projection stopped at an entry it cannot apply", metadata: [
                    "projection": "\(participant.kind.name)", "position": "\(failure.position)", "reason": "\(failure.reason)"])
            }
        }
    }

    // MARK: - Threads

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
