import FascicoloCrypto
import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage

/// The SIUSS transmission register: for each prestazione (InterventionRequested) and each plan
/// (PlanSigned), whether its records were sent to SIUSS, by which export, when, and in which
/// file (its SHA-256) — built from the person streams and the SiussExported entries of
/// `siuss:exports`. No codice fiscale is here: the log holds none in clear.
///
/// Table `sources`: log position of the InterventionRequested / PlanSigned (u64 BE) →
/// kind (`P` or `V`) ‖ pseudonym (16) ‖ records standing (u32 BE: inserted and not cancelled)
/// ‖ insertions (u32) ‖ cancellations (u32) ‖ position of the last export that sent one of its
/// records (u64; 0: never sent) ‖ its recordedAt (ms, i64) ‖ the SHA-256 of the file that
/// carried it (32 bytes; zero when never sent).
public final class SiussRegister: Projection {
    public static let name = "siuss-register"
    public static let version = 1
    public static let tables = ["sources"]
    static let sources = 0
    static let rowSize = 1 + 16 + 4 + 4 + 4 + 8 + 8 + 32

    public init() {}

    public func apply(_ event: ProjectedEvent, to rows: inout ProjectionRows) throws {
        switch event.subject {
        case .person(let person) where event.kind == .interventionRequested || event.kind == .planSigned:
            var row = [UInt8](repeating: 0, count: Self.rowSize)
            row[0] = event.kind == .interventionRequested ? UInt8(ascii: "P") : UInt8(ascii: "V")
            row.replaceSubrange(1..<17, with: person.bytes)
            rows.put(Self.sources, BigEndian.bytes(event.position), row)
        case .siuss where event.kind == .siussExported:
            try applyExport(event, &rows)
        default:
            break
        }
    }

    private func applyExport(_ event: ProjectedEvent, _ rows: inout ProjectionRows) throws {
        guard let part = event.data("part")?.int, part >= 1, let items = event.data("sent")?.array else {
            throw ProjectionFailure("SiussExported at position \(event.position) lacks its part or its items")
        }
        // The files are named by the export's first part, `part - 1` entries before this one.
        let first = part == 1 ? event : try rows.log.event(at: event.position - UInt64(part - 1))
        var fileBySection: [String: [UInt8]] = [:]
        for file in first?.data("files")?.array ?? [] {
            let fields = (file.string ?? "").split(separator: " ")
            guard fields.count == 4, let digest = Hex.decode(String(fields[2])), digest.count == 32 else { continue }
            fileBySection[String(fields[0])] = digest
        }
        for item in items.compactMap(\.string) {
            let fields = item.split(separator: " ").map(String.init)
            guard fields.count >= 3, let source = Self.source(ofID: fields[2]) else { continue }
            let key = BigEndian.bytes(source)
            guard var row = try rows.get(Self.sources, key), row.count == Self.rowSize else { continue }
            var standing = Self.u32(row, 17)
            if fields[0] == "I" {
                standing += 1
                Self.setU32(&row, 21, Self.u32(row, 21) + 1)
                row.replaceSubrange(29..<37, with: BigEndian.bytes(event.position))
                row.replaceSubrange(37..<45, with: BigEndian.bytes(UInt64(bitPattern: event.recordedAtMilliseconds)))
                let digest = fileBySection[fields[1]] ?? [UInt8](repeating: 0, count: 32)
                row.replaceSubrange(45..<77, with: digest)
            } else {
                standing = standing > 0 ? standing - 1 : 0
                Self.setU32(&row, 25, Self.u32(row, 25) + 1)
            }
            Self.setU32(&row, 17, standing)
            rows.put(Self.sources, key, row)
        }
    }

    static func source(ofID id: String) -> UInt64? { UInt64(id.dropFirst().prefix { $0 != "M" }) }

    static func u32(_ row: [UInt8], _ at: Int) -> UInt32 {
        row[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func setU32(_ row: inout [UInt8], _ at: Int, _ value: UInt32) {
        for index in 0..<4 { row[at + index] = UInt8(truncatingIfNeeded: value >> (24 - 8 * index)) }
    }

    // MARK: - Queries

    public struct Row: Sendable, Equatable {
        /// The log position of the InterventionRequested or PlanSigned.
        public let position: UInt64
        /// `prestazione` or `plan`.
        public let kind: String
        public let person: Pseudonym
        public let standing, insertions, cancellations: UInt32
        /// The last export that inserted one of its records, when, and the file's SHA-256; nil if never sent.
        public let lastExport: UInt64?
        public let lastExportAtMilliseconds: Int64?
        public let fileSHA256: String?
    }

    /// Rows from position `after` (exclusive) on, in position order; `sent`: only those sent
    /// (true) or never sent (false).
    public static func rows(_ view: ProjectionView, after: UInt64 = 0, sent: Bool? = nil, limit: Int) throws -> [Row] {
        var result: [Row] = []
        try view.transaction.withCursor(view.tables[sources]) { cursor in
            var record = try cursor.seek(atOrAfter: BigEndian.bytes(after + 1))
            while let current = record, result.count < limit {
                let value = Array(current.value)
                guard value.count == rowSize, let position = BigEndian.uint64(Array(current.key)),
                    let person = Pseudonym(bytes: Array(value[1..<17]))
                else {
                    throw ProjectionFailure("a siuss-register row is damaged")
                }
                let last = BigEndian.uint64(Array(value[29..<37])) ?? 0
                if sent == nil || sent == (last != 0) {
                    result.append(
                        Row(
                            position: position, kind: value[0] == UInt8(ascii: "P") ? "prestazione" : "plan", person: person,
                            standing: u32(value, 17), insertions: u32(value, 21), cancellations: u32(value, 25),
                            lastExport: last == 0 ? nil : last,
                            lastExportAtMilliseconds: last == 0 ? nil : Int64(bitPattern: BigEndian.uint64(Array(value[37..<45])) ?? 0),
                            fileSHA256: last == 0 ? nil : Hex.encode(Array(value[45..<77]))))
                }
                record = try cursor.next()
            }
        }
        return result
    }
}
