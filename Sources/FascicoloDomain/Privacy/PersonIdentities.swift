import FascicoloCrypto
import FascicoloLedger
import FascicoloStorage

/// The codice fiscale of each person, kept for the duties that need it (the SIUSS feed, d.lgs.
/// 147/2017 art. 24) and for nothing else: the log itself holds only its keyed pseudonym.
///
/// Side table `person_identities`: pseudonym (16 bytes) → the codice fiscale (16 ASCII bytes)
/// sealed with **the person's own data key** (XChaCha20-Poly1305, associated data
/// `fascicolo/person-identity/v1` ‖ 0 ‖ pseudonym). So an erasure, which destroys that key,
/// shreds it with every other sealed field of the person (and the erasure also deletes the row);
/// a copy of the LMDB file without `records.key` opens nothing.
///
/// The row is written with the append that first ties the person to a codice fiscale: the
/// PersonRegistered of a person identified by one, or the IdentityLinked of a provisional, STP
/// or ENI record; a void of that link deletes it. Persons registered before this table existed
/// have no row: the SIUSS export counts them as without a codice fiscale on record.
public struct PersonIdentities: Sendable {
    public static let tableName = "person_identities"
    static let context = Array("fascicolo/person-identity/v1".utf8)

    let table: SideTable

    init(ledger: Ledger) throws {
        table = try ledger.sideTable(named: Self.tableName)
    }

    static func associatedData(_ person: Pseudonym) -> [UInt8] { context + [0] + person.bytes }

    /// The attached write that keeps `codiceFiscale` for `person`, sealed with `key` (theirs).
    func write(codiceFiscale: String, for person: Pseudonym, key: SecretKey) -> AttachedWrite {
        AttachedWrite(
            table: table, key: person.bytes, value: key.seal(Array(codiceFiscale.utf8), associatedData: Self.associatedData(person)))
    }

    /// The attached write that removes the person's row (erasure, void of the link).
    func remove(_ person: Pseudonym) -> AttachedWrite {
        AttachedWrite(table: table, key: person.bytes, value: nil)
    }

    /// The person's codice fiscale, opened with their key; nil without a row. Personal data:
    /// the caller records the read (a RecordAccessed entry) before it uses the value.
    func codiceFiscale(of person: Pseudonym, key: SecretKey, ledger: Ledger) throws -> String? {
        guard let sealed = try ledger.read({ log in try log.value(in: table, key: person.bytes) }) else { return nil }
        guard let bytes = key.open(sealed, associatedData: Self.associatedData(person)) else {
            throw DamagedData(table: Self.tableName, what: "a row does not open with the person's data key")
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
