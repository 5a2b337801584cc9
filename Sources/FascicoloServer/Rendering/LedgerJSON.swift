import FascicoloConcurrency
import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger

/// The answers' JSON, written once, here: each area's values in its own file
/// (`LedgerJSON`, `CaseFileJSON`, `ReadModelJSON`), all through `JSONBytes`.
enum Render {}

/// The log's answers: appends, entries, proofs, keys, health.
extension Render {
    /// `receipts`: each event's record (signed bytes ‖ signature), rendered as receipts a client
    /// keeps to prove later that the daemon acknowledged the entry (`fascicolo verify --receipts`).
    static func appendResult(_ result: AppendResult, receipts: [[UInt8]]? = nil) -> [UInt8] {
        var json = JSONBytes()
        json.object { json in appendResultMembers(result, receipts: receipts, into: &json) }
        return json.bytes
    }

    static func appendResultMembers(_ result: AppendResult, receipts: [[UInt8]]?, into json: inout JSONBytes) {
        json.key("positions")
        numbers(result.positions, into: &json)
        json.key("streamVersions")
        numbers(result.streamVersions, into: &json)
        json.key("leafHashes")
        json.array { json in
            for hash in result.leafHashes { json.string(hash.hex) }
        }
        json.member("deduplicated", result.deduplicated)
        guard let receipts else { return }
        json.key("receipts")
        json.array { json in
            for (position, record) in zip(result.positions, receipts) {
                json.object { json in
                    json.member("position", position)
                    json.member("leafHash", MerkleHash.leaf(record).hex)
                    json.member("signedBytes", Base64.encode(Array(record.dropLast(Signature.byteCount))))
                    json.member("signature", Base64.encode(Array(record.suffix(Signature.byteCount))))
                }
            }
        }
    }

    /// An entry; `detailed` adds the signed bytes (base64), for checking the signature offline.
    /// `withheld` leaves the payload (and the signed bytes, which hold it) out: see `RawRead`.
    static func entry(_ entry: Entry, detailed: Bool = false, withheld: Bool = false, into json: inout JSONBytes) {
        json.object { json in
            json.member("position", entry.position)
            json.member("stream", entry.stream)
            json.member("streamVersion", entry.streamVersion)
            json.member("type", entry.eventType)
            json.member("recordedAt", Timestamp.iso8601(milliseconds: entry.recordedAtMilliseconds))
            json.member("author", entry.author)
            json.key("data")
            if withheld {
                json.null()
                json.member("withheld", "person_data")
            } else {
                json.payload(entry.payload)
            }
            json.member("keyId", Hex.encode(entry.keyID))
            json.member("signature", Base64.encode(entry.signature))
            json.member("leafHash", entry.leafHash.hex)
            if detailed && !withheld { json.member("signedBytes", Base64.encode(Array(entry.signedBytes))) }
        }
    }

    static func entry(_ entry: Entry, detailed: Bool = false, withheld: Bool = false) -> [UInt8] {
        var json = JSONBytes()
        Render.entry(entry, detailed: detailed, withheld: withheld, into: &json)
        return json.bytes
    }

    /// `signed`: each entry with its signed bytes too (`/v1/log?signed=true`), as `entry(detailed:)`;
    /// `withholding`: which entries to serve withheld (none by default; never with signed bytes).
    static func entries(_ entries: [Entry], signed: Bool = false, withholding: (Entry) -> Bool = { _ in false }) -> [UInt8] {
        var json = JSONBytes(capacity: (signed ? 1_200 : 600) * entries.count + 16)
        json.object { json in
            json.key("entries")
            json.array { json in
                for entry in entries { Render.entry(entry, detailed: signed, withheld: withholding(entry), into: &json) }
            }
        }
        return json.bytes
    }

    static func inclusionProof(position: UInt64, treeSize: UInt64, leafHash: Digest?, proof: [Digest]) -> [UInt8] {
        var json = JSONBytes()
        json.object { json in
            json.member("position", position)
            json.member("treeSize", treeSize)
            json.member("leafHash", leafHash?.hex ?? "")
            json.key("proof")
            hashes(proof, into: &json)
        }
        return json.bytes
    }

    static func consistencyProof(from: UInt64, to: UInt64, proof: [Digest]) -> [UInt8] {
        var json = JSONBytes()
        json.object { json in
            json.member("from", from)
            json.member("to", to)
            json.key("proof")
            hashes(proof, into: &json)
        }
        return json.bytes
    }

    /// `GET /v1/checkpoints`: each stored checkpoint's size, root and stream-heads map root
    /// (base64, as in the note; null for a checkpoint signed before the map) and time (its
    /// `cosignature/v1` timestamp, seconds); `next` is the size to ask `from` for the next page,
    /// null after the last.
    static func checkpoints(_ checkpoints: [Checkpoint], next: UInt64?) -> [UInt8] {
        var json = JSONBytes(capacity: 100 * checkpoints.count + 32)
        json.object { json in
            json.key("checkpoints")
            json.array { json in
                for checkpoint in checkpoints {
                    json.object { json in
                        json.member("size", checkpoint.size)
                        json.member("root", Base64.encode(checkpoint.root.bytes))
                        json.key("streamHeads")
                        if let heads = checkpoint.streamHeadsRoot { json.string(Base64.encode(heads.bytes)) } else { json.null() }
                        json.key("timestamp")
                        if let seconds = checkpoint.timestampSeconds { json.number(seconds) } else { json.null() }
                    }
                }
            }
            json.key("next")
            if let next { json.number(next) } else { json.null() }
        }
        return json.bytes
    }

    static func hashes(_ proof: [Digest], into json: inout JSONBytes) {
        json.array { json in
            for hash in proof { json.string(Base64.encode(hash.bytes)) }
        }
    }

    /// `GET /v1/keys`: the current key (the first members, as before rotations existed), the
    /// chain from the first key, and the rotation checkpoints a client follows it by.
    static func keys(_ chain: KeyChain, rotationCheckpoints: [String]) -> [UInt8] {
        var json = JSONBytes()
        let vkey = { (key: PublicKey) in SignedNote.verifierKey(name: chain.origin, publicKey: key) }
        json.object { json in
            json.member("origin", chain.origin)
            json.member("verifierKey", vkey(chain.current))
            json.member("publicKey", Base64.encode(chain.current.bytes))
            json.member("keyId", Hex.encode(chain.keyID(chain.current)))
            json.member("firstKey", vkey(chain.first))
            json.key("chain")
            json.array { json in
                for (index, key) in chain.keys.enumerated() {
                    json.object { json in
                        json.member("verifierKey", vkey(key))
                        json.member("keyId", Hex.encode(chain.keyID(key)))
                        json.member("signsFrom", index == 0 ? 0 : chain.rotations[index - 1].position + 1)
                    }
                }
            }
            json.key("rotationCheckpoints")
            json.array { json in
                for note in rotationCheckpoints { json.string(note) }
            }
        }
        return json.bytes
    }

    /// `GET /v1/health/live`.
    static let live: [UInt8] = {
        var json = JSONBytes()
        json.object { $0.member("status", "live") }
        return json.bytes
    }()

    static func version(_ version: String) -> [UInt8] {
        var json = JSONBytes()
        json.object { json in
            json.member("version", version)
            json.member("api", "v1")
        }
        return json.bytes
    }

    /// `GET /v1/health/ready`: ready, or why not (the store's health, then whether this daemon
    /// may append: a follower, a fenced primary, one waiting for its synchronous followers).
    static func readiness(_ health: StorageHealth, appends refusal: WriteAuthority.Refusal?, entries: UInt64) -> [UInt8] {
        var json = JSONBytes()
        json.object { json in
            switch health {
            case .writable:
                if let refusal {
                    json.member("status", refusal.code)
                    json.member("entries", entries)
                    if case .follower(let primary?) = refusal { json.member("primary", primary) }
                    json.member("detail", refusal.description)
                    return
                }
                json.member("status", "ready")
                json.member("entries", entries)
            case .failing(let since, let reason, _):
                json.member("status", "read_only")
                json.member("entries", entries)
                json.member("since", Timestamp.iso8601(milliseconds: since))
                json.member("reason", reason)
                json.member("detail", "the disk refuses writes; reads are served, appends are retried")
            case .failed(let since, let reason):
                json.member("status", "failed")
                json.member("entries", entries)
                json.member("since", Timestamp.iso8601(milliseconds: since))
                json.member("reason", reason)
                json.member("detail", "the store cannot be written again by this process: restart the daemon")
            }
        }
        return json.bytes
    }
}
