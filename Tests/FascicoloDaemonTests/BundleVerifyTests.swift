import FascicoloCrypto
import FascicoloJSON
import FascicoloTesting
import Foundation
import Glibc
import Testing

/// Person bundles exported by a real daemon (real LMDB) verify with both verifiers — `fascicolo
/// bundle verify` and `tools/verify-bundle.py`, written from Formats.md alone — and every
/// tampering is refused by both, the failure naming what was tampered with.
@Suite(.serialized) struct BundleVerifyTests {
    @Test func theCLIVerifierAcceptsExportedBundlesAndRefusesEveryTampering() throws {
        try withBundles { fixtures in try fixtures.check(with: [.swift]) }
    }

    @Test(.enabled(if: pythonBundleVerifierAvailable(), "python3 with pynacl (tools/bootstrap installs it)"))
    func thePythonVerifierAgreesOnEveryBundleAndTampering() throws {
        try withBundles { fixtures in try fixtures.check(with: [.swift, .python]) }
    }

    /// A person with a long history and another erased, exported through the CLI; the tampered
    /// bundles made from them.
    func withBundles(_ body: (BundleFixtures) throws -> Void) throws {
        try withDaemon(access: "auditor = \"uid:4242\"") { daemon in
            try body(try BundleFixtures(daemon: daemon))
        }
    }
}

func pythonBundleVerifierAvailable() -> Bool {
    access("tools/verify-bundle.py", R_OK) == 0 && ((try? runProcess("/usr/bin/env", ["python3", "-c", "import nacl"]).status) == 0)
}

enum BundleVerifierKind: CaseIterable { case swift, python }

/// Runs one verifier on a bundle file: (exit status, output).
func verifyBundle(_ kind: BundleVerifierKind, _ file: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    switch kind {
    case .swift: try cli(["bundle", "verify", file] + arguments)
    case .python: try runProcess("/usr/bin/env", ["python3", "tools/verify-bundle.py", file] + arguments)
    }
}

struct BundleFixtures {
    static let personA = "RSSMRA85T10A562S"
    static let personB = "VRDLGU70A41F052O"
    static let actor = #""actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"}"#

    let daemon: RunningDaemon
    let key: String
    /// Person A's bundle (the long history) and its parsed form; A's older bundle (fewer entries,
    /// an older checkpoint); B's bundle (erased).
    let bundle: JSON
    let older: JSON
    let erased: JSON
    let pseudonym: String

    init(daemon: RunningDaemon) throws {
        self.daemon = daemon
        key = readFile(daemon.directory + "/data/signing.pub").trimmingCharacters(in: .whitespacesAndNewlines)
        try Self.recordLongHistory(daemon)
        let olderFile = try Self.export(daemon, person: Self.personA, purpose: "court request 2026/77", name: "older")
        // More of A's history after the first export, so the two bundles have different checkpoints.
        try Self.record(
            daemon, Self.personA,
            #"{"type":"ReviewHeld","occurredAt":"2026-03-01","data":{"date":"2026-03-01","nextReviewDue":"2026-06-01","findings":"Progressi costanti"}}"#
        )
        for _ in 0..<3 { _ = try daemon.json("/v1/persons/case-file", headers: ["Fascicolo-Person: " + Self.personA]) }
        let file = try Self.export(daemon, person: Self.personA, purpose: "court request 2026/78", name: "current")

        try Self.record(
            daemon, Self.personB,
            #"{"type":"PersonRegistered","occurredAt":"2026-02-01","data":{"birthYear":1990,"sex":"F","citizenship":"italian","comuneOfResidence":"G942","givenName":"Chiara","familyName":"Bianchi"}}"#,
            #"{"type":"CaseOpened","occurredAt":"2026-02-02","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}}"#)
        _ = try daemon.json("/v1/persons/case-file", headers: ["Fascicolo-Person: " + Self.personB])
        let erasure = #"{"person":"\#(Self.personB)","legalGround":"art17_request","reference":"prot. 2026/118"}"#
        let erasedAnswer = try daemon.call("/v1/persons/erasure", method: "POST", body: erasure)
        try #require(erasedAnswer.status == 201, "\(erasedAnswer.body)")
        let erasedFile = try Self.export(daemon, person: Self.personB, purpose: "art. 15 request", name: "erased")

        bundle = try JSON.parse(Array(readFile(file).utf8))
        older = try JSON.parse(Array(readFile(olderFile).utf8))
        erased = try JSON.parse(Array(readFile(erasedFile).utf8))
        pseudonym = try #require(bundle["person"]?.string)
    }

    static func record(_ daemon: RunningDaemon, _ person: String, _ events: String..., sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        let body = #"{"person":"\#(person)",\#(actor),"events":[\#(events.joined(separator: ","))]}"#
        let answer = try daemon.call("/v1/persons/events", method: "POST", body: body)
        try #require(answer.status == 201, "\(answer.body)", sourceLocation: sourceLocation)
    }

    /// Registration, case opened, an assessment, a plan, interventions and deliveries, a
    /// Rectified, a Voided, a Restricted, and many reads (each a RecordAccessed entry).
    static func recordLongHistory(_ daemon: RunningDaemon) throws {
        let a = personA
        try record(
            daemon, a,
            #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"G942","givenName":"Mario","familyName":"Rossi","address":"Via Pretoria 12, Potenza"}}"#
        )
        try record(
            daemon, a,
            #"{"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}}"#,
            #"{"type":"CaseManagerAssigned","occurredAt":"2026-01-12","data":{"operator":"op-7"}}"#,
            #"{"type":"TakenInCharge","occurredAt":"2026-01-15","data":{"date":"2026-01-15","basis":"request"}}"#)
        try record(
            daemon, a,
            #"{"type":"PreliminaryAnalysisCompleted","occurredAt":"2026-01-18","data":{"outcome":"simple_pact","date":"2026-01-18","summary":"Casa in affitto, lavoro saltuario"}}"#
        )
        try record(
            daemon, a,
            #"{"type":"PlanDrafted","occurredAt":"2026-01-20","data":{"objectives":["Trovare un lavoro stabile"],"supports":["SAD"]}}"#,
            #"{"type":"PlanSigned","occurredAt":"2026-01-22","data":{"plan":6,"date":"2026-01-22","signatories":["Mario Rossi"]}}"#,
            #"{"type":"InterventionRequested","occurredAt":"2026-01-23","data":{"code":"SAD","provider":"Coop Aurora","fundingLine":"fnps","notes":"Mario preferisce il mattino"}}"#
        )
        try record(daemon, a, #"{"type":"InterventionStarted","occurredAt":"2026-01-26","data":{"intervention":8,"date":"2026-01-26"}}"#)
        for day in 27...31 {
            try record(
                daemon, a,
                #"{"type":"ServiceDelivered","occurredAt":"2026-01-\#(day)","data":{"intervention":8,"date":"2026-01-\#(day)","minutes":60}}"#
            )
            _ = try daemon.json("/v1/persons/case-file", headers: ["Fascicolo-Person: " + a])
        }
        try record(
            daemon, a,
            #"{"type":"Rectified","occurredAt":"2026-02-03","data":{"target":1,"field":"address","newValue":"Via Roma 1, Potenza","oldValue":"Via Pretoria 12, Potenza","reason":"cambio di residenza","authorisedBy":"op-7"}}"#
        )
        try record(
            daemon, a,
            #"{"type":"Voided","occurredAt":"2026-02-04","data":{"target":11,"reason":"registrata due volte","authorisingAct":"det. 3/2026"}}"#
        )
        try record(daemon, a, #"{"type":"Restricted","occurredAt":"2026-02-05","data":{"target":5,"ground":"accuracy_contested"}}"#)
        for _ in 0..<20 {
            _ = try daemon.json("/v1/persons/case-file", as: 4242, headers: ["Fascicolo-Person: " + a, "Fascicolo-Purpose: audit 2026/14"])
        }
    }

    /// `fascicolo person export` into a file of the daemon's directory; returns its path.
    static func export(_ daemon: RunningDaemon, person: String, purpose: String, name: String) throws -> String {
        let file = daemon.directory + "/\(name).bundle.json"
        let exported = try cli(daemon, ["person", "export", "--person", person, "--purpose", purpose, "--out", file])
        try #require(exported.status == 0, "\(exported.output)")
        return file
    }

    // MARK: - The cases

    struct Case {
        let name: String
        let bundle: JSON
        var arguments: [String] = []
        /// nil: it verifies; otherwise what the failure must say.
        let failure: String?
        /// For a bundle that verifies: lines its report must hold.
        var established: [String] = []
    }

    var streamA: String { "person:\(pseudonym)" }
    var accessA: String { "access:\(pseudonym)" }

    func check(with verifiers: [BundleVerifierKind]) throws {
        let cases = try makeCases()
        for testCase in cases {
            let file = daemon.directory + "/case.json"
            try writeFile(file, testCase.bundle.compact)
            var outputs: [String] = []
            for verifier in verifiers {
                let result = try verifyBundle(verifier, file, testCase.arguments)
                outputs.append(result.output)
                if let failure = testCase.failure {
                    #expect(result.status == 1, "\(verifier) \(testCase.name): \(result.output)")
                    #expect(result.output.contains("FAILED: " + failure), "\(verifier) \(testCase.name): \(result.output)")
                } else {
                    #expect(result.status == 0 && result.output.hasPrefix("OK:"), "\(verifier) \(testCase.name): \(result.output)")
                    for line in testCase.established {
                        #expect(result.output.contains(line), "\(verifier) \(testCase.name): \(line) in \(result.output)")
                    }
                }
            }
            // The two verifiers say the same, line for line.
            if outputs.count == 2 { #expect(outputs[0] == outputs[1], "\(testCase.name)") }
        }
    }

    func makeCases() throws -> [Case] {
        let key = ["--key", key]
        let wrongKey = Self.otherLogKey(like: self.key)
        let entries = try #require(bundle["streams"]?.array?[0]["entries"]?.array)
        let count = entries.count
        let head = try #require(bundle["streams"]?.array?[0]["head"])
        let accessCount = try #require(bundle["streams"]?.array?[1]["entries"]?.array?.count)
        #expect(size(older) < size(bundle) && count > 15 && accessCount > 20, "a long history, exported twice")
        let lastPosition = try #require(entries.last?["position"]?.uint64)
        let (witness, witnessKey) = Self.witness(name: "witness.example/w1")
        let (otherWitness, _) = Self.witness(name: "witness.example/w1")  // the same name, another key
        let cosigned = try Self.cosign(bundle, witness: witness, name: "witness.example/w1")
        let erasedEntries = try #require(erased["streams"]?.array?[0]["entries"]?.array)
        let sealedVersion = try #require(entries.firstIndex { $0["fields"] != nil }) + 1
        let fields = try #require(entries[sealedVersion - 1]["fields"])
        let stray = entries[3]  // an entry of A, dropped into B's bundle

        var cases: [Case] = [
            // The bundles as exported.
            Case(
                name: "long history", bundle: bundle, arguments: key, failure: nil,
                established: [
                    ", the key given with --key", "  checkpoint: size \(size(bundle)), signed ", "  person:     \(pseudonym)",
                    "  \(streamA): \(count) entries, head version \(count) at position \(lastPosition), complete up to size \(size(bundle))",
                    "  \(accessA): \(accessCount) entries, head version \(accessCount) at position ",
                    "  fields:     in clear, each matching its sealed bytes", "  witnesses:  none asked for (--witness)",
                    "for purpose 'court request 2026/78'",
                ]),
            Case(
                name: "long history, key from the bundle", bundle: bundle, failure: nil,
                established: ["key taken from the bundle itself"]),
            Case(
                name: "older export", bundle: older, arguments: key, failure: nil,
                established: [
                    "  checkpoint: size \(size(older)), signed ", "  \(streamA): \(count - 1) entries, head version \(count - 1) ",
                ]),
            Case(
                name: "erased person", bundle: erased, arguments: key, failure: nil,
                established: ["  fields:     erased (dataKey is null; the person stream holds ErasureExecuted)"]),
            Case(
                name: "cosigned by the witness", bundle: cosigned, arguments: key + ["--witness", witnessKey], failure: nil,
                established: ["  witness:    witness.example/w1 (\(witnessKey.split(separator: "+")[1])) cosigned, at 2025-12-06T05:46:40Z"]
            ),

            // Entries dropped, added, replaced.
            Case(
                name: "an entry dropped from the middle",
                bundle: bundle.editing(["streams", 0, "entries"]) { $0?.removingElement(at: 5) },
                arguments: key, failure: "\(streamA): version 7 (position"),
            Case(
                name: "the last entry dropped, head as is",
                bundle: bundle.editing(["streams", 0, "entries"]) { $0?.removingElement(at: count - 1) },
                arguments: key,
                failure: "\(streamA): the last entry is version \(count - 1) at position"),
            Case(
                name: "the last entry dropped, head edited to match",
                bundle: bundle.editing(["streams", 0, "entries"]) { $0?.removingElement(at: count - 1) }
                    .editing(["streams", 0, "head"]) { _ in
                        .object([("version", .number("\(count - 1)")), ("position", entries[count - 2]["position"]!)])
                    },
                arguments: key,
                failure:
                    "\(streamA): head version \(count - 1) at position \(entries[count - 2]["position"]!.uint64!): the head proof does not give the checkpoint's stream-heads root"
            ),
            Case(
                name: "an entry of another person added",
                bundle: erased.editing(["streams", 0, "entries"]) { $0?.appendingElement(stray) },
                arguments: key,
                failure:
                    "person:\(erased["person"]!.string!): version 4 (position \(stray["position"]!.uint64!)): the entry belongs to stream '\(streamA)'"
            ),

            // An older checkpoint with a shorter history, and the other way round.
            Case(
                name: "the older checkpoint in the newer bundle",
                bundle: bundle.editing(["checkpoint"]) { _ in older["checkpoint"] }, arguments: key,
                failure: "\(streamA): version 1 (position"),
            Case(
                name: "the newer checkpoint in the older bundle",
                bundle: older.editing(["checkpoint"]) { _ in bundle["checkpoint"] }, arguments: key,
                failure: "\(streamA): version 1 (position"),

            // A byte flipped anywhere.
            Case(
                name: "a flipped byte in signed bytes",
                bundle: bundle.editing(["streams", 0, "entries", 2, "signedBytes"]) { $0.flatMap(Self.flipLastByte) },
                arguments: key,
                failure: "\(streamA): version 3 (position \(entries[2]["position"]!.uint64!)): the entry signature does not verify"),
            Case(
                name: "a flipped byte in a signature",
                bundle: bundle.editing(["streams", 1, "entries", 0, "signature"]) { $0.flatMap(Self.flipLastByte) },
                arguments: key, failure: "\(accessA): version 1 (position"),
            Case(
                name: "a flipped byte in an inclusion proof",
                bundle: bundle.editing(["streams", 0, "entries", 4, "inclusionProof", 0]) { $0.flatMap(Self.flipLastByte) },
                arguments: key,
                failure:
                    "\(streamA): version 5 (position \(entries[4]["position"]!.uint64!)): the inclusion proof does not verify against the checkpoint's root"
            ),
            Case(
                name: "a flipped byte in a head-proof sibling",
                bundle: bundle.editing(["streams", 0, "headProof", "siblings", 0]) { $0.flatMap(Self.flipLastByte) },
                arguments: key,
                failure:
                    "\(streamA): head version \(count) at position \(lastPosition): the head proof does not give the checkpoint's stream-heads root"
            ),
            Case(
                name: "a flipped byte in the checkpoint's root",
                bundle: bundle.editing(["checkpoint"]) { $0.flatMap(Self.flipRoot) },
                arguments: key, failure: "checkpoint: the note signature by the log key does not verify"),
            Case(
                name: "a flipped byte in the checkpoint's stream-heads root",
                bundle: bundle.editing(["checkpoint"]) { $0.flatMap(Self.flipStreamHeadsRoot) },
                arguments: key, failure: "checkpoint: the note signature by the log key does not verify"),

            // Proofs and heads forged.
            Case(
                name: "the head proof of the other stream",
                bundle: bundle.editing(["streams", 0, "headProof"]) { _ in bundle["streams"]!.array![1]["headProof"] },
                arguments: key,
                failure:
                    "\(streamA): head version \(count) at position \(lastPosition): the head proof does not give the checkpoint's stream-heads root"
            ),
            Case(
                name: "a forged head: version + 1",
                bundle: bundle.editing(["streams", 0, "head", "version"]) { _ in .number("\(count + 1)") },
                arguments: key,
                failure:
                    "\(streamA): the last entry is version \(count) at position \(lastPosition) but head is version \(count + 1) at position \(lastPosition)"
            ),
            Case(
                name: "a forged head: another position",
                bundle: bundle.editing(["streams", 0, "head", "position"]) { _ in .number("\(lastPosition + 1)") },
                arguments: key,
                failure:
                    "\(streamA): the last entry is version \(count) at position \(lastPosition) but head is version \(count) at position \(lastPosition + 1)"
            ),
            Case(
                name: "the person stream's head given for the access stream",
                bundle: bundle.editing(["streams", 0, "head"]) { _ in head }.editing(["streams", 1, "head"]) { _ in head },
                arguments: key, failure: "\(accessA): the last entry is version"),

            // Fields in clear and the data key.
            Case(
                name: "fields that do not match their sealed bytes",
                bundle: bundle.editing(["streams", 0, "entries", .element(sealedVersion - 1), "fields"]) { _ in
                    .object((fields.members ?? []).enumerated().map { $0 == 0 ? ($1.key, .string("Verdi")) : ($1.key, $1.value) })
                },
                arguments: key,
                failure:
                    "\(streamA): version \(sealedVersion) (position \(entries[sealedVersion - 1]["position"]!.uint64!)): fields do not match the sealed bytes"
            ),
            Case(
                name: "fields removed while dataKey is there",
                bundle: bundle.editing(["streams", 0, "entries", .element(sealedVersion - 1), "fields"]) { _ in nil },
                arguments: key,
                failure:
                    "\(streamA): version \(sealedVersion) (position \(entries[sealedVersion - 1]["position"]!.uint64!)): the payload has sealed fields but the bundle gives no fields for it"
            ),
            Case(
                name: "dataKey nulled on a person not erased",
                bundle: bundle.editing(["dataKey"]) { _ in .null }, arguments: key,
                failure:
                    "dataKey is null but \(streamA) has no ErasureExecuted entry (the person was not erased), and \(streamA): version 1 (position"
            ),

            // Witnesses and keys.
            Case(
                name: "no cosignature by the witness asked for",
                bundle: bundle, arguments: key + ["--witness", witnessKey],
                failure: "checkpoint: no cosignature by witness witness.example/w1"),
            Case(
                name: "a foreign cosignature: another key under the witness's name",
                bundle: try Self.cosign(bundle, witness: otherWitness, name: "witness.example/w1"),
                arguments: key + ["--witness", witnessKey],
                failure: "checkpoint: no cosignature by witness witness.example/w1"),
            Case(
                name: "a cosignature by the witness on another checkpoint",
                bundle: try Self.cosignOther(bundle, other: older, witness: witness, name: "witness.example/w1"),
                arguments: key + ["--witness", witnessKey],
                failure: "checkpoint: the cosignature of witness witness.example/w1"),
            Case(
                name: "a wrong --key", bundle: bundle, arguments: ["--key", wrongKey],
                failure: "verifierKey is not the key given with --key"),
            Case(
                name: "a wrong key in the bundle, and given", bundle: bundle.editing(["verifierKey"]) { _ in .string(wrongKey) },
                arguments: ["--key", wrongKey],
                failure: "checkpoint: expected one note signature and one cosignature/v1 line by the log key, found 0 and 0"),
        ]
        // The erased person's bundle: the history verifies, the fields cannot be given back.
        if let sealedErased = erasedEntries.first {
            cases.append(
                Case(
                    name: "fields added to an erased person's bundle",
                    bundle: erased.editing(["streams", 0, "entries", 0, "fields"]) { _ in .object([("familyName", .string("Bianchi"))]) },
                    arguments: key,
                    failure:
                        "person:\(erased["person"]!.string!): version 1 (position \(sealedErased["position"]!.uint64!)): fields given but dataKey is null"
                ))
        }
        return cases
    }

    /// The checkpoint's tree size.
    func size(_ bundle: JSON) -> UInt64 {
        bundle["checkpoint"]?.string.flatMap { UInt64($0.split(separator: "\n")[1]) } ?? 0
    }

    // MARK: - Tampering tools

    /// Base64 text with its last decoded byte flipped.
    static func flipLastByte(_ value: JSON) -> JSON? {
        guard var bytes = value.string.flatMap(Base64.decode), !bytes.isEmpty else { return nil }
        bytes[bytes.count - 1] ^= 0x01
        return .string(Base64.encode(bytes))
    }

    /// The checkpoint note with one bit of its root hash flipped (still valid base64).
    static func flipRoot(_ value: JSON) -> JSON? {
        guard let note = value.string else { return nil }
        var lines = note.components(separatedBy: "\n")
        guard var root = Base64.decode(lines[2]) else { return nil }
        root[0] ^= 0x80
        lines[2] = Base64.encode(root)
        return .string(lines.joined(separator: "\n"))
    }

    /// The checkpoint note with one bit of its stream-heads root flipped (still valid base64).
    static func flipStreamHeadsRoot(_ value: JSON) -> JSON? {
        guard let note = value.string else { return nil }
        var lines = note.components(separatedBy: "\n")
        let parts = lines[3].split(separator: " ").map(String.init)
        guard parts.count == 2, var root = Base64.decode(parts[1]) else { return nil }
        root[31] ^= 0x01
        lines[3] = parts[0] + " " + Base64.encode(root)
        return .string(lines.joined(separator: "\n"))
    }

    /// A witness's key: its signing key and its vkey `name+id+base64(0x04 ‖ key)`.
    static func witness(name: String) -> (SigningKey, String) {
        let key = SigningKey()
        let id = SignedNote.keyID(name: name, publicKey: key.publicKey, type: SignedNote.cosignatureType)
        return (key, "\(name)+\(Hex.encode(id))+\(Base64.encode([SignedNote.cosignatureType] + key.publicKey.bytes))")
    }

    /// Another log's key under the same origin as `key`.
    static func otherLogKey(like key: String) -> String {
        SignedNote.verifierKey(name: String(key.prefix { $0 != "+" }), publicKey: SigningKey().publicKey)
    }

    /// The bundle with a witness's cosignature line added to its checkpoint.
    static func cosign(_ bundle: JSON, witness: SigningKey, name: String) throws -> JSON {
        let note = try #require(bundle["checkpoint"]?.string)
        let text = try #require(note.components(separatedBy: "\n\n").first) + "\n"
        let line = SignedNote.cosignatureLine(text: text, name: name, key: witness, timestampSeconds: 1_765_000_000)
        return bundle.editing(["checkpoint"]) { _ in .string(note + line) }
    }

    /// The bundle with a witness's cosignature of another checkpoint (`other`'s) added to its checkpoint.
    static func cosignOther(_ bundle: JSON, other: JSON, witness: SigningKey, name: String) throws -> JSON {
        let note = try #require(bundle["checkpoint"]?.string)
        let otherText = try #require(other["checkpoint"]?.string?.components(separatedBy: "\n\n").first) + "\n"
        let line = SignedNote.cosignatureLine(text: otherText, name: name, key: witness, timestampSeconds: 1_765_000_000)
        return bundle.editing(["checkpoint"]) { _ in .string(note + line) }
    }
}

/// Editing a JSON document by path: the tampering the tests do.
enum JSONPathStep: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case member(String)
    case element(Int)
    init(stringLiteral value: String) { self = .member(value) }
    init(integerLiteral value: Int) { self = .element(value) }
}

extension JSON {
    /// This value with the one at `path` replaced by `transform` of it (nil: removed).
    func editing(_ path: [JSONPathStep], _ transform: (JSON?) -> JSON?) -> JSON {
        guard let step = path.first else { return transform(self) ?? .null }
        let rest = Array(path.dropFirst())
        switch (self, step) {
        case (.object(var members), .member(let name)):
            if let index = members.firstIndex(where: { $0.key == name }) {
                if rest.isEmpty, transform(members[index].value) == nil {
                    members.remove(at: index)
                } else {
                    members[index].value = members[index].value.editing(rest, transform)
                }
            } else if rest.isEmpty, let value = transform(nil) {
                members.append((name, value))
            }
            return .object(members)
        case (.array(var elements), .element(let index)) where elements.indices.contains(index):
            if rest.isEmpty, transform(elements[index]) == nil {
                elements.remove(at: index)
            } else {
                elements[index] = elements[index].editing(rest, transform)
            }
            return .array(elements)
        default:
            return self
        }
    }

    func removingElement(at index: Int) -> JSON {
        guard case .array(var elements) = self, elements.indices.contains(index) else { return self }
        elements.remove(at: index)
        return .array(elements)
    }

    func appendingElement(_ element: JSON) -> JSON {
        guard case .array(let elements) = self else { return self }
        return .array(elements + [element])
    }
}
