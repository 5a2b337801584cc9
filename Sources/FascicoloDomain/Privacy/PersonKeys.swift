import FascicoloCrypto
import FascicoloLedger
import FascicoloStorage

/// Per-person data keys, in the `person_keys` table of the data directory's LMDB environment —
/// a table outside the signed log, so that destroying a key (erasure) changes nothing a verifier
/// checks.
///
/// Each row is pseudonym (16 bytes) → the person's 32-byte data key sealed with the data
/// directory's `records.key` (XChaCha20-Poly1305, associated data `fascicolo/person-key/v1` ‖ 0 ‖
/// pseudonym). A copy of the LMDB file alone therefore reveals no data key.
///
/// Rows are written and deleted only through `AttachedWrite`s of the append that needs them (the
/// registration that creates a person, the erasure that destroys the key), so a key exists
/// exactly when the log says it should. LMDB is copy-on-write: a deleted row's old page stays in
/// the file until LMDB reuses it; it is sealed with `records.key`, and a compact backup
/// (`fascicolo backup`) never copies free pages.
public struct PersonKeys: Sendable {
    public static let tableName = "person_keys"
    public static let masterKeyFileName = "records.key"

    let table: Table
    private let environment: Environment
    private let masterKey: SecretKey

    public init(environment: Environment, masterKey: SecretKey) throws {
        self.environment = environment
        self.masterKey = masterKey
        table = try environment.write { txn in try txn.createTable(Self.tableName) }
    }

    /// A new data key for `person`, and the attached write that stores it with the append.
    public func newKey(for person: Pseudonym) -> (key: SecretKey, write: AttachedWrite) {
        let key = SecretKey(guarded: false)
        let sealed = key.withBytes { masterKey.seal(Array($0), associatedData: associatedData(person)) }
        return (key, AttachedWrite(table: table, key: person.bytes, value: sealed))
    }

    /// The attached write that destroys the person's key.
    public func destroy(_ person: Pseudonym) -> AttachedWrite {
        AttachedWrite(table: table, key: person.bytes, value: nil)
    }

    /// The person's data key; nil when it never existed or was destroyed.
    public func key(for person: Pseudonym) throws -> SecretKey? {
        guard let sealed = try environment.read({ txn in try txn.get(table, key: person.bytes) }) else { return nil }
        guard var bytes = masterKey.open(sealed, associatedData: associatedData(person)) else {
            throw CorruptKey()
        }
        defer { for index in bytes.indices { bytes[index] = 0 } }
        return SecretKey(bytes: bytes, guarded: false)
    }

    private func associatedData(_ person: Pseudonym) -> [UInt8] {
        Array("fascicolo/person-key/v1".utf8) + [0] + person.bytes
    }

    /// A stored key that `records.key` cannot open: the wrong key file, or a damaged row.
    public struct CorruptKey: Error, CustomStringConvertible {
        public var description: String { "a person's data key cannot be opened with records.key (wrong key file or damaged row)" }
    }
}
