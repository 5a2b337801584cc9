import FascicoloConcurrency
import FascicoloCrypto
import FascicoloDomain
import FascicoloLedger
import FascicoloStorage
import Glibc
import Logging
import Synchronization

/// Runs the projections: follows the log in the background, (re)builds generations, and
/// answers queries from the generation that serves.
///
/// Threads: one live runner applies new entries to every serving generation, in batches (one
/// read of the log and one decode per entry for all projections, one write transaction per
/// batch holding every projection's rows and checkpoint). Each (re)build runs on a thread of
/// its own into the other generation, then hands its projection to the live runner, which
/// swaps it in atomically (one write transaction). Neither ever holds back an append: the rows
/// live in an LMDB environment of their own (`<data>/projections`), so their writes and syncs
/// never take the log's write lock, and LMDB readers never block a writer.
public final class ProjectionEngine: Sendable {
    public let ledger: Ledger
    /// The projections' own environment: control rows, checkpoints and read-model rows. Not
    /// part of the signed log, nor of a backup: every row can be rebuilt from the log.
    public let environment: Environment
    let reference: ReferenceData
    let kinds: [any Projection.Type]
    let control: Table
    /// Per projection name, per generation: its tables, in declared order.
    let tables: [String: [Slot: [Table]]]
    let options: Options
    /// Opens the personal fields a read model keeps while the person is not erased (the
    /// household id); without it those read models see only fields in clear.
    let personalFields: (any PersonalFieldOpener)?
    let logger: Logger
    let shared = Mutex(Shared())
    /// Wakes the runners (new entries, a handover, stop) and lets `stop` wait for them.
    let signal = ConditionLock()
    /// Notified when the statuses change: wakes the queries waiting for a position.
    let statusChanged = ChangeSignal()

    public struct Options: Sendable {
        /// Entries the live runner applies per write transaction (bounds its memory).
        public var batchEntriesMax = 4_096
        /// The live runner writes at most one batch per this many milliseconds (0: one per
        /// group commit), unless a full batch (`batchEntriesMax`) is waiting or a query waits
        /// for a position. Each write is a durable LMDB commit: two syncs on the log's disk.
        public var liveIntervalMilliseconds = 50
        /// The same for (re)builds. Larger: each batch rewrites the B-tree pages its rows fall
        /// on, and rows of a log replayed in order fall everywhere, so a build writes less in
        /// fewer, larger transactions (see `build_batch_entries_max` in Config/fascicolod.toml).
        public var buildBatchEntriesMax = 131_072
        public init() {}
    }

    struct Shared {
        var statuses: [String: ProjectionStatus] = [:]
        var handovers: [Handover] = []
        var building: Set<String> = []
        var stopping = false
        var threads = 0
        var commitWatcher: Task<Void, Never>?
        /// Queries waiting for a position (read-your-writes): the live runner does not pause.
        var positionWaiters = 0
        /// CPU seconds spent per phase since the engine was made (see `cpuSecondsByPhase`).
        var cpuSeconds: [String: Double] = [:]
    }

    /// The CPU time (of the threads doing it) the engine has spent, by phase, since it was
    /// made: `decode`, `apply <projection>`, `write` — where a rebuild's time goes.
    public func cpuSecondsByPhase() -> [(phase: String, seconds: Double)] {
        shared.withLock { $0.cpuSeconds.sorted { $0.key < $1.key }.map { (phase: $0.key, seconds: $0.value) } }
    }

    /// Runs `work`, adding the CPU time of the calling thread it took to `phase`.
    func timed<T>(_ phase: String, _ work: () throws -> T) rethrows -> T {
        let start = Self.threadCPUSeconds()
        defer {
            let spent = Self.threadCPUSeconds() - start
            shared.withLock { $0.cpuSeconds[phase, default: 0] += spent }
        }
        return try work()
    }

    private static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// The projections' environment inside a data directory.
    public static func directory(in dataDirectory: String) -> String { dataDirectory + "/projections" }

    /// Opens (creating) the projections' environment and every projection's tables; `start`
    /// begins the work.
    public init(
        ledger: Ledger, reference: ReferenceData, projections: [any Projection.Type], options: Options = Options(),
        personalFields: (any PersonalFieldOpener)? = nil, logger: Logger = Logger(label: "fascicolo.projections")
    ) throws {
        self.personalFields = personalFields
        let names = projections.map { $0.name }
        precondition(Set(names).count == names.count, "projection names are unique")
        precondition(!names.contains { $0.contains("/") }, "projection names have no / (control keys use it)")
        self.ledger = ledger
        self.reference = reference
        self.kinds = projections
        self.options = options
        self.logger = logger
        let path = Self.directory(in: ledger.directory)
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
            throw StorageError(code: .init(errno), operation: "create the projections directory \(path)")
        }
        var environmentOptions = Environment.Options()
        environmentOptions.unsafeNoSync = ledger.configuration.unsafeNoSync
        environment = try Environment(path: path, options: environmentOptions)
        try Self.dropEarlierLayout(from: ledger, logger: logger)
        (control, tables) = try environment.write { txn in
            let control = try txn.createTable("projections")
            var tables: [String: [Slot: [Table]]] = [:]
            for kind in projections {
                for slot in Slot.allCases {
                    tables[kind.name, default: [:]][slot] = try kind.tables.map {
                        try txn.createTable("projection/\(kind.name)/\(slot.rawValue)/\($0)")
                    }
                }
            }
            return (control, tables)
        }
    }

    /// Reads where every projection stands, starts the live runner, and starts a build for each
    /// projection that has no generation of its current version (first start, or a new version),
    /// and resumes builds a stop interrupted.
    public func start() throws {
        var live: [Participant] = []
        var builds: [(Participant, BuildingRecord)] = []
        var statuses: [String: ProjectionStatus] = [:]
        let logSize = ledger.size
        try environment.write { txn in
            // This may run twice (a write that fills the map runs again): start from nothing.
            live = []
            builds = []
            statuses = [:]
            try resetIfBuiltFromAnotherLog(logSize: logSize, in: txn)
            for kind in kinds {
                let active = ActiveRecord(try txn.get(control, key: ControlKey.active(kind.name)))
                let building = BuildingRecord(try txn.get(control, key: ControlKey.building(kind.name)))
                let rebuilt = RebuildRecord(try txn.get(control, key: ControlKey.rebuilt(kind.name)))
                var status = ProjectionStatus(name: kind.name, version: kind.version)
                status.lastRebuild = rebuilt
                if let active, active.version == kind.version {
                    let checkpoint = CheckpointRecord(try txn.get(control, key: ControlKey.checkpoint(kind.name, active.slot)))
                    // A failure is tried again at start: it may have been a full disk, or fixed by an upgrade.
                    let participant = Participant(
                        kind: kind, slot: active.slot, tables: tables[kind.name]![active.slot]!,
                        position: checkpoint?.position ?? 0)
                    live.append(participant)
                    status.servingSlot = active.slot
                    status.position = participant.position
                    status.state = .live
                }
                if let building, building.version == kind.version, building.slot != active?.slot {
                    let checkpoint = CheckpointRecord(try txn.get(control, key: ControlKey.checkpoint(kind.name, building.slot)))
                    let participant = Participant(
                        kind: kind, slot: building.slot, tables: tables[kind.name]![building.slot]!,
                        position: checkpoint?.version == kind.version ? checkpoint?.position ?? 0 : 0)
                    if participant.position == 0 { try Self.reset(participant, control: control, in: txn) }
                    builds.append((participant, building))
                } else if active?.version != kind.version {
                    let slot = active?.slot.other ?? .a
                    let participant = Participant(kind: kind, slot: slot, tables: tables[kind.name]![slot]!, position: 0)
                    let record = BuildingRecord(slot: slot, version: kind.version, startedAt: ledger.wallClock.timestamp)
                    try txn.put(control, key: ControlKey.building(kind.name), value: record.bytes)
                    try Self.reset(participant, control: control, in: txn)
                    builds.append((participant, record))
                }
                if active?.version != kind.version { status.state = .building }
                statuses[kind.name] = status
            }
        }
        shared.withLock { shared in
            shared.statuses = statuses
            shared.threads += builds.isEmpty ? 1 : 2
            for (participant, _) in builds { shared.building.insert(participant.kind.name) }
        }
        for (participant, _) in builds {
            logger.info(
                "projection build",
                metadata: [
                    "projection": "\(participant.kind.name)", "slot": "\(participant.slot)",
                    "from": "\(participant.position)",
                ])
        }
        // One thread builds them all: each entry is read and decoded once for every projection.
        if !builds.isEmpty { startBuildThread(builds) }
        // The live runner's thread takes the participants over.
        let liveParticipants = UnsafeTransfer(live)
        startThread { self.runLive(liveParticipants.value) }
        watchCommits()
    }

    /// Stops the runners after their current batch, waits for them, and closes the projections'
    /// environment: no query may run after this. Builds resume from their checkpoint at the next
    /// start.
    public func stop() {
        let watcher = shared.withLock { shared in
            shared.stopping = true
            return shared.commitWatcher
        }
        watcher?.cancel()
        // Each runner's last act is to count itself out and broadcast, under `signal`.
        signal.withLock {
            signal.broadcast()
            while shared.withLock({ $0.threads }) > 0 { signal.wait() }
        }
        environment.close()
    }

    /// Empties every table when the rows were not built from this log: the control table names
    /// another log's verifier key (a data directory assembled from two), or a checkpoint lies
    /// beyond the log's end (a log restored from an older backup). Everything then rebuilds.
    private func resetIfBuiltFromAnotherLog(logSize: UInt64, in txn: WriteTransaction) throws {
        let logKey = Array(ledger.verifierKey.utf8)
        let recordedKey = try txn.get(control, key: ControlKey.log)
        let beyondTheLog = try kinds.contains { kind in
            try Slot.allCases.contains { slot in
                (CheckpointRecord(try txn.get(control, key: ControlKey.checkpoint(kind.name, slot)))?.position ?? 0) > logSize
            }
        }
        guard recordedKey != logKey || beyondTheLog else { return }
        if recordedKey != nil {
            logger.warning("projection rows were built from another log, or from a longer one; rebuilding them all")
        }
        try txn.empty(control)
        for generations in tables.values { for slotTables in generations.values { for table in slotTables { try txn.empty(table) } } }
        try txn.put(control, key: ControlKey.log, value: logKey)
    }

    /// Before the projections had their own environment, their tables lived in the log's: those
    /// are dropped (the rows are rebuilt here).
    private static func dropEarlierLayout(from ledger: Ledger, logger: Logger) throws {
        let dropped = try ledger.dropSideTables { $0 == "projections" || $0.hasPrefix("projection/") }
        guard dropped > 0 else { return }
        logger.notice("projection tables of the earlier layout dropped from the log's environment", metadata: ["tables": "\(dropped)"])
    }

    /// Starts a rebuild of `name` from position 0 into its other generation; the serving one
    /// answers queries until the new one has caught up and is swapped in.
    public func rebuild(_ name: String) throws(ProjectionError) {
        guard let kind = kinds.first(where: { $0.name == name }) else { throw .unknown(name) }
        let claimed = shared.withLock { shared in
            guard !shared.stopping, shared.building.insert(name).inserted else { return false }
            shared.threads += 1
            return true
        }
        guard claimed else { throw .rebuildInProgress(name) }
        do {
            let (participant, record) = try environment.write { txn in
                let active = ActiveRecord(try txn.get(control, key: ControlKey.active(name)))
                let slot = active?.slot.other ?? .a
                let participant = Participant(kind: kind, slot: slot, tables: tables[name]![slot]!, position: 0)
                let record = BuildingRecord(slot: slot, version: kind.version, startedAt: ledger.wallClock.timestamp)
                try txn.put(control, key: ControlKey.building(name), value: record.bytes)
                try Self.reset(participant, control: control, in: txn)
                return (participant, record)
            }
            logger.info("projection rebuild requested", metadata: ["projection": "\(name)", "slot": "\(participant.slot)"])
            startBuildThread([(participant, record)])
        } catch {
            shared.withLock { shared in
                shared.building.remove(name)
                shared.threads -= 1
            }
            throw .storage(error)
        }
    }

    /// Where each projection stands (lag is measured against the log's current size).
    public func statuses() -> [ProjectionStatus] {
        let size = ledger.size
        let statuses = shared.withLock { $0.statuses }
        return kinds.compactMap { kind in
            guard var status = statuses[kind.name] else { return nil }
            status.logSize = size
            return status
        }
    }

    public func status(_ name: String) throws(ProjectionError) -> ProjectionStatus {
        guard let status = statuses().first(where: { $0.name == name }) else { throw .unknown(name) }
        return status
    }

    /// The digest of the serving generation's rows now, and the position they reflect.
    public func digest(_ name: String) throws(ProjectionError) -> (digest: Digest, position: UInt64) {
        guard let kind = kinds.first(where: { $0.name == name }) else { throw .unknown(name) }
        do {
            return try environment.read { txn in
                guard let active = ActiveRecord(try txn.get(control, key: ControlKey.active(name))),
                    let checkpoint = CheckpointRecord(try txn.get(control, key: ControlKey.checkpoint(name, active.slot)))
                else {
                    throw ProjectionError.notBuilt(name)
                }
                let digest = try ProjectionDigest.compute(
                    name: name, version: active.version, tableNames: kind.tables,
                    tables: tables[name]![active.slot]!, in: txn)
                return (digest, checkpoint.position)
            }
        } catch let error as ProjectionError {
            throw error
        } catch {
            throw .storage(error)
        }
    }

    /// Runs `body` on the serving generation of `name`, in one read snapshot of its rows and a
    /// snapshot of the log taken after it (so the log holds every entry the rows reflect). With
    /// `reflecting`, first waits (at most `timeout`) until the entry at that position has been applied.
    public func query<T>(
        _ name: String, reflecting position: UInt64? = nil, timeout: Duration = .seconds(5),
        _ body: (ProjectionView) throws -> T
    ) async throws -> T {
        guard let kind = kinds.first(where: { $0.name == name }) else { throw ProjectionError.unknown(name) }
        if let position { try await wait(for: name, toApply: position, timeout: timeout) }
        return try environment.read { txn in
            guard let active = ActiveRecord(try txn.get(control, key: ControlKey.active(name))), active.version == kind.version,
                let checkpoint = CheckpointRecord(try txn.get(control, key: ControlKey.checkpoint(name, active.slot)))
            else {
                throw ProjectionError.notBuilt(name)
            }
            return try ledger.read { log in
                try body(
                    ProjectionView(
                        transaction: txn, tables: tables[name]![active.slot]!, position: checkpoint.position,
                        log: LogSnapshot(ledger: log, reference: reference)))
            }
        }
    }

    private func wait(for name: String, toApply position: UInt64, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        shared.withLock { $0.positionWaiters += 1 }
        defer { shared.withLock { $0.positionWaiters -= 1 } }
        signal.withLock { signal.broadcast() }
        while true {
            let seen = statusChanged.generation
            let status = try self.status(name)
            if status.state != .building && status.position > position { return }
            if let failure = status.failure, failure.position <= position { throw ProjectionError.failed(name, failure) }
            // A position the log does not hold yet is answered at once: waiting for it would hold
            // the request, and keep the live runner writing small batches, for the whole timeout.
            guard ContinuousClock.now < deadline, position < ledger.size else {
                throw status.state == .building
                    ? ProjectionError.notBuilt(name) : ProjectionError.behind(name, applied: status.position, wanted: position)
            }
            // Woken by the runner's next published status, or at the deadline.
            await statusChanged.wait(after: seen, timeout: deadline - ContinuousClock.now)
            try Task.checkCancellation()
        }
    }

    /// Empties a generation and sets its checkpoint to 0, for a build from the start.
    static func reset(_ participant: Participant, control: Table, in txn: WriteTransaction) throws {
        for table in participant.tables { try txn.empty(table) }
        let checkpoint = CheckpointRecord(version: participant.kind.version, position: 0, failure: nil)
        try txn.put(control, key: ControlKey.checkpoint(participant.kind.name, participant.slot), value: checkpoint.bytes)
    }

    /// Wakes the live runner when entries commit.
    private func watchCommits() {
        let task = Task.detached { [self] in
            var seen = ledger.size
            while !Task.isCancelled {
                let size = await ledger.waitForEntries(beyond: seen)
                guard size > seen else { return }  // the ledger closed (or the task was cancelled)
                seen = size
                signal.withLock { signal.broadcast() }
            }
        }
        shared.withLock { $0.commitWatcher = task }
    }
}

/// A serving generation, as a query sees it: one read snapshot.
public struct ProjectionView {
    /// The snapshot of the projections' environment.
    public let transaction: ReadTransaction
    public let tables: [Table]
    /// Entries applied: every position below this one.
    public let position: UInt64
    /// The log in the same snapshot, for rows that point at entries.
    public let log: LogSnapshot
}

public struct ProjectionStatus: Sendable {
    public enum State: String, Sendable {
        /// A generation serves and follows the log.
        case live
        /// No generation of the current version yet: queries wait for the build.
        case building
        /// The serving generation stopped at an entry it could not apply; it still answers,
        /// as of that position.
        case failed
    }

    public let name: String
    public let version: Int
    public var state = State.building
    public var servingSlot: Slot?
    /// Entries the serving generation has applied (all positions below this one).
    public var position: UInt64 = 0
    public var failure: FailureRecord?
    public var build: BuildProgress?
    public var lastRebuild: RebuildRecord?
    /// The log's size when the status was taken.
    public var logSize: UInt64 = 0

    /// Entries committed to the log that the serving generation has not applied yet.
    public var lag: UInt64 { logSize > position ? logSize - position : 0 }

    init(name: String, version: Int) {
        self.name = name
        self.version = version
    }
}

public struct BuildProgress: Sendable {
    public let slot: Slot
    public var position: UInt64
    public let startedAt: String
    public var entriesPerSecond: Int
    public var failure: FailureRecord?
}

/// Why a read model could not be served or rebuilt: a stable `code`, a description that names
/// projections and positions (never a person), and for `.storage` the error itself, so that
/// callers ask `isDamaged` rather than read the message.
public enum ProjectionError: Error, Sendable, CustomStringConvertible {
    case unknown(String)
    case notBuilt(String)
    case rebuildInProgress(String)
    case failed(String, FailureRecord)
    case behind(String, applied: UInt64, wanted: UInt64)
    case storage(any Error)

    public var code: String {
        switch self {
        case .unknown: "projection_not_found"
        case .notBuilt: "projection_building"
        case .rebuildInProgress: "rebuild_in_progress"
        case .failed: "projection_failed"
        case .behind: "projection_behind"
        case .storage: "storage_error"
        }
    }

    public var description: String {
        switch self {
        case .unknown(let name): "no projection is named \(name)"
        case .notBuilt(let name): "projection \(name) is being built; no generation of its current version serves yet"
        case .rebuildInProgress(let name): "projection \(name) is already being rebuilt"
        case .failed(let name, let failure): "projection \(name) stopped at position \(failure.position): \(failure.reason)"
        case .behind(let name, let applied, let wanted):
            "projection \(name) has applied entries below \(applied) and did not reach position \(wanted) in time"
        case .storage(let cause): "storage error: \(cause)"
        }
    }

    /// Whether a stored row or the file is damaged (`DamagedData`, or LMDB finding its file
    /// inconsistent), as opposed to a store that refuses work.
    public var isDamaged: Bool {
        guard case .storage(let cause) = self else { return false }
        if cause is DamagedData { return true }
        return (cause as? StorageError)?.code.meansDamagedData ?? false
    }
}
