import ArgumentParser

/// fascicolo-bench — benchmarks that print their figures (never timed assertions), and the
/// workload driver the crash tests run and kill.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fascicolo-bench",
        abstract: "Benchmarks and load generators for Fascicolo.",
        subcommands: [
            LedgerBenchmark.self, SocketBenchmark.self, DomainBenchmark.self, ProjectionBenchmark.self, AppendBodyBenchmark.self,
            StreamHeadsBenchmark.self, ExportBenchmark.self, WitnessBenchmark.self, WitnessedBenchmark.self, RotationBenchmark.self,
            RetentionBenchmark.self, VersusPostgresBenchmark.self, ReplicationBenchmark.self, Appender.self,
            FailoverBenchmark.self,
        ])
}
