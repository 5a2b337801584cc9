import ArgumentParser
import AsyncHTTPClient
import FascicoloCrypto
import FascicoloLedger
import FoundationEssentials  // URL(httpURLWithSocketPath:uri:)
import Glibc
import NIOCore
import NIOPosix

/// `fascicolo standby`: data directories that follow a primary.
struct StandbyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "standby",
        abstract: "Data directories that follow a primary (fascicolod --follow).",
        subcommands: [StandbyInit.self])
}

/// `fascicolo standby init SOURCE DIR --trusted-key VKEY`: a verified copy of a primary's log to
/// start a follower from, made through the primary's replication endpoint — the same checks a
/// follower makes (every signature along the key chain, every checkpoint's root and stream
/// heads) — up to the primary's latest checkpoint.
struct StandbyInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Make a verified copy of a primary's log to start a follower from (roles replica or admin on the primary).",
        discussion: """
            SOURCE is the primary's Unix socket, or an http(s):// URL of its API. DIR is created (mode \
            0700); it receives the primary's entries and checkpoints, each verified from the trusted \
            first key, and follow.pub (that key). No secret crosses the wire: a follower that only \
            verifies and serves (a Region's copy) needs none. A standby that may take over needs, \
            copied by hand from the primary into DIR (mode 0600): signing.key (the log's current key: \
            to continue the log after a promotion) and pseudonym.key (to turn a codice fiscale into the \
            same pseudonym) — not records.key: the persons' data keys it opens are not replicated yet, \
            and the primary replaces it at every erasure so that no old copy survives. Then: fascicolod \
            --follow SOURCE --data-dir DIR (docs/operations.md, "Followers and standbys").

            """ + Exit.help)

    @Argument(help: "The primary: its Unix socket, or an http(s):// URL of its API.")
    var source: String

    @Argument(help: "The new data directory (must not exist, or be empty).")
    var directory: String

    @Option(
        help: ArgumentHelp(
            "The verifier key of the log's first key '<origin>+<key id>+<base64 key>' (fascicolo keys list on the primary).",
            valueName: "vkey"))
    var trustedKey: String

    func validate() throws {
        guard SignedNote.parseVerifierKey(trustedKey) != nil else {
            throw ValidationError("--trusted-key is a verifier key '<origin>+<key id>+<base64 key>'")
        }
        // The daemon's rule (ReplicationSource.parse), so that what is accepted here starts a follower.
        guard source.hasPrefix("/") || source.hasPrefix("http://") || source.hasPrefix("https://"),
            !source.contains("@"), !source.contains("?"), !source.contains("#")
        else {
            throw ValidationError(
                "SOURCE is the primary's socket (an absolute path) or an http(s):// URL without credentials, query or fragment")
        }
    }

    func run() throws { preconditionFailure("run asynchronously by Fascicolo.main") }

    func runAsync() async throws {
        guard let trusted = SignedNote.parseVerifierKey(trustedKey) else { throw ExitCode(2) }
        var info = stat()
        if stat(directory, &info) == 0 {
            guard let handle = opendir(directory) else { throw fail("cannot read \(directory)", status: 2) }
            var names = 0
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { names += 1 }
            }
            closedir(handle)
            guard names == 0 else { throw fail("\(directory) is not empty: standby init makes a new copy", status: 2) }
        }
        let ledger: Ledger
        do { ledger = try Ledger.openFollower(directory: directory, trustedKey: trusted) } catch {
            throw fail("cannot create \(directory): \(error)", status: 2)
        }
        ledger.writeAuthority.refuse(.follower(primary: source))
        let http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: .init(redirectConfiguration: .disallow))
        do { try await copy(into: ledger, http: http) } catch {
            ledger.close()
            try? await http.shutdown()
            throw error
        }
        ledger.close()
        try? await http.shutdown()
    }

    private func copy(into ledger: Ledger, http: HTTPClient) async throws {
        let began = ContinuousClock.now
        while true {
            let read = try await fetch(http, from: ledger.size)
            if read.batch.records.isEmpty {
                try checkCaughtUp(read, ledger: ledger)
                break
            }
            do { _ = try await ledger.replicate(read.batch) } catch let refused as ReplicationRefused {
                throw fail("the primary's log is refused: \(refused.reason) (\(refused.kind.rawValue))", status: 1)
            }
            Terminal.progress("standby init: \(ledger.size) of \(read.primarySize) entries verified and stored")
        }
        Terminal.endProgress()
        let keyPath = directory + "/follow.pub"
        let text = Array((trustedKey + "\n").utf8)
        let descriptor = open(keyPath, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0, write(descriptor, text, text.count) == text.count, fsync(descriptor) == 0 else {
            throw fail("cannot write \(keyPath): errno \(errno)", status: 2)
        }
        close(descriptor)
        let seconds =
            Double((ContinuousClock.now - began).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - began).components.seconds)
        Terminal.out(
            "standby init: \(directory) holds \(ledger.size) entries, verified from the trusted key up to the primary's "
                + "checkpoint of \(ledger.checkpointSize) (\(Terminal.format(seconds, decimals: 2)) s)")
        Terminal.out("start it: fascicolod --follow \(source) --data-dir \(directory)")
        Terminal.out(
            "a standby that may take over also needs signing.key and pseudonym.key copied from the primary (mode 0600); not records.key")
    }

    /// Nothing left to copy: the primary's latest checkpoint must be the one of this copy's size
    /// (same root), or the primary's log is not the one copied.
    private func checkCaughtUp(_ read: ReplicationFrames.Read, ledger: Ledger) throws {
        guard let head = read.head else {
            throw fail("the primary has signed no checkpoint yet: there is nothing to copy", status: 1)
        }
        guard let checkpoint = try? ledger.keyChain.verify(note: head), checkpoint.size == ledger.size,
            (try? ledger.root(size: checkpoint.size)) == checkpoint.root
        else { throw fail("the primary's latest checkpoint is not the one of the entries copied: try again", status: 1) }
    }

    private func fetch(_ http: HTTPClient, from position: UInt64) async throws -> ReplicationFrames.Read {
        let target = "/v1/replication/log?from=\(position)&limit=10000"
        let url: String
        if source.hasPrefix("/") {
            guard let made = URL(httpURLWithSocketPath: source, uri: target) else {
                throw fail("cannot make a URL of \(source)", status: 2)
            }
            url = made.absoluteString
        } else {
            url = (source.hasSuffix("/") ? String(source.dropLast()) : source) + target
        }
        let response: HTTPClientResponse
        do { response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(300)) } catch {
            throw fail("cannot reach the primary at \(source): \(error)", status: 2)
        }
        guard response.status.code == 200 else {
            throw fail(
                "the primary answered HTTP \(response.status.code)\(response.status.code == 403 ? " (this uid needs the replica or admin role)" : "")",
                status: response.status.code < 500 ? 1 : 2)
        }
        do { return try ReplicationFrames.decode(Array(buffer: try await response.body.collect(upTo: 1 << 30))) } catch {
            throw fail("\(error)", status: 1)
        }
    }

    private func fail(_ message: String, status: Int32) -> ExitCode {
        Terminal.endProgress()
        Terminal.error("error: \(message)")
        return ExitCode(status)
    }
}
