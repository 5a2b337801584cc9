import FascicoloDomain
import FascicoloLedger
import FascicoloProjections
import FascicoloTesting
import FascicoloWorkload
import Testing

let referenceData: ReferenceData = {
    do { return try ReferenceData.load(directory: packageDirectory() + "/Config/reference") } catch {
        preconditionFailure("the shipped reference data: \(error)")
    }
}()

let allProjections = ReadModels.all

/// A ledger and the domain layer on a temporary directory (commits without fsync: durability is
/// not what these tests are about), closed whatever happens.
func withCaseFiles<T>(_ body: (String, Ledger, CaseFiles) async throws -> T) async throws -> T {
    try await withTemporaryDirectory { directory in
        var configuration = LedgerConfiguration()
        configuration.unsafeNoSync = true
        let ledger = try Ledger.open(directory: directory, configuration: configuration)
        defer { ledger.close() }
        return try await body(directory, ledger, try CaseFiles.open(ledger: ledger, directory: directory, reference: referenceData))
    }
}

/// Applies a generated workload of `persons` persons (seed printed in failures by the caller).
func applyWorkload(_ files: CaseFiles, seed: UInt64, persons: Int) async throws {
    var generator = PathGenerator(seed: seed, persons: persons, reference: referenceData.current)
    generator.readProbability = 0.5
    try await WorkloadDriver(files: files).run(&generator)
}

func makeEngine(
    _ ledger: Ledger, _ projections: [any Projection.Type] = allProjections, batch: Int = 4_096,
    liveIntervalMilliseconds: Int? = nil, files: CaseFiles? = nil
) throws -> ProjectionEngine {
    var options = ProjectionEngine.Options()
    options.batchEntriesMax = batch
    options.buildBatchEntriesMax = batch
    if let liveIntervalMilliseconds { options.liveIntervalMilliseconds = liveIntervalMilliseconds }
    return try ProjectionEngine(
        ledger: ledger, reference: referenceData, projections: projections, options: options, personalFields: files)
}

/// Waits until `condition` holds on the engine's statuses (at most `seconds`).
func waitFor(
    _ engine: ProjectionEngine, seconds: Int = 60, _ what: String,
    _ condition: ([ProjectionStatus]) -> Bool
) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while !condition(engine.statuses()) {
        guard ContinuousClock.now < deadline else {
            Issue.record(
                "timed out waiting for \(what): \(engine.statuses().map { "\($0.name) \($0.state) \($0.position)/\($0.logSize)" })")
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// Every projection serves and has applied the whole log.
func caughtUp(_ ledger: Ledger) -> ([ProjectionStatus]) -> Bool {
    { statuses in statuses.allSatisfy { $0.state == .live && $0.build == nil && $0.position == ledger.size } }
}
