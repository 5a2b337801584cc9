import FascicoloLedger
import FascicoloProjections
import FascicoloServer
import Foundation
import Testing

/// Issue 21: after an erasure nothing left in clear singles the person out. A child registered
/// in their parent's household is erased; then the child's entries keep no sex, citizenship or
/// comune in clear (sealed, so shredded with the key), and no row of any read model joins the
/// child's pseudonym to the household id — which would lead to the parent's record.
@Suite struct ErasureQuasiIdentifierTests {
    static let parent = "RSSMRA85T10A562S"
    static let child = "MRTMTT25D09F205Z"
    static let household = "hh-ventura-17"

    static func registration(birthYear: Int) -> String {
        #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":\#(birthYear),"sex":"F","citizenship":"non_eu","comuneOfResidence":"A001","givenName":"Ada","household":"\#(household)"}}"#
    }
    static let opened =
        #"{"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"families_minors","ente":"Comune","ambito":"potenza"}}"#

    @Test func anErasedPersonLeavesNoQuasiIdentifierInClear() async throws {
        try await TestServer.run { server in
            for (person, year) in [(Self.parent, 1985), (Self.child, 2015)] {
                let recorded = try await server.call(
                    .post, "/v1/persons/events",
                    body: PersonRoutesTests.body(Self.registration(birthYear: year) + "," + Self.opened, person: person))
                try #require(recorded.status == 201, "\(recorded.body)")
            }
            let state = try await server.call(.get, "/v1/persons/case-state", headers: PersonRoutesTests.person(Self.child))
            let hex = try #require(state.json?["person"] as? String, "\(state.body)")
            let erased = try await server.call(
                .post, "/v1/persons/erasure", body: #"{"person":"\#(Self.child)","legalGround":"art17_request","reference":"prot. 2026/9"}"#
            )
            try #require(erased.status == 201, "\(erased.body)")
            let last = try await server.call(.get, "/v1/health/ready").json?["entries"] as? Int ?? 1

            // The log: the child's new entries hold no sex, citizenship, comune in clear.
            for entry in try server.ledger.readStream("person:" + hex, from: 1, limit: 100) {
                let payload = try #require(try JSONSerialization.jsonObject(with: Data(entry.payload)) as? [String: Any])
                let data = payload["data"] as? [String: Any] ?? [:]
                for field in ["sex", "citizenship", "comuneOfResidence"] {
                    #expect(data[field] == nil, "\(entry.eventType) keeps \(field) in clear")
                }
            }

            // Every row of every read model: none joins the child to the household.
            let pseudonym = Self.bytes(hex)
            for kind in ReadModels.all {
                let rows = try await server.projections.query(kind.name, reflecting: UInt64(last - 1)) { view in
                    try view.tables.flatMap { table in
                        try view.transaction.withCursor(table) { cursor in
                            var rows: [[UInt8]] = []
                            var record = try cursor.first()
                            while let current = record {
                                rows.append(Array(current.key) + [0xff] + Array(current.value))
                                record = try cursor.next()
                            }
                            return rows
                        }
                    }
                }
                for row in rows where row.contains(pseudonym) {
                    #expect(!row.contains(Array(Self.household.utf8)), "\(kind.name) joins the erased child to the household")
                }
            }
            // The parent's household view no longer knows the child existed.
            let view = try await server.call(
                .get, "/v1/persons/household-timeline",
                headers: [.init("Fascicolo-Person")!: Self.parent, .init("Fascicolo-Purpose")!: "verifica"])
            #expect(view.status == 200 && !view.body.contains(hex), "\(view.body)")
        }
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }
}

extension Array where Element == UInt8 {
    /// Whether `part` occurs as consecutive bytes.
    func contains(_ part: [UInt8]) -> Bool {
        guard !part.isEmpty, part.count <= count else { return false }
        return (0...(count - part.count)).contains { self[$0..<$0 + part.count].elementsEqual(part) }
    }
}
