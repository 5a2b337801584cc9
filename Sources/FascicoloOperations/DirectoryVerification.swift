import FascicoloDomain
import FascicoloLedger
import FascicoloStorage
import Glibc

/// Verifies a data directory: the log (`Verifier`: every signature, hash, index and checkpoint)
/// and the domain's side tables against it (`DomainTablesCheck`).
public enum DirectoryVerification {
    /// The trusted first key a follower's directory keeps (`fascicolo standby init`, `fascicolod --follow`).
    public static let followerKeyFile = "follow.pub"

    static func trimmedFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = fread(&buffer, 1, buffer.count, file)
        var text = buffer[..<count]
        while let last = text.last, last == 0x0A || last == 0x0D || last == 0x20 { text = text.dropLast() }
        return String(decoding: text, as: UTF8.self)
    }

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
        // A follower's directory (fascicolod --follow) has no signing.pub but the trusted first
        // key in follow.pub, and holds the signed log only: the domain's side tables are the
        // primary's, not replicated.
        let follower = access(directory + "/" + followerKeyFile, F_OK) == 0
        let key = key ?? (follower ? trimmedFile(directory + "/" + followerKeyFile) : nil)
        do {
            let report = try withoutActuallyEscaping(observer) { observer in
                try Verifier.verify(directory: directory, verifierKey: key, options: options) { progress in
                    observer(.verifying(label: label, progress))
                }
            }
            observer(.verificationEnded)
            // The domain's side tables, against the log they serve.
            if follower { return Result(log: report, domain: nil) }
            IsolatedReader.report("checking the domain's side tables")
            return Result(log: report, domain: try DomainTablesCheck.verify(directory: directory))
        } catch let failure as Verifier.Failure {
            throw OperationError(.verificationFailed, "\(directory) does not verify: \(failure)", cause: failure)
        } catch {
            throw OperationError(.unreadable, "cannot verify \(directory): \(error)", cause: error)
        }
    }
}
