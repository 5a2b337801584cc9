import FascicoloDomain
import FascicoloLedger
import FascicoloStorage

/// Verifies a data directory: the log (`Verifier`: every signature, hash, index and checkpoint)
/// and the domain's side tables against it (`DomainTablesCheck`).
public enum DirectoryVerification {
    public struct Result: Sendable {
        public let log: Verifier.Report
        /// Nil for a log without the domain's tables.
        public let domain: DomainTablesCheck.Report?
    }

    /// A failed check throws `verificationFailed` (its cause the `Verifier.Failure`); a directory
    /// that cannot be verified at all throws `unreadable`. `label` names the verification in the
    /// progress events.
    public static func run(
        _ directory: String, key: String?, options: Verifier.Options = Verifier.Options(), label: String,
        observer: OperationObserver = { _ in }
    ) throws(OperationError) -> Result {
        defer { observer(.verificationEnded) }
        do {
            let report = try withoutActuallyEscaping(observer) { observer in
                try Verifier.verify(directory: directory, verifierKey: key, options: options) { progress in
                    observer(.verifying(label: label, progress))
                }
            }
            observer(.verificationEnded)
            // The domain's side tables, against the log they serve.
            IsolatedReader.report("checking the domain's side tables")
            return Result(log: report, domain: try DomainTablesCheck.verify(directory: directory))
        } catch let failure as Verifier.Failure {
            throw OperationError(.verificationFailed, "\(directory) does not verify: \(failure)", cause: failure)
        } catch {
            throw OperationError(.unreadable, "cannot verify \(directory): \(error)", cause: error)
        }
    }
}
