import AsyncHTTPClient
import FascicoloCrypto
import FascicoloLedger
import FascicoloServer
import FascicoloWitness
import Logging
import Metrics
import NIOCore
import ServiceLifecycle

/// A witness the daemon submits its checkpoints to: one item of `witnesses.list`,
/// `"<cosignature vkey> <base URL>"` (the URL of the witness's tlog-witness API, e.g.
/// `http://127.0.0.1:7380`; `add-checkpoint` is appended to it).
public struct WitnessEndpoint: Sendable, Equatable {
    public let verifierKey: String
    public let name: String
    public let publicKey: PublicKey
    public let url: String

    public static func parse(_ item: String) -> WitnessEndpoint? {
        let parts = item.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, let key = WitnessKey.parseVerifierKey(String(parts[0])) else { return nil }
        var url = String(parts[1])
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.utf8.count <= 500,
            url.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        else { return nil }
        while url.hasSuffix("/") { url.removeLast() }
        return WitnessEndpoint(verifierKey: String(parts[0]), name: key.name, publicKey: key.publicKey, url: url)
    }
}

/// Submits every new checkpoint to each configured witness (C2SP tlog-witness `add-checkpoint`),
/// with the consistency proof from the size that witness last cosigned, and keeps the
/// cosignatures it returns (`WitnessCosignatures`, served with the checkpoints). Off the append
/// path: one task per witness, so a witness that is down or slow delays only its own
/// cosignatures, never an append. Failures are retried with a doubling delay (1 s to 60 s).
///
/// The size a witness last cosigned is learnt from the witness itself: the first submission
/// after a start says `old 0`, and a witness that knows the log answers 409 with its size
/// (`text/x.tlog.size`), which the next submission proves consistency from. A witness that
/// reports a size *larger* than the log's latest checkpoint has cosigned a checkpoint this log
/// does not have — a restored old backup, or another log under this origin and key: that is
/// logged as an error and counted, and the witness keeps refusing until the log catches up.
final class WitnessSubmitter: Service {
    let ledger: Ledger
    let witnesses: [WitnessEndpoint]
    let cosignatures: WitnessCosignatures
    let http: HTTPClient
    let timeout: TimeAmount
    let logger: Logger

    init(
        ledger: Ledger, witnesses: [WitnessEndpoint], cosignatures: WitnessCosignatures, http: HTTPClient,
        timeout: TimeAmount, logger: Logger
    ) {
        self.ledger = ledger
        self.witnesses = witnesses
        self.cosignatures = cosignatures
        self.http = http
        self.timeout = timeout
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for witness in self.witnesses { group.addTask { await self.follow(witness) } }
            }
        }
    }

    /// What a witness answered.
    enum Answer: Equatable {
        case cosigned([String])
        /// 409: the size of the latest checkpoint it cosigned for this origin.
        case conflict(UInt64)
    }

    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    private func follow(_ witness: WitnessEndpoint) async {
        let dimensions = [("witness", witness.name)]
        let cosignedSize = Gauge(label: "fascicolo_witness_cosigned_size", dimensions: dimensions)
        let lag = Gauge(label: "fascicolo_witness_lag_entries", dimensions: dimensions)
        let failures = Counter(label: "fascicolo_witness_failures_total", dimensions: dimensions)
        var known: UInt64 = 0  // the size the witness last cosigned, as far as this daemon knows
        var cosigned: UInt64 = 0
        var delay: Duration = .seconds(1)
        while !Task.isCancelled {
            // Woken by the next checkpoint, not by every commit: reading and verifying the
            // latest note at each commit cost single-event appends a fifth of their rate
            // (`fascicolo-bench witnessed`, 1 × 1, two witnesses).
            guard ledger.checkpointSize > cosigned, let checkpoint = try? ledger.latestCheckpoint(), checkpoint.size > cosigned else {
                _ = await ledger.waitForCheckpoint(beyond: max(cosigned, ledger.checkpointSize), timeout: .seconds(5))
                continue
            }
            lag.record(Int64(checkpoint.size - cosigned))
            do {
                switch try await submit(checkpoint, oldSize: min(known, checkpoint.size), to: witness) {
                case .cosigned(let lines):
                    for line in lines { try cosignatures.add(size: checkpoint.size, root: checkpoint.root, line: line) }
                    known = checkpoint.size
                    cosigned = checkpoint.size
                    cosignedSize.record(Int64(cosigned))
                    lag.record(0)
                    delay = .seconds(1)
                    continue
                case .conflict(let size) where size <= checkpoint.size && size != known:
                    known = size  // submit again at once, proving consistency from its size
                    continue
                case .conflict(let size):
                    throw Refused(
                        description: size > checkpoint.size
                            ? "the witness has cosigned \(size) entries of this log, more than its latest checkpoint (\(checkpoint.size)): a restored older copy, or a split view"
                            : "the witness refuses the consistency proof from its own size \(size)")
                }
            } catch {
                if Task.isCancelled { return }
                failures.increment()
                logger.error(
                    "a witness did not cosign the latest checkpoint; retrying",
                    metadata: ["witness": "\(witness.name)", "size": "\(checkpoint.size)", "error": "\(error)", "retryIn": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(60))
            }
        }
    }

    /// One `add-checkpoint` request; the cosignature lines it returns are checked with the
    /// witness's key before they are kept.
    func submit(_ checkpoint: Checkpoint, oldSize: UInt64, to witness: WitnessEndpoint) async throws -> Answer {
        let proof = oldSize == 0 ? [] : try ledger.consistencyProof(oldSize: oldSize, newSize: checkpoint.size)
        var request = HTTPClientRequest(url: witness.url + "/add-checkpoint")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        request.body = .bytes(ByteBuffer(string: AddCheckpointRequest(oldSize: oldSize, proof: proof, note: checkpoint.note).body))
        let response = try await http.execute(request, timeout: timeout)
        let body = String(buffer: try await response.body.collect(upTo: 64 << 10))
        switch response.status.code {
        case 200:
            var lines: [String] = []
            for line in body.split(separator: "\n") {
                let candidate = String(line) + "\n"
                guard let parsed = try? SignedNote.parse(checkpoint.note + candidate),
                    SignedNote.validCosignatureTimestamp(parsed, name: witness.name, publicKey: witness.publicKey) != nil
                else { continue }
                lines.append(candidate)
            }
            guard !lines.isEmpty else { throw Refused(description: "the witness answered no cosignature that verifies with its key") }
            return .cosigned(lines)
        case 409:
            guard let size = UInt64(body.filter { !$0.isWhitespace }) else {
                throw Refused(description: "the witness answered 409 without its size")
            }
            return .conflict(size)
        default:
            // The witness's text is not repeated (it is another system's); its status is.
            throw Refused(description: "the witness answered HTTP \(response.status.code)")
        }
    }
}
