import AsyncHTTPClient
import FascicoloTesting
import Glibc
import Testing

@testable import FascicoloDaemon

/// The etcd client against a real etcd (Debian's etcd-server, started on free localhost ports):
/// leases, the create-if-absent transaction, expiry, and what a dead or hung etcd looks like.
@Suite(.serialized) struct EtcdClientTests {
    static func withEtcd(_ body: (LocalEtcd, EtcdClient) async throws -> Void) async throws {
        try await withTemporaryDirectory { directory in
            let etcd = try LocalEtcd(directory: directory)
            defer { etcd.stop() }
            let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
            do {
                try await body(etcd, EtcdClient(endpoints: [etcd.endpoint], http: http, timeout: .milliseconds(1_000)))
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }
    }

    @Test(.enabled(if: LocalEtcd.isInstalled, Comment(rawValue: LocalEtcd.absence)))
    func onlyTheFirstCampaignerCreatesTheKeyAndRevokingFreesIt() async throws {
        try await Self.withEtcd { _, client in
            let key = Array("/test/leader".utf8)
            // Long leases: this test is not about expiry, and a loaded machine must not expire them.
            let first = try await client.grantLease(ttlSeconds: 60)
            let second = try await client.grantLease(ttlSeconds: 60)
            #expect(first.ttlSeconds >= 60 && first.id != second.id)
            #expect(try await client.createIfAbsent(key: key, value: Array("a".utf8), lease: first.id) == .created)
            let lost = try await client.createIfAbsent(key: key, value: Array("b".utf8), lease: second.id)
            #expect(lost == .exists(EtcdClient.KeyValue(value: Array("a".utf8), lease: first.id)))
            #expect(try await client.get(key: key) == EtcdClient.KeyValue(value: Array("a".utf8), lease: first.id))
            #expect(try await client.keepAlive(first.id) >= 50)

            try await client.revoke(first.id)
            #expect(try await client.get(key: key) == nil)
            await #expect(throws: EtcdError.leaseNotFound) { try await client.keepAlive(first.id) }
            try await client.revoke(first.id)  // already gone: not an error
            let also = (key: Array("/test/leader/last".utf8), value: Array("b".utf8))
            #expect(try await client.createIfAbsent(key: key, value: Array("b".utf8), lease: second.id, also: also) == .created)
            #expect(try await client.get(key: also.key) == EtcdClient.KeyValue(value: also.value, lease: 0))
        }
    }

    @Test(.enabled(if: LocalEtcd.isInstalled, Comment(rawValue: LocalEtcd.absence)))
    func aLeaseNotRenewedExpiresWithItsKey() async throws {
        try await Self.withEtcd { _, client in
            let key = Array("/test/expiring".utf8)
            let lease = try await client.grantLease(ttlSeconds: 2)
            #expect(try await client.createIfAbsent(key: key, value: [1], lease: lease.id) == .created)
            // etcd revokes expired leases on a 500 ms tick: gone within TTL + 1 s.
            let clock = ContinuousClock()
            let start = clock.now
            while try await client.get(key: key) != nil {
                guard clock.now - start < .seconds(15) else {
                    Issue.record("the key outlived its lease by far")
                    return
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(clock.now - start >= .milliseconds(1_500))
            await #expect(throws: EtcdError.leaseNotFound) { try await client.keepAlive(lease.id) }
        }
    }

    @Test(.enabled(if: LocalEtcd.isInstalled, Comment(rawValue: LocalEtcd.absence)))
    func aDeadEndpointIsSkippedAndAHungEtcdTimesOut() async throws {
        try await Self.withEtcd { etcd, client in
            let deadPort = try freePort()
            let both = EtcdClient(
                endpoints: ["http://127.0.0.1:\(deadPort)", etcd.endpoint], http: client.http, timeout: .milliseconds(4_000))
            #expect(try await both.grantLease(ttlSeconds: 2).ttlSeconds >= 2)
            let dead = EtcdClient(endpoints: ["http://127.0.0.1:\(deadPort)"], http: client.http, timeout: .milliseconds(1_000))
            await #expect {
                _ = try await dead.grantLease(ttlSeconds: 2)
            } throws: { error in
                if case .unreachable = error as? EtcdError { return true }
                return false
            }
            etcd.pause()
            defer { etcd.resume() }
            let clock = ContinuousClock()
            let start = clock.now
            await #expect(throws: EtcdError.timedOut) { _ = try await client.grantLease(ttlSeconds: 2) }
            #expect(clock.now - start < .seconds(5))
        }
    }

    @Test func theLeaderRecordReadsWhatItWritesAndRefusesOtherValues() {
        let record = LeaderRecord(node: "ambito-a-1", location: "/run/fascicolo/fascicolod.sock")
        #expect(LeaderRecord(bytes: record.bytes) == record)
        #expect(String(decoding: record.bytes, as: UTF8.self) == #"{"node":"ambito-a-1","location":"/run/fascicolo/fascicolod.sock"}"#)
        #expect(LeaderRecord(bytes: Array("node-a".utf8)) == nil)
        #expect(LeaderRecord(bytes: Array(#"{"node":"a b","location":"x"}"#.utf8)) == nil)
    }
}
