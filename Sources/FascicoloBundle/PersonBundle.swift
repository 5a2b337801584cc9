import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger

/// One person's whole file at one signed checkpoint, as Formats.md "Person bundles" specifies
/// it, member by member: built by the daemon (`POST /v1/persons/export`), written and read here
/// with FascicoloJSON, so that the daemon, the CLI (`fascicolo person export`, `fascicolo bundle
/// show`) and the tests share one reading of the format. (The verifiers, `fascicolo bundle
/// verify` and tools/verify-bundle.py, read the format from Formats.md on their own.)
///
/// This type holds and parses; it does not verify. Parsing checks the shape (members, types,
/// base64 of the right lengths) and nothing a signature or a proof establishes.
public struct PersonBundle: Sendable, Equatable {
    public static let format = "fascicolo-person-bundle/1"

    /// The log's first verifier key (signed-note vkey). Informative: a verifier uses its own.
    public var verifierKey: String
    /// The checkpoint note of size N, with every signature line the daemon holds for it.
    public var checkpoint: String
    /// The rotation checkpoints of sizes up to N, oldest first (Formats.md, "Key rotation").
    public var keyRotations: [String]
    /// The person's pseudonym, 32 lower-case hex digits.
    public var person: String
    /// RFC 3339 UTC.
    public var exportedAt: String
    /// The purpose the export was recorded with.
    public var purpose: String
    /// The person's 32-byte data key; nil once the person was erased (or never registered).
    public var dataKey: [UInt8]?
    /// `person:<person>` then `access:<person>`.
    public var streams: [Stream]

    public init(
        verifierKey: String, checkpoint: String, keyRotations: [String] = [], person: String, exportedAt: String, purpose: String,
        dataKey: [UInt8]?, streams: [Stream]
    ) {
        self.verifierKey = verifierKey
        self.checkpoint = checkpoint
        self.keyRotations = keyRotations
        self.person = person
        self.exportedAt = exportedAt
        self.purpose = purpose
        self.dataKey = dataKey
        self.streams = streams
    }

    public struct Stream: Sendable, Equatable {
        public var stream: String
        /// The stream's head among the checkpoint's N entries; nil when it has none.
        public var head: Head?
        public var headProof: HeadProof
        /// Versions 1 … head.version, in order.
        public var entries: [Entry]

        public init(stream: String, head: Head?, headProof: HeadProof, entries: [Entry]) {
            self.stream = stream
            self.head = head
            self.headProof = headProof
            self.entries = entries
        }
    }

    public struct Head: Sendable, Equatable {
        public var version: UInt64
        public var position: UInt64

        public init(version: UInt64, position: UInt64) {
            self.version = version
            self.position = position
        }
    }

    /// A head proof in the stream-head map (Formats.md "The stream-head map").
    public struct HeadProof: Sendable, Equatable {
        public enum Terminal: Sendable, Equatable {
            /// The stream's own leaf, from `head`.
            case head
            /// No stream down this path.
            case empty
            /// Another stream's leaf, sharing the path's bits.
            case otherStream(key: Digest, head: Head)
        }

        /// Depth 1 first.
        public var siblings: [Digest]
        public var terminal: Terminal

        public init(siblings: [Digest], terminal: Terminal) {
            self.siblings = siblings
            self.terminal = terminal
        }

        /// The proof as the ledger serves it.
        public init(_ proof: StreamHeadProof) {
            siblings = proof.siblings
            switch proof.terminal {
            case .head: terminal = .head
            case .empty: terminal = .empty
            case .otherStream(let key, let head):
                terminal = .otherStream(key: key, head: Head(version: head.version, position: head.position))
            }
        }
    }

    public struct Entry: Sendable, Equatable {
        public var position: UInt64
        public var signedBytes: [UInt8]
        public var signature: [UInt8]
        /// The RFC 9162 audit path of the entry's leaf in the tree of the checkpoint's size.
        public var inclusionProof: [Digest]
        /// The personal fields in clear (a JSON object), on entries whose payload has `sealed`
        /// when the bundle has a data key.
        public var fields: JSON?

        public init(position: UInt64, signedBytes: [UInt8], signature: [UInt8], inclusionProof: [Digest], fields: JSON?) {
            self.position = position
            self.signedBytes = signedBytes
            self.signature = signature
            self.inclusionProof = inclusionProof
            self.fields = fields
        }

        /// The stored record: signed bytes ‖ signature (the Merkle leaf's data).
        public var record: [UInt8] { signedBytes + signature }

        /// The entry's parts (stream, version, type, author, payload…), or nil when the bytes
        /// are not an entry.
        public var parsed: FascicoloLedger.Entry? {
            record.withUnsafeBytes { bytes in (try? EntryView(record: bytes)).map { FascicoloLedger.Entry($0) } }
        }
    }

    // MARK: - Writing

    /// The bundle as JSON, members in the order of Formats.md.
    public var json: [UInt8] {
        let estimate = streams.reduce(1_024) { total, stream in
            stream.entries.reduce(total) { $0 + $1.signedBytes.count * 4 / 3 + $1.inclusionProof.count * 48 + 256 }
        }
        var body = JSONBytes(capacity: estimate)
        body.object { body in
            body.member("format", Self.format)
            body.member("verifierKey", verifierKey)
            body.member("checkpoint", checkpoint)
            body.key("keyRotations")
            body.array { body in
                for note in keyRotations { body.string(note) }
            }
            body.member("person", person)
            body.member("exportedAt", exportedAt)
            body.member("purpose", purpose)
            body.key("dataKey")
            if let dataKey { body.string(Base64.encode(dataKey)) } else { body.null() }
            body.key("streams")
            body.array { body in
                for stream in streams { stream.write(into: &body) }
            }
        }
        return body.bytes
    }
}

extension PersonBundle.Stream {
    func write(into body: inout JSONBytes) {
        body.object { body in
            body.member("stream", stream)
            body.key("head")
            if let head { head.write(into: &body) } else { body.null() }
            body.key("headProof")
            body.object { body in
                body.key("siblings")
                body.array { body in
                    for sibling in headProof.siblings { body.string(Base64.encode(sibling.bytes)) }
                }
                body.key("terminal")
                switch headProof.terminal {
                case .head: body.string("head")
                case .empty: body.string("empty")
                case .otherStream(let key, let head):
                    body.object { body in
                        body.member("key", Base64.encode(key.bytes))
                        body.member("version", head.version)
                        body.member("position", head.position)
                    }
                }
            }
            body.key("entries")
            body.array { body in
                for entry in entries { entry.write(into: &body) }
            }
        }
    }
}

extension PersonBundle.Head {
    func write(into body: inout JSONBytes) {
        body.object { body in
            body.member("version", version)
            body.member("position", position)
        }
    }
}

extension PersonBundle.Entry {
    func write(into body: inout JSONBytes) {
        body.object { body in
            body.member("position", position)
            body.member("signedBytes", Base64.encode(signedBytes))
            body.member("signature", Base64.encode(signature))
            body.key("inclusionProof")
            body.array { body in
                for hash in inclusionProof { body.string(Base64.encode(hash.bytes)) }
            }
            if let fields { body.member("fields", fields) }
        }
    }
}
