import FascicoloStorage

/// Limits on what one append may carry. Every limit is enforced before anything is queued, with a
/// `LedgerError` that names the limit and the value.
public struct LedgerLimits: Sendable, Equatable {
    /// The largest payload of one event, in bytes.
    public var payloadBytesMax = 64 * 1024
    /// The most events one append may carry (they are stored atomically, in one commit).
    public var eventsPerAppendMax = 1_000
    /// The longest stream name, in bytes. Names use ASCII letters, digits and `- _ . : @`,
    /// and start with a letter or digit.
    public var streamNameBytesMax = 200
    /// The longest event type, in bytes. Types use ASCII letters, digits and `- _ .`, and start
    /// with a letter.
    public var eventTypeBytesMax = 128
    /// The longest author identity, in bytes (printable ASCII).
    public var authorBytesMax = 256
    /// The longest idempotency key, in bytes (printable ASCII, no spaces).
    public var idempotencyKeyBytesMax = 128

    public init() {}
}

/// How a ledger is opened. The defaults are the shipped configuration (`Config/fascicolod.toml`
/// documents each one).
public struct LedgerConfiguration: Sendable {
    public var limits = LedgerLimits()
    /// A checkpoint is signed after this many new entries…
    public var checkpointEveryEntries: UInt64 = 1_000
    /// …or this long after the first entry not yet covered by one, whichever comes first.
    public var checkpointEveryMilliseconds: Int = 1_000
    /// The most events the writer puts in one group commit; more wait for the next one.
    public var commitEventsMax = 10_000
    /// The checkpoint origin and signing key name, fixed when the data directory is created
    /// (later values are ignored). It should name this log uniquely, like a URL without scheme.
    public var origin = "fascicolo.invalid/ledger"
    /// The initial LMDB map size; the map doubles by itself when full.
    public var mapSizeBytes = 64 << 20
    /// After a failed commit (EIO, ENOSPC), appends are refused (503 `storage_unavailable`) for
    /// this long before writes are tried again; the wait doubles after each failure, up to 20×.
    public var commitRetryMilliseconds: UInt64 = 250
    /// Why `origin` cannot name a log, or nil when it can: it becomes the first line of every
    /// checkpoint and the signing key's name, so it is printable ASCII without spaces or `+`.
    public static func originProblem(_ origin: String) -> String? {
        let bytes = Array(origin.utf8)
        guard !bytes.isEmpty, bytes.count <= 200 else { return "an origin is 1 to 200 bytes" }
        guard bytes.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "+") }) else {
            return "an origin is printable ASCII without spaces or '+'"
        }
        return nil
    }

    /// Appends acknowledged only once followers hold them (`[replication] synchronous_*`).
    public var synchronousReplication = SynchronousReplication()

    /// Skips fsync on commit. Only for tests of logic on throwaway data: never for real data.
    public var unsafeNoSync = false

    /// The commit journal (`storage.journal`, docs/benchmarks.md "One flush per commit"): each
    /// commit is flushed once, in `data.journal`, and LMDB's own file at journal checkpoints.
    /// Off: LMDB's durable commit (two flushes).
    public var journal = false
    /// The journal's size and checkpoint interval, when it is on.
    public var journalOptions = Environment.JournalOptions()

    public init() {}
}
