import FascicoloConcurrency
import FascicoloCrypto
import FascicoloLedger
import Logging

/// A C2SP `tlog-witness` (https://c2sp.org/tlog-witness): it cosigns a log's checkpoint only when
/// the checkpoint is signed by a key it trusts for that origin and is consistent with the latest
/// checkpoint it cosigned for it, and it records the new checkpoint durably before answering.
///
/// The checks, in the spec's words and in the order they are made (`addCheckpoint`):
/// 1. "If the checkpoint origin is unknown, the witness MUST respond with a "404 Not Found""
/// 2. "If none of the signatures verify against a trusted public key, the witness MUST respond
///    with a "403 Forbidden""
/// 3. "The old size MUST be equal to or lower than the checkpoint size. Otherwise, the witness
///    MUST respond with a "400 Bad Request""
/// 4. "The witness MUST check that the old size matches the size of the latest checkpoint it
///    cosigned for the checkpoint's origin (or zero if it never cosigned a checkpoint for that
///    origin). If it doesn't match, the witness MUST respond with a "409 Conflict" HTTP status
///    code. The response body MUST consist of the tree size of the latest cosigned checkpoint in
///    decimal, followed by a newline (U+000A). The response MUST have a `Content-Type` of
///    `text/x.tlog.size`."
/// 5. "The consistency proof lines MUST encode a Merkle Consistency Proof from the old size to the
///    checkpoint size according to RFC 6962, Section 2.1.2. The proof MUST be empty if the old
///    size is zero. If the Merkle Consistency Proof doesn't verify, the witness MUST respond with
///    a "422 Unprocessable Entity""
/// 6. "If the old size matches the checkpoint size, the witness MUST check that the root hashes
///    are also identical. If they don't match, the witness MUST respond with a "409 Conflict""
/// Key rotation (Formats.md, "Key rotation"): a checkpoint cosigned with a next-key line — signed
/// by the key trusted at its size and consistent as any other — makes the key it names the one
/// trusted for that origin beyond its size, recorded in the same transaction as the checkpoint
/// (`WitnessState.LearntKey`). From then on a checkpoint larger than the rotation is checked with
/// the new key only, so the replaced key, retired or stolen, gets nothing beyond it cosigned
/// (403). The configured key is the trust anchor of a fresh state only.
///
/// 7. "If all the checks above pass, the witness MUST update its record of the latest cosigned
///    checkpoint and respond with a "200 Success" [...] The witness MUST persist the new
///    checkpoint before responding. Note that checking the old size against the latest
///    checkpoint and persisting the new checkpoint must be performed atomically": steps 4-7 run
///    in one LMDB write transaction (`WitnessState.update`), committed with fsync before the
///    cosignature is made.
public final class Witness: Sendable {
    /// The witness's own key name (a schema-less URL, as tlog-cosignature recommends).
    public let name: String
    let key: SigningKey
    let logs: [String: [LogKey]]
    let state: WitnessState
    let wallClock: WallClock
    let logger: Logger

    public init(name: String, key: SigningKey, logs: [LogKey], state: WitnessState, wallClock: WallClock = .system, logger: Logger) {
        self.name = name
        self.key = key
        self.logs = Dictionary(grouping: logs, by: \.name)
        self.state = state
        self.wallClock = wallClock
        self.logger = logger
    }

    /// The keys that may sign a checkpoint of `size`: the key named by the last rotation learnt
    /// below that size, or the configured ones when there is none — so a checkpoint of any size
    /// is checked with the key that signed it (Formats.md, "Key rotation"): an older one still
    /// gets its 409 with the witness's size, and the rotation checkpoint itself, sent again, is
    /// checked with the key it replaced.
    static func trustedKeys(origin: String, configured: [LogKey], learnt: [WitnessState.LearntKey], size: UInt64) -> [LogKey] {
        guard let rotation = learnt.last(where: { $0.size < size }) else { return configured }
        return [LogKey(name: origin, publicKey: rotation.next)]
    }

    /// The witness's cosigner vkey (type 0x04), which logs and verifiers configure.
    public var verifierKey: String { WitnessKey.verifierKey(name: name, publicKey: key.publicKey) }

    /// What the witness answers: an HTTP status, a content type and a body.
    public struct Answer: Sendable, Equatable {
        public let status: Int
        public let contentType: String
        public let body: String

        public init(status: Int, contentType: String, body: String) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }

        static func cosigned(_ lines: String) -> Answer { Answer(status: 200, contentType: "text/plain; charset=utf-8", body: lines) }
        static func conflict(size: UInt64) -> Answer { Answer(status: 409, contentType: "text/x.tlog.size", body: "\(size)\n") }
        static func refused(_ status: Int, _ reason: String) -> Answer {
            Answer(status: status, contentType: "text/plain; charset=utf-8", body: reason + "\n")
        }
    }

    /// Checks a request body and, when every check passes, records the checkpoint and cosigns it.
    /// Blocks on the state's durable commit: call it off the cooperative pool. Errors are the
    /// state's (storage): the caller answers 500.
    public func addCheckpoint(body: [UInt8]) throws -> Answer {
        let request: AddCheckpointRequest
        let checkpoint: CheckpointNote
        do throws(AddCheckpointRequest.Malformed) {
            request = try AddCheckpointRequest(body: body)
            checkpoint = try CheckpointNote(note: request.note)
        } catch {
            return .refused(400, error.reason)
        }
        // Messages name no origin, size or hash the client sent: none of it is echoed.
        guard let configured = logs[checkpoint.origin] else { return .refused(404, "unknown log origin") }

        // The key trusted for the origin lives in the state (a rotation learnt), so every check
        // from the signature on runs in the write transaction that records the outcome.
        var learnt: WitnessState.LearntKey?
        let answer = try state.update(origin: checkpoint.origin) {
            stored, learntBefore -> (WitnessState.Record?, WitnessState.LearntKey?, Answer?) in
            let trusted = Self.trustedKeys(origin: checkpoint.origin, configured: configured, learnt: learntBefore, size: checkpoint.size)
            guard let signer = checkpoint.signer(amongst: trusted) else {
                return (nil, nil, .refused(403, "no signature by a trusted key of this log"))
            }
            guard request.oldSize <= checkpoint.size else {
                return (nil, nil, .refused(400, "the old size is larger than the checkpoint's"))
            }
            if request.oldSize == 0 && !request.proof.isEmpty {
                return (nil, nil, .refused(400, "the proof must be empty when the old size is zero"))
            }
            let storedSize = stored?.size ?? 0
            guard request.oldSize == storedSize else { return (nil, nil, .conflict(size: storedSize)) }
            if let stored {
                if checkpoint.size == stored.size {
                    // A second checkpoint of the same size with another root is a split view; so
                    // is one that names another next key than the one cosigned at that size (or
                    // one where none was): the root does not cover the next-key line, and a
                    // holder of the replaced key must not get to name a key of its own.
                    guard checkpoint.root == stored.root else { return (nil, nil, .refused(409, "another root hash at the cosigned size")) }
                    let cosignedNextKey = learntBefore.last(where: { $0.size == stored.size })?.next
                    guard checkpoint.nextKey == cosignedNextKey else {
                        return (nil, nil, .refused(409, "another next key at the cosigned size"))
                    }
                } else if !MerkleProof.verifyConsistency(
                    oldSize: stored.size, newSize: checkpoint.size, proof: request.proof, oldRoot: stored.root, newRoot: checkpoint.root)
                {
                    return (nil, nil, .refused(422, "the consistency proof does not verify"))
                }
            }
            var rotation: WitnessState.LearntKey?
            if let next = checkpoint.nextKey, checkpoint.size > storedSize {
                guard next != signer.publicKey else { return (nil, nil, .refused(400, "the next-key line names the key that signed it")) }
                rotation = WitnessState.LearntKey(size: checkpoint.size, previous: signer.publicKey, next: next)
                learnt = rotation
            }
            return (WitnessState.Record(size: checkpoint.size, root: checkpoint.root, text: checkpoint.text), rotation, nil)
        }
        if let answer, answer.status == 403 {
            return answer  // not the log's: nothing of it is logged
        } else if let answer {
            // "the witness MAY log the request even if the consistency proof doesn't verify [...]
            // as it might be proof of log misbehavior": the log's own signature made it, so its
            // origin and sizes are no client's secret.
            logger.warning(
                "refused a checkpoint signed by the log",
                metadata: [
                    "origin": "\(checkpoint.origin)", "size": "\(checkpoint.size)", "oldSize": "\(request.oldSize)",
                    "status": "\(answer.status)",
                ])
            return answer
        }
        if let learnt {
            logger.notice(
                "learnt the log's next key from its rotation checkpoint",
                metadata: [
                    "origin": "\(checkpoint.origin)", "size": "\(learnt.size)",
                    "key": "\(SignedNote.verifierKey(name: checkpoint.origin, publicKey: learnt.next))",
                ])
        }
        let line = SignedNote.cosignatureLine(
            text: checkpoint.text, name: name, key: key, timestampSeconds: UInt64(max(wallClock.secondsSinceEpoch, 0)))
        return .cosigned(line)
    }
}

/// The witness's key: an Ed25519 seed in a 0600 file (`KeyFile`), published as a cosignature
/// vkey (tlog-cosignature: "Ed25519 public keys MAY be encoded as vkeys with signature type 0x04
/// and the 32-byte Ed25519 cosigner public key as the public key material").
public enum WitnessKey {
    /// `<name>+<hex key ID>+<base64(0x04 ‖ public key)>`, the key ID computed with type 0x04.
    public static func verifierKey(name: String, publicKey: PublicKey) -> String {
        let id = SignedNote.keyID(name: name, publicKey: publicKey, type: SignedNote.cosignatureType)
        return "\(name)+\(Hex.encode(id))+\(Base64.encode([SignedNote.cosignatureType] + publicKey.bytes))"
    }

    /// Reads a cosignature vkey back (what a log or a verifier configures): the ledger's
    /// `WitnessVerifierKey`, which the verifying commands use too.
    public static func parseVerifierKey(_ text: String) -> (name: String, publicKey: PublicKey)? {
        WitnessVerifierKey(text).map { ($0.name, $0.publicKey) }
    }
}
