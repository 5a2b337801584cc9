import FascicoloJSON
import FascicoloLedger
import Hummingbird

/// The log's signing keys: which key signs now, the chain from the first key with the rotation
/// checkpoints that prove each change (any role: none of it is secret), and the rotation itself
/// (admins). Formats.md, "Key rotation".
extension APIRoutes {
    func registerKeys(on groups: RouteGroups) {
        groups.everyRole.get("v1/keys") { _, _ in
            let chain = ledger.keyChain
            let notes = try chain.rotations.map { rotation in
                guard let checkpoint = try ledger.checkpoint(size: rotation.position + 1) else {
                    throw Problem(
                        .internalServerError, code: "storage_damaged",
                        detail: "the checkpoint of the key rotation at position \(rotation.position) is missing")
                }
                return cosignatures.witnessed(checkpoint.note)
            }
            return json(status: .ok, Render.keys(chain, rotationCheckpoints: notes))
        }
        groups.admins.post("v1/admin/keys/rotate") { request, context in
            let peer = try caller(context)
            let body: JSON
            do { body = try JSON.parse(try await jsonBody(request, bytesMax: 1 << 10)) } catch let error as JSON.Malformed {
                throw Problem.badRequest("\(error)")
            }
            for member in body.members ?? [] where member.key != "retire" {
                throw Problem.badRequest("an unknown member (the one member is retire)")
            }
            guard let text = body["retire"]?.string, let retire = KeyRetirement(rawValue: text) else {
                throw Problem(
                    .unprocessableContent, code: "schema_violation", detail: "retire is keep or destroy", field: "retire")
            }
            do {
                let result = try await ledger.rotateKey(author: policy.author(uid: peer.uid), retire: retire)
                var json = JSONBytes()
                json.object { json in
                    json.member("position", result.position)
                    json.member("previousKey", result.previousVerifierKey)
                    json.member("newKey", result.newVerifierKey)
                    json.member("retired", retire.rawValue)
                }
                return FascicoloServer.json(status: .created, json.bytes)
            } catch let error as LedgerError { throw Self.problem(for: error) }
        }
    }
}
