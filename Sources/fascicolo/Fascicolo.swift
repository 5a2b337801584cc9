import ArgumentParser

/// fascicolo — the operators' command line.
///
/// Exit status: 0 success; 1 the data failed verification; 2 the command could not run
/// (bad arguments, a missing or unreadable data directory).
@main
struct Fascicolo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fascicolo",
        abstract: "Operate and audit a Fascicolo data directory.",
        discussion: "Exit status: 0 success; 1 verification failed; 2 the command could not run.",
        subcommands: [Verify.self, Stat.self])
}
