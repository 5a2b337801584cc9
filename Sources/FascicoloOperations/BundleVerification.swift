import FascicoloConcurrency
import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger

/// Checks a person bundle (Formats.md, "Person bundles") without the daemon or the rest of the
/// log: every rule of "A bundle verifies", in the order listed, stopping at the first that does
/// not hold. `tools/verify-bundle.py` is the same check written independently from Formats.md;
/// the two name the same failures in the same order.
///
/// A failed rule is an `OperationError` `.verificationFailed` whose message names the stream,
/// version and position; a malformed `--key` or `--witness` is `.invalidKey`, a file that cannot
/// be read `.unreadable` (exit 2 on the command line).
public enum BundleVerification {
    public static let format = "fascicolo-person-bundle/1"
    /// The largest bundle read: a person with a hundred thousand entries fits many times over.
    public static let sizeLimit = 1 << 30
    static let streamHeadsPrefix = StreamHeadMap.lineLabel + " "

    /// A stream's head: its last version and that entry's position.
    public struct Head: Sendable, Equatable {
        public let version: UInt64
        public let position: UInt64
    }

    /// What a bundle that verifies establishes.
    public struct Report: Sendable {
        public struct Stream: Sendable {
            public let name: String
            public let entries: Int
            public let head: Head?
        }
        public struct Cosignature: Sendable {
            public let name: String
            public let keyID: String
            public let timestampSeconds: UInt64
        }
        public let origin: String
        public let keyID: String
        /// The key was the bundle's own `verifierKey` (no `--key`): the bundle is only shown to be
        /// consistent with a key it carries itself.
        public let keyFromBundle: Bool
        public let size: UInt64
        public let signedAtSeconds: UInt64
        public let person: String
        public let streams: [Stream]
        /// The personal fields: in clear (checked against their sealed bytes), erased (no data key,
        /// an ErasureExecuted entry), or none (no data key and nothing sealed: never registered).
        public enum Fields: Sendable { case clear, erased, none }
        public let fields: Fields
        public let witnesses: [Cosignature]
        /// As the bundle says (not checked: informative).
        public let exportedAt: String?
        public let purpose: String?
    }

    /// Reads and verifies the bundle in `path`.
    public static func run(path: String, key: String?, witnesses: [String]) throws -> Report {
        let logKey = try key.map { try parseKey($0, type: SignedNote.ed25519Type, option: "--key") }
        let witnessKeys = try witnesses.map { try parseKey($0, type: SignedNote.cosignatureType, option: "--witness") }
        let bytes: [UInt8]
        do { bytes = try Files.read(path, limit: sizeLimit) } catch {
            throw OperationError(.unreadable, "\(error)", cause: error)
        }
        return try verify(bytes, key: key.map { ($0, logKey!) }, witnesses: witnessKeys)
    }

    /// A signed-note verifier key: name, key ID and Ed25519 public key.
    public struct NoteKey: Sendable {
        public let name: String
        public let keyID: [UInt8]
        public let publicKey: PublicKey
    }

    /// Parses `<name>+<8 lower-case hex>+<base64(type ‖ key)>`, the key ID matching.
    public static func parseKey(_ text: String, type: UInt8, option: String) throws -> NoteKey {
        guard let key = noteKey(text, type: type) else {
            let kind = type == SignedNote.ed25519Type ? "an Ed25519 signed-note key (type 0x01)" : "a cosignature/v1 key (type 0x04)"
            throw OperationError(.invalidKey, "\(option) is not \(kind) '<name>+<hex key id>+<base64 key>' whose key ID matches")
        }
        return key
    }

    static func noteKey(_ text: String, type: UInt8) -> NoteKey? {
        let trimmed = text.trimmingWhitespace
        let parts = trimmed.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[1].utf8.count == 8,
            parts[1].utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }),
            let id = Hex.decode(String(parts[1])), let blob = Base64.decode(String(parts[2])), blob.count == 33,
            blob[0] == type, let publicKey = PublicKey(Array(blob[1...]))
        else { return nil }
        let name = String(parts[0])
        guard SignedNote.keyID(name: name, publicKey: publicKey, type: type) == id else { return nil }
        return NoteKey(name: name, keyID: id, publicKey: publicKey)
    }

    static func failed(_ message: String) -> OperationError { OperationError(.verificationFailed, message) }

    /// `text` with control characters (C0, DEL, C1) shown as `?`: a bundle is hostile, a terminal is not.
    public static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || (0x7F..<0xA0).contains($0.value) ? "?" : $0 }))
    }

    /// RFC 3339 UTC to the second (`2026-12-06T01:00:00Z`), as tools/verify-bundle.py writes it.
    public static func utc(_ seconds: UInt64) -> String {
        String(Timestamp.iso8601(milliseconds: Int64(clamping: seconds) &* 1000).prefix(19)) + "Z"
    }

    /// Verifies a bundle's bytes. `key` is the verifier key given out of band (its text and
    /// parsed form); without it the bundle's own `verifierKey` is used and the report says so.
    public static func verify(_ bytes: [UInt8], key: (text: String, key: NoteKey)?, witnesses: [NoteKey]) throws -> Report {
        guard let bundle = try? JSON.parse(bytes) else { throw failed("the file is not a JSON document") }
        guard bundle.isObject else { throw failed("the bundle is not a JSON object") }

        // 1. The format and the key.
        guard bundle["format"]?.string == format else { throw failed("format is not '\(format)'") }
        guard let bundleKey = bundle["verifierKey"]?.string else { throw failed("verifierKey is missing") }
        let logKey: NoteKey
        if let key {
            guard bundleKey.trimmingWhitespace == key.text.trimmingWhitespace else {
                throw failed("verifierKey is not the key given with --key")
            }
            logKey = key.key
        } else {
            guard let own = noteKey(bundleKey, type: SignedNote.ed25519Type) else {
                throw failed("verifierKey: not an Ed25519 signed-note key (type 0x01)")
            }
            logKey = own
        }

        // 2. The keys, followed from the first through the rotation checkpoints; the checkpoint,
        // with the key of its size.
        let chain = try followKeys(bundle["keyRotations"], first: logKey, checkpoint: bundle["checkpoint"])
        let size = (try? Checkpoint.size(ofNote: bundle["checkpoint"]?.string ?? "")) ?? 0
        let signer = chain.key(forCheckpointSize: size)
        let checkpoint = try CheckpointText.verify(
            bundle["checkpoint"], logKey: NoteKey(name: logKey.name, keyID: chain.keyID(signer), publicKey: signer),
            nextKeyLine: chain.nextKey(forCheckpointSize: size).map { KeyRotation.line(origin: logKey.name, nextKey: $0) },
            witnesses: witnesses)

        // 3. The streams.
        guard let person = bundle["person"]?.string, person.utf8.count == 32,
            person.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { throw failed("person is not a pseudonym (32 lower-case hex digits)") }
        let names = ["person:\(person)", "access:\(person)"]
        guard let streams = bundle["streams"]?.array, streams.count == 2,
            zip(streams, names).allSatisfy({ $0["stream"]?.string == $1 })
        else { throw failed("streams are not exactly \(names[0]) then \(names[1])") }

        // 4. Each stream: its entries, their versions, its head and head proof.
        var parsed: [[BundleEntry]] = []
        for (stream, name) in zip(streams, names) {
            parsed.append(try StreamCheck(name: name, checkpoint: checkpoint, chain: chain).run(stream))
        }

        // 5. The domain payloads and the fields in clear.
        let dataKey: SecretKey?
        switch bundle["dataKey"] {
        case .null?: dataKey = nil
        case .string(let text)?:
            guard let raw = Base64.decode(text), raw.count == SecretKey.byteCount, let key = SecretKey(bytes: raw, guarded: false) else {
                throw failed("dataKey is neither null nor base64 of 32 bytes")
            }
            dataKey = key
        default: throw failed("dataKey is neither null nor base64 of 32 bytes")
        }
        let erased = parsed[0].contains { $0.eventType == "ErasureExecuted" }
        if dataKey == nil && !erased {
            for (name, entries) in zip(names, parsed) {
                guard let sealed = entries.first(where: { (try? JSON.parse($0.payload))?["sealed"] != nil }) else { continue }
                throw failed(
                    "dataKey is null but \(names[0]) has no ErasureExecuted entry (the person was not erased), "
                        + "and \(name): version \(sealed.version) (position \(sealed.position)) is sealed")
            }
        }
        for (index, name) in names.enumerated() {
            try PayloadCheck(stream: name, dataKey: dataKey).run(parsed[index])
        }

        return Report(
            origin: logKey.name, keyID: Hex.encode(logKey.keyID), keyFromBundle: key == nil, size: checkpoint.size,
            signedAtSeconds: checkpoint.signedAtSeconds, person: person,
            streams: zip(names, parsed).map {
                Report.Stream(name: $0, entries: $1.count, head: $1.last.map { Head(version: $0.version, position: $0.position) })
            },
            fields: dataKey != nil ? .clear : erased ? .erased : .none, witnesses: checkpoint.witnesses,
            exportedAt: bundle["exportedAt"]?.string.map(printable),
            purpose: bundle["purpose"]?.string.map(printable))
    }
}

extension BundleVerification {
    /// Rule 2's first half: `keyRotations` (absent: none), each note verified with the key before
    /// it, with a next-key line, in increasing sizes up to the checkpoint's.
    static func followKeys(_ value: JSON?, first: NoteKey, checkpoint: JSON?) throws -> KeyChain {
        var notes: [String] = []
        if let value {
            guard let array = value.array, array.allSatisfy({ $0.string != nil }) else {
                throw failed("keyRotations is not a list of notes")
            }
            notes = array.compactMap(\.string)
        }
        let chain: KeyChain
        do { chain = try KeyChain.following(rotationCheckpoints: notes, origin: first.name, first: first.publicKey) } catch {
            throw failed("keyRotations: \(error)")
        }
        if let last = chain.rotations.last, let note = checkpoint?.string, let size = try? Checkpoint.size(ofNote: note),
            last.position >= size
        {
            throw failed("keyRotations: a rotation checkpoint is larger than the checkpoint of size \(size)")
        }
        return chain
    }
}

/// Rule 2: the checkpoint note, with its stream-heads line, by the log key; witnesses' cosignatures.
struct CheckpointText {
    let size: UInt64
    let root: Digest
    let streamHeadsRoot: Digest
    let signedAtSeconds: UInt64
    let witnesses: [BundleVerification.Report.Cosignature]

    static func failed(_ message: String) -> OperationError { BundleVerification.failed("checkpoint: " + message) }

    static func verify(
        _ value: JSON?, logKey: BundleVerification.NoteKey, nextKeyLine: String?, witnesses: [BundleVerification.NoteKey]
    ) throws -> CheckpointText {
        guard let note = value?.string else { throw failed("not a string") }
        guard let parsed = try? SignedNote.parse(note) else {
            throw failed("not a signed note (text, a blank line, signature lines)")
        }
        let lines = parsed.text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        // A fifth line only on the checkpoint that ends with a key rotation: its next-key line.
        if let nextKeyLine {
            guard lines.count == 5, lines[4] + "\n" == nextKeyLine else {
                throw failed("its last entry is a key rotation, but its fifth line is not the next-key line naming the new key")
            }
        } else {
            guard lines.count == 4 else {
                throw failed("\(lines.count) text lines, not four (origin, size, root, stream-heads line)")
            }
        }
        guard lines[0] == logKey.name else {
            throw failed("origin '\(BundleVerification.printable(String(lines[0])))' is not the key's '\(logKey.name)'")
        }
        guard let size = UInt64(lines[1]), size > 0, String(size) == lines[1] else {
            throw failed("the tree size is not a decimal number of 1 or more")
        }
        guard let rootBytes = Base64.decode(String(lines[2])), let root = Digest(rootBytes) else {
            throw failed("the root is not base64 of 32 bytes")
        }
        guard lines[3].hasPrefix(BundleVerification.streamHeadsPrefix) else {
            throw failed("the fourth line is not the stream-heads line")
        }
        guard let headsBytes = Base64.decode(String(lines[3].dropFirst(BundleVerification.streamHeadsPrefix.count))),
            let streamHeadsRoot = Digest(headsBytes)
        else { throw failed("the stream-heads root is not base64 of 32 bytes") }

        let text = Array(parsed.text.utf8)
        let cosignatureID = SignedNote.keyID(name: logKey.name, publicKey: logKey.publicKey, type: SignedNote.cosignatureType)
        var (noteSignatures, cosignatures, signedAt): (Int, Int, UInt64) = (0, 0, 0)
        for line in parsed.signatures where line.name == logKey.name {
            let id = Array(line.blob.prefix(4))
            if id == logKey.keyID {
                guard line.blob.count == 68, logKey.publicKey.isValidSignature(Array(line.blob.dropFirst(4)), for: text) else {
                    throw failed("the note signature by the log key does not verify")
                }
                noteSignatures += 1
            } else if id == cosignatureID {
                guard let time = cosignatureTime(line.blob, text: text, key: logKey.publicKey) else {
                    throw failed("the cosignature/v1 line by the log key does not verify")
                }
                cosignatures += 1
                signedAt = time
            }
        }
        guard noteSignatures == 1, cosignatures == 1 else {
            throw failed(
                "expected one note signature and one cosignature/v1 line by the log key, found \(noteSignatures) and \(cosignatures)")
        }

        var cosigned: [BundleVerification.Report.Cosignature] = []
        for witness in witnesses {
            let named = "witness \(witness.name) (\(Hex.encode(witness.keyID)))"
            var time: UInt64?
            for line in parsed.signatures where line.name == witness.name && Array(line.blob.prefix(4)) == witness.keyID {
                guard let at = cosignatureTime(line.blob, text: text, key: witness.publicKey) else {
                    throw failed("the cosignature of \(named) does not verify")
                }
                time = at
            }
            guard let time else { throw failed("no cosignature by \(named)") }
            cosigned.append(.init(name: witness.name, keyID: Hex.encode(witness.keyID), timestampSeconds: time))
        }
        return CheckpointText(size: size, root: root, streamHeadsRoot: streamHeadsRoot, signedAtSeconds: signedAt, witnesses: cosigned)
    }

    /// The timestamp of a `cosignature/v1` blob (key ID ‖ time ‖ signature) when it verifies.
    static func cosignatureTime(_ blob: [UInt8], text: [UInt8], key: PublicKey) -> UInt64? {
        guard blob.count == 4 + 8 + Signature.byteCount else { return nil }
        let time = blob[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let message = Array("cosignature/v1\ntime \(time)\n".utf8) + text
        return key.isValidSignature(Array(blob.suffix(Signature.byteCount)), for: message) ? time : nil
    }
}

/// An entry of a bundle, parsed and checked by rule 4, kept for rule 5.
struct BundleEntry {
    let version: UInt64
    let position: UInt64
    let eventType: String
    let payload: [UInt8]
    let fields: JSON?
}

/// Rule 4 for one stream.
struct StreamCheck {
    let name: String
    let checkpoint: CheckpointText
    /// The log's keys: each entry is signed by the one current at its position.
    let chain: KeyChain

    func failed(_ message: String) -> OperationError { BundleVerification.failed("\(name): " + message) }

    func run(_ stream: JSON) throws -> [BundleEntry] {
        var head: BundleVerification.Head?
        if stream["head"] != .null {
            guard let value = stream["head"], value.members?.count == 2, let version = value["version"]?.uint64, version > 0,
                let position = value["position"]?.uint64
            else { throw failed("head is neither null nor {version, position}") }
            head = BundleVerification.Head(version: version, position: position)
        }
        guard let items = stream["entries"]?.array else { throw failed("entries is not a list") }
        var entries: [BundleEntry] = []
        for (index, item) in items.enumerated() {
            entries.append(try entry(item, number: index + 1))
        }
        if head == nil, !entries.isEmpty { throw failed("head is null but the stream has \(entries.count) entries") }
        if let head {
            guard let last = entries.last else {
                throw failed("head is version \(head.version) at position \(head.position) but the stream has no entries")
            }
            guard last.version == head.version, last.position == head.position else {
                throw failed(
                    "the last entry is version \(last.version) at position \(last.position) but head is version \(head.version) at position \(head.position)"
                )
            }
        }
        let named = "head " + (head.map { "version \($0.version) at position \($0.position)" } ?? "null")
        let proof = try headProof(stream["headProof"], head: head, named: named)
        guard proof.root(stream: Array(name.utf8)) == checkpoint.streamHeadsRoot else {
            throw failed("\(named): the head proof does not give the checkpoint's stream-heads root")
        }
        return entries
    }

    private func entry(_ item: JSON, number: Int) throws -> BundleEntry {
        guard item.isObject else { throw failed("entry \(number): not an object") }
        guard let position = item["position"]?.uint64, let signed = item["signedBytes"]?.string.flatMap(Base64.decode),
            let signature = item["signature"]?.string.flatMap(Base64.decode), signature.count == Signature.byteCount,
            let proofItems = item["inclusionProof"]?.array
        else { throw failed("entry \(number): position, signedBytes, signature or inclusionProof is missing or malformed") }
        let record = signed + signature
        return try record.withUnsafeBytes { bytes throws -> BundleEntry in
            let view: EntryView
            do { view = try EntryView(record: bytes) } catch {
                throw failed(
                    "entry \(number) (position \(position)): the signed bytes do not parse: \((error as? EntryView.Malformed)?.reason ?? "\(error)")"
                )
            }
            let version = view.streamVersion
            let at = "version \(version) (position \(position))"
            guard view.stream.elementsEqual(name.utf8) else {
                throw failed(
                    "\(at): the entry belongs to stream '\(BundleVerification.printable(String(decoding: view.stream, as: UTF8.self)))'")
            }
            let signer = chain.key(forEntryAt: view.position)
            guard view.keyID.elementsEqual(chain.keyID(signer)) else {
                throw failed(
                    "\(at): key ID \(Hex.encode(view.keyID)) is not that of the log key current at its position, \(Hex.encode(chain.keyID(signer)))"
                )
            }
            guard signer.isValidSignature(view.signature, for: view.signedBytes) else {
                throw failed("\(at): the entry signature does not verify")
            }
            guard view.position == position else { throw failed("\(at): the signed bytes say position \(view.position)") }
            guard position < checkpoint.size else {
                throw failed("\(at): the position is not below the checkpoint's size \(checkpoint.size)")
            }
            let proof = proofItems.map { $0.string.flatMap(Base64.decode).flatMap(Digest.init) }
            guard !proof.contains(nil),
                MerkleProof.verifyInclusion(
                    leafHash: view.leafHash, index: position, treeSize: checkpoint.size, proof: proof.map { $0! }, root: checkpoint.root)
            else { throw failed("\(at): the inclusion proof does not verify against the checkpoint's root") }
            guard version == UInt64(number) else {
                throw failed("\(at): expected version \(number) here (versions 1, 2, ... with no gap)")
            }
            return BundleEntry(
                version: version, position: position, eventType: String(decoding: view.eventType, as: UTF8.self),
                payload: Array(view.payload), fields: item["fields"])
        }
    }

    /// Bit `index` of a map key, from the most significant bit of its first byte (Formats.md).
    static func bit(_ key: [UInt8], _ index: Int) -> UInt8 { (key[index / 8] >> UInt8(7 - index % 8)) & 1 }

    /// The bundle's `headProof` as a `StreamHeadProof`, its terminal agreeing with `head`.
    private func headProof(_ value: JSON?, head: BundleVerification.Head?, named: String) throws -> StreamHeadProof {
        guard let value, let members = value.members, members.count == 2, let siblingItems = value["siblings"]?.array,
            let terminalValue = value["terminal"]
        else { throw failed("\(named): headProof is not {siblings, terminal}") }
        let siblings = siblingItems.map { $0.string.flatMap(Base64.decode).flatMap(Digest.init) }
        guard !siblings.contains(nil), siblings.count <= 256 else {
            throw failed("\(named): headProof siblings are not up to 256 base64 hashes of 32 bytes")
        }
        let terminal: StreamHeadProof.Terminal
        switch terminalValue {
        case .string("head"):
            guard head != nil else { throw failed("\(named): head is null but the head proof's terminal is \"head\"") }
            terminal = .head
        case _ where head != nil:
            throw failed(
                "\(named): head is version \(head!.version) at position \(head!.position) but the head proof's terminal is not \"head\" (it proves the stream absent)"
            )
        case .string("empty"):
            terminal = .empty
        case .object(let fields) where fields.count == 3:
            guard let key = terminalValue["key"]?.string.flatMap(Base64.decode).flatMap(Digest.init),
                let version = terminalValue["version"]?.uint64, let position = terminalValue["position"]?.uint64
            else { throw failed("\(named): the head proof's terminal is malformed") }
            let own = StreamHeadMap.key(stream: Array(name.utf8)).bytes
            let other = key.bytes
            let sharesPath = (0..<siblings.count).allSatisfy { Self.bit(other, $0) == Self.bit(own, $0) }
            guard other != own, sharesPath else {
                throw failed("\(named): the head proof's terminal is not another stream's leaf on this stream's path")
            }
            terminal = .otherStream(key: key, head: StreamHead(version: version, position: position))
        default:
            throw failed("\(named): the head proof's terminal is malformed")
        }
        return StreamHeadProof(
            head: head.map { StreamHead(version: $0.version, position: $0.position) }, siblings: siblings.map { $0! }, terminal: terminal)
    }
}

/// Rule 5 for one stream: domain payloads, and the fields in clear against their sealed bytes.
struct PayloadCheck {
    let stream: String
    let dataKey: SecretKey?

    func run(_ entries: [BundleEntry]) throws {
        let associatedPrefix = Array("fascicolo/sealed/v1".utf8) + [0] + Array(stream.utf8) + [0]
        for entry in entries {
            let at = "\(stream): version \(entry.version) (position \(entry.position))"
            func failed(_ message: String) -> OperationError { BundleVerification.failed("\(at): " + message) }
            guard let payload = try? JSON.parse(entry.payload) else { throw failed("the payload is not JSON") }
            guard payload.isObject else { throw failed("the payload is not a JSON object (a domain payload)") }
            let sealedValue = payload["sealed"]
            var box: [UInt8]?
            if let sealedValue {
                guard let bytes = sealedValue.string.flatMap(Base64.decode), bytes.count >= SecretKey.sealOverhead else {
                    throw failed("sealed is not base64 of nonce, ciphertext and tag")
                }
                box = bytes
            }
            if entry.fields != nil && box == nil { throw failed("fields given but the payload has nothing sealed") }
            if entry.fields != nil && dataKey == nil { throw failed("fields given but dataKey is null") }
            if box != nil && dataKey != nil && entry.fields == nil {
                throw failed("the payload has sealed fields but the bundle gives no fields for it")
            }
            guard let fields = entry.fields, let box, let dataKey else { continue }
            guard let clear = dataKey.open(box, associatedData: associatedPrefix + Array(entry.eventType.utf8)) else {
                throw failed("sealed does not open with dataKey")
            }
            guard let opened = try? JSON.parse(clear) else { throw failed("sealed opens to something that is not JSON") }
            guard opened.isObject, JSONValue.equal(opened, fields) else { throw failed("fields do not match the sealed bytes") }
        }
    }
}

/// Equality of JSON values as Formats.md means it for `fields`: objects with the same members
/// in any order, arrays element by element, numbers by their value (`1.0` is `1`, `true` is not).
enum JSONValue {
    static func equal(_ left: JSON, _ right: JSON) -> Bool {
        switch (left, right) {
        case (.object(let a), .object(let b)):
            return a.count == b.count && a.allSatisfy { member in right[member.key].map { equal(member.value, $0) } ?? false }
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { equal($0, $1) }
        case (.number(let a), .number(let b)):
            return a == b || (decimal(a).map { value in decimal(b).map { $0 == value } ?? false } ?? false)
        default:
            return left == right
        }
    }

    /// A number's text as (negative, significant digits, exponent) with no leading or trailing
    /// zeros in the digits: two numbers are equal exactly when these are.
    static func decimal(_ text: String) -> Decimal? {
        var rest = Substring(text)
        let negative = rest.first == "-"
        if negative { rest = rest.dropFirst() }
        var exponent = 0
        if let e = rest.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let value = Int(rest[rest.index(after: e)...].drop { $0 == "+" }) else { return nil }
            exponent = value
            rest = rest[..<e]
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        var digits = Substring(parts[0] + fraction).drop { $0 == "0" }
        exponent -= fraction.count
        while digits.last == "0" {
            digits = digits.dropLast()
            exponent += 1
        }
        if digits.isEmpty { return Decimal(negative: false, digits: "", exponent: 0) }
        return Decimal(negative: negative, digits: String(digits), exponent: exponent)
    }

    struct Decimal: Equatable {
        let negative: Bool
        let digits: String
        let exponent: Int
    }
}

extension String {
    var trimmingWhitespace: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
