import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger

extension PersonBundle {
    /// A bundle that does not have the shape of Formats.md "Person bundles": the member at fault
    /// (`streams[1].entries[4].inclusionProof[2]`) and what is wrong with it. Never repeats a value.
    public struct Malformed: Error, CustomStringConvertible, Sendable, Equatable {
        public let member: String
        public let reason: String
        public var description: String { member.isEmpty ? "not a person bundle: \(reason)" : "not a person bundle: \(member): \(reason)" }
    }

    /// The largest bundle read (the CLI refuses a larger file before parsing it).
    public static let bytesMax = 1 << 30

    /// Reads a bundle: every member of the format present with its type, nothing else, base64
    /// of the right lengths; `format` must be this version's. Nothing is verified here.
    public static func parse(_ bytes: some Collection<UInt8>) throws(Malformed) -> PersonBundle {
        let json: JSON
        do { json = try JSON.parse(bytes) } catch { throw Malformed(member: "", reason: "\(error)") }
        var reader = Reader(path: "")
        return try reader.bundle(json)
    }

    private struct Reader {
        var path: String

        func fail(_ reason: String) -> Malformed { Malformed(member: path, reason: reason) }

        func at(_ member: String) -> Reader { Reader(path: path.isEmpty ? member : path + "." + member) }
        func at(_ index: Int) -> Reader { Reader(path: path + "[\(index)]") }

        func object(_ value: JSON, members names: [String], optional: Set<String> = []) throws(Malformed) -> [String: JSON] {
            guard let members = value.members else { throw fail("not an object") }
            var found: [String: JSON] = [:]
            for member in members {
                guard names.contains(member.key) else { throw fail("an unknown member (the members are \(names.joined(separator: ", ")))") }
                found[member.key] = member.value
            }
            for name in names where found[name] == nil && !optional.contains(name) {
                throw at(name).fail("missing")
            }
            return found
        }

        func string(_ value: JSON?) throws(Malformed) -> String {
            guard let text = value?.string else { throw fail("not a string") }
            return text
        }

        func integer(_ value: JSON?) throws(Malformed) -> UInt64 {
            guard case .number(let text)? = value, let number = UInt64(text), String(number) == text else {
                throw fail("not a non-negative integer")
            }
            return number
        }

        func base64(_ value: JSON?, count: Int? = nil) throws(Malformed) -> [UInt8] {
            guard let text = value?.string, let bytes = Base64.decode(text) else { throw fail("not base64") }
            if let count, bytes.count != count { throw fail("not base64 of \(count) bytes") }
            return bytes
        }

        func digest(_ value: JSON?) throws(Malformed) -> Digest {
            Digest(try base64(value, count: Digest.byteCount))!
        }

        func digests(_ value: JSON?) throws(Malformed) -> [Digest] {
            guard let array = value?.array else { throw fail("not an array") }
            var result: [Digest] = []
            result.reserveCapacity(array.count)
            for (index, element) in array.enumerated() { result.append(try at(index).digest(element)) }
            return result
        }

        mutating func bundle(_ json: JSON) throws(Malformed) -> PersonBundle {
            let members = try object(
                json,
                members: ["format", "verifierKey", "checkpoint", "keyRotations", "person", "exportedAt", "purpose", "dataKey", "streams"],
                optional: ["keyRotations"])
            let format = try at("format").string(members["format"])
            guard format == PersonBundle.format else { throw at("format").fail("not \(PersonBundle.format)") }
            let dataKey: [UInt8]? =
                members["dataKey"] == .null ? nil : try at("dataKey").base64(members["dataKey"], count: SecretKey.byteCount)
            guard let streams = members["streams"]?.array else { throw at("streams").fail("not an array") }
            var read: [Stream] = []
            for (index, stream) in streams.enumerated() { read.append(try at("streams").at(index).stream(stream)) }
            return PersonBundle(
                verifierKey: try at("verifierKey").string(members["verifierKey"]),
                checkpoint: try at("checkpoint").string(members["checkpoint"]),
                keyRotations: try keyRotations(members["keyRotations"]),
                person: try at("person").string(members["person"]),
                exportedAt: try at("exportedAt").string(members["exportedAt"]),
                purpose: try at("purpose").string(members["purpose"]),
                dataKey: dataKey, streams: read)
        }

        /// `keyRotations`: absent (a bundle written before rotations existed) reads as none.
        func keyRotations(_ value: JSON?) throws(Malformed) -> [String] {
            guard let value else { return [] }
            guard let array = value.array else { throw at("keyRotations").fail("not an array") }
            var notes: [String] = []
            for (index, element) in array.enumerated() { notes.append(try at("keyRotations").at(index).string(element)) }
            return notes
        }

        func stream(_ json: JSON) throws(Malformed) -> Stream {
            let members = try object(json, members: ["stream", "head", "headProof", "entries"])
            let head: Head? = members["head"] == .null ? nil : try at("head").head(members["head"]!)
            let proof = try at("headProof").object(members["headProof"]!, members: ["siblings", "terminal"])
            let terminal: HeadProof.Terminal
            switch proof["terminal"]! {
            case .string("head"): terminal = .head
            case .string("empty"): terminal = .empty
            case let other where other.isObject:
                let reader = at("headProof").at("terminal")
                let leaf = try reader.object(other, members: ["key", "version", "position"])
                terminal = .otherStream(
                    key: try reader.at("key").digest(leaf["key"]),
                    head: Head(
                        version: try reader.at("version").integer(leaf["version"]),
                        position: try reader.at("position").integer(leaf["position"])))
            default: throw at("headProof").at("terminal").fail("not \"head\", \"empty\" or another stream's leaf")
            }
            guard let entries = members["entries"]?.array else { throw at("entries").fail("not an array") }
            var read: [Entry] = []
            read.reserveCapacity(entries.count)
            for (index, entry) in entries.enumerated() { read.append(try at("entries").at(index).entry(entry)) }
            return Stream(
                stream: try at("stream").string(members["stream"]), head: head,
                headProof: HeadProof(siblings: try at("headProof").at("siblings").digests(proof["siblings"]), terminal: terminal),
                entries: read)
        }

        func head(_ json: JSON) throws(Malformed) -> Head {
            let members = try object(json, members: ["version", "position"])
            return Head(version: try at("version").integer(members["version"]), position: try at("position").integer(members["position"]))
        }

        func entry(_ json: JSON) throws(Malformed) -> Entry {
            let members = try object(
                json, members: ["position", "signedBytes", "signature", "inclusionProof", "fields"], optional: ["fields"])
            let fields = members["fields"]
            if let fields, !fields.isObject { throw at("fields").fail("not an object") }
            return Entry(
                position: try at("position").integer(members["position"]),
                signedBytes: try at("signedBytes").base64(members["signedBytes"]),
                signature: try at("signature").base64(members["signature"], count: Signature.byteCount),
                inclusionProof: try at("inclusionProof").digests(members["inclusionProof"]), fields: fields)
        }
    }
}
