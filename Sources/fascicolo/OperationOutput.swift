import ArgumentParser
import FascicoloOperations

/// The command line's side of the offline operations (FascicoloOperations): their progress as a
/// line on the terminal, their failures as the commands print them.
enum OperationOutput {
    /// Draws a verification's progress line (only on a terminal).
    static func show(_ event: OperationEvent) {
        switch event {
        case .verifying(let label, let progress):
            Terminal.progress(
                Terminal.progressLine(
                    label: label, done: progress.entriesChecked,
                    total: progress.entriesTotal, elapsedSeconds: progress.elapsedSeconds))
        case .exportingTiles(let done, let total, let elapsedSeconds):
            Terminal.progress(
                Terminal.progressLine(label: "tiles", done: UInt64(done), total: UInt64(total), elapsedSeconds: elapsedSeconds))
        case .verificationEnded, .exportEnded:
            Terminal.endProgress()
        }
    }

    /// Prints a failure — a failed check as `FAILED: …` (or, for a verification with --json, its
    /// JSON on standard output), anything else as `error: …` — and returns the exit status.
    static func report(_ error: OperationError, json: Bool) -> ExitCode {
        Terminal.endProgress()
        switch error.code {
        case .verificationFailed:
            if json, let failure = error.verificationFailure {
                let position = failure.position.map { "\($0)" } ?? "null"
                Terminal.out("{\"ok\":false,\"position\":\(position),\"problem\":\(jsonString(failure.problem))}")
            } else {
                Terminal.out("FAILED: \(error.message)")
            }
        case .restoredCopyIncomplete:
            Terminal.out("FAILED: \(error.message)")
        case .wrongVerifierKey:
            Terminal.error("FAILED: \(error.message)")
        default:
            Terminal.error("error: \(error.message)")
        }
        if let aftermath = error.aftermath { Terminal.error(aftermath) }
        return error.isFailedCheck ? Exit.failed : Exit.couldNotRun
    }
}
