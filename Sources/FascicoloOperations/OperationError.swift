import FascicoloLedger

/// Why an offline operation (verify, backup, restore, stat) did not do what was asked: a stable
/// code, a message for the operator (it names paths and options, never the data), the
/// underlying cause, and what the operation did about it. Equality is on the code only.
public struct OperationError: Error, CustomStringConvertible, Equatable, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        /// A directory does not verify: `cause` is the `Verifier.Failure` (with its position).
        public static let verificationFailed = Code(name: "verification_failed")
        /// A backup's signing.pub is not the verifier key given.
        public static let wrongVerifierKey = Code(name: "wrong_verifier_key")
        /// The restored copy does not hold what the backup holds.
        public static let restoredCopyIncomplete = Code(name: "restored_copy_incomplete")
        /// A key or key file given is not one, or not this log's.
        public static let invalidKey = Code(name: "invalid_key")
        /// A directory cannot serve: missing, not a directory, not empty, not readable, not creatable.
        public static let unusableDirectory = Code(name: "unusable_directory")
        /// A daemon holds the data directory.
        public static let daemonRunning = Code(name: "daemon_running")
        /// Copying or installing files failed; what was done is undone (see the message).
        public static let copyFailed = Code(name: "copy_failed")
        /// The store could not be read (or verified at all).
        public static let unreadable = Code(name: "unreadable")
    }

    public let code: Code
    public let message: String
    public let cause: (any Error)?
    /// What the operation did after the failure, for the operator ("the unverified copy was removed").
    public let aftermath: String?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, aftermath: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
        self.aftermath = aftermath
    }

    /// Whether the failure is a failed check (exit 1 on the command line) rather than an operation
    /// that could not run (exit 2).
    public var isFailedCheck: Bool {
        [.verificationFailed, .wrongVerifierKey, .restoredCopyIncomplete].contains(code)
    }

    /// The verifier's finding, for a `verificationFailed`.
    public var verificationFailure: Verifier.Failure? { cause as? Verifier.Failure }

    public var description: String { message }

    /// The same failure with `aftermath` said.
    func with(aftermath: String) -> OperationError {
        OperationError(code, message, cause: cause, aftermath: aftermath)
    }

    public static func == (left: OperationError, right: OperationError) -> Bool { left.code == right.code }
}

/// What an operation reports while it runs (the command line draws a progress line from it).
public enum OperationEvent: Sendable {
    /// A verification labelled `label` has checked this much.
    case verifying(label: String, Verifier.Progress)
    /// The verification under way ended (well or not).
    case verificationEnded
    /// `fascicolo tiles export` has gone through `done` of `total` tiles.
    case exportingTiles(done: Int, total: Int, elapsedSeconds: Double)
    /// The export ended (well or not).
    case exportEnded
}

public typealias OperationObserver = (OperationEvent) -> Void
