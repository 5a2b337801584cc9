import FascicoloLedger
import Hummingbird
import NIOCore

/// The log in C2SP tlog-tiles form over the socket, under the prefix `/v1/tlog`: `checkpoint`,
/// `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]` (Formats.md, "Tiles"), so that a
/// transparency-log client pointed at `http://localhost/v1/tlog` (through a proxy, or the Unix
/// socket) reads and verifies the log without Fascicolo's code. Auditors, like the log and its
/// proofs. Tiles are served within the latest checkpoint: what a client can verify.
extension APIRoutes {
    func registerTiles(on groups: RouteGroups) {
        groups.auditors.get("v1/tlog/checkpoint") { _, _ in
            guard let checkpoint = try ledger.latestCheckpoint() else { throw Problem.notFound("no checkpoint has been signed yet") }
            var buffer = ByteBuffer()
            buffer.writeString(cosignatures.witnessed(checkpoint.note))
            // Mutable: "its headers SHOULD prevent caching beyond a few seconds" (tlog-tiles).
            return Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-cache"],
                body: .init(byteBuffer: buffer))
        }
        groups.auditors.get("v1/tlog/tile/**") { _, context in
            let path = "tile/" + context.parameters.getCatchAll().joined(separator: "/")
            guard let tile = TileAddress(path: path) else {
                throw Problem.notFound("not a tile path: tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>] (C2SP tlog-tiles)")
            }
            let bytes: [UInt8]
            do {
                bytes = try ledger.read { log -> [UInt8] in
                    guard let latest = try log.latestCheckpoint() else { throw TileFailure.notInTree }
                    return try log.tile(tile, treeSize: latest.size)
                }
            } catch TileFailure.notInTree {
                throw Problem.notFound("the latest checkpoint does not cover this tile")
            } catch let failure as TileFailure {
                throw Problem(.unprocessableContent, code: "entry_too_large", detail: "\(failure)")
            }
            var buffer = ByteBuffer()
            buffer.writeBytes(bytes)
            // Immutable: a tile's path names its level, index and width.
            return Response(
                status: .ok,
                headers: [.contentType: "application/octet-stream", .cacheControl: "public, max-age=31536000, immutable"],
                body: .init(byteBuffer: buffer))
        }
    }
}
