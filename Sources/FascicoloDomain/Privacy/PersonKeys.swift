import CSodium
import FascicoloCrypto
import FascicoloLedger
import FascicoloStorage
import Glibc
import Synchronization

/// Per-person data keys, in the `person_keys` table of the data directory's LMDB environment —
/// a table outside the signed log, so that destroying a key (erasure) changes nothing a verifier
/// checks.
///
/// Each row is pseudonym (16 bytes) → the person's 32-byte data key sealed with the data
/// directory's current `records.key` (XChaCha20-Poly1305, associated data
/// `fascicolo/person-key/v1` ‖ 0 ‖ pseudonym). A copy of the LMDB file alone reveals no data key.
///
/// **Why erasure rotates `records.key`.** LMDB is copy-on-write: the page that held an erased
/// person's row stays in `data.mdb` as a free page until it is reused, and an older meta page can
/// still point at it. Deleting the row is therefore not enough while the key that opens it sits
/// in the same directory. So every erasure is followed by a rotation: a new `records.key` is
/// written beside the old one (`records.key.next`), every remaining row is sealed again under it
/// in one write transaction (which also records the new check value and clears the rotation-due
/// mark the erasure set), and only then is the old key file overwritten and replaced. From then
/// on nothing in the directory opens the erased row, wherever LMDB left its bytes. A daemon that
/// dies between the erasure and the rotation finishes the rotation at its next start, before it
/// serves anything; `fascicolo stat` shows it as pending meanwhile.
///
/// Rows are written and deleted only through `AttachedWrite`s of the append that needs them (the
/// registration that creates a person, the erasure that destroys the key), so a key exists
/// exactly when the log says it should. A new row is sealed inside the commit's own transaction,
/// under the records key that transaction sees as current: a rotation committed just before can
/// never leave a row sealed under a key about to be destroyed.
public final class PersonKeys: Sendable {
    public static let tableName = "person_keys"
    public static let masterKeyFileName = "records.key"
    /// The next records key while a rotation is under way (see above).
    public static let nextKeyFileName = "records.key.next"
    /// `meta` rows: the records key's generation (u64 BE; absent = 0), its check value, and the
    /// position of the first erasure whose rotation is still due.
    static let generationRow = "records_key_generation"
    static let checkRow = "records_key_check"
    public static let rotationDueRow = "records_key_rotation_due"
    static let checkContext = Array("fascicolo/records-key-check/v1".utf8)

    let table: SideTable
    /// `siuss_cancellations` (issue 21, GDPR art. 19): pseudonym → the codice fiscale of a person
    /// erased after SIUSS records of theirs were sent, sealed under records.key (associated data
    /// `fascicolo/siuss-cancellation/v1` ‖ 0 ‖ pseudonym) — the person's own key is gone — and
    /// kept only until the next SIUSS export sends the cancellations; that export deletes the row
    /// and marks a rotation due, so the bytes it leaves in free pages open no more. Sealed again
    /// by every rotation, like the data keys.
    let cancellations: SideTable
    static let cancellationsTableName = "siuss_cancellations"
    private let ledger: Ledger
    private let directory: String
    /// The records keys in use, by generation: the current one, and during a rotation the next.
    private let masterKeys: Mutex<[UInt64: SecretKey]>
    /// One rotation at a time.
    private let rotating = Mutex<Void>(())

    /// Opens the table with `masterKey` (records.key) as generation `generation`'s key.
    init(ledger: Ledger, directory: String, masterKey: SecretKey) throws {
        self.ledger = ledger
        self.directory = directory
        table = try ledger.sideTable(named: Self.tableName)
        cancellations = try ledger.sideTable(named: Self.cancellationsTableName)
        let generation = try ledger.read { log in try Self.generation(in: log) }
        masterKeys = Mutex([generation: masterKey])
    }

    static func generation(in log: LedgerSnapshot) throws -> UInt64 {
        try log.metaValue(generationRow).flatMap { BigEndian.uint64($0) } ?? 0
    }

    /// A new data key for `person`, and the attached write that stores it with the append,
    /// sealed under the records key current in the commit's transaction.
    public func newKey(for person: Pseudonym) -> (key: SecretKey, write: AttachedWrite) {
        let key = SecretKey(guarded: false)
        let write = AttachedWrite(table: table, key: person.bytes) { [self] log in
            let masterKey = try self.masterKey(generation: Self.generation(in: log))
            return key.withBytes { masterKey.seal(Array($0), associatedData: Self.associatedData(person)) }
        }
        return (key, write)
    }

    /// The attached write that destroys the person's key. The erasure also marks a rotation of
    /// records.key as due (`rotateAfterErasure` does it), in the same commit.
    public func destroy(_ person: Pseudonym) -> [AttachedWrite] {
        [
            AttachedWrite(table: table, key: person.bytes, value: nil),
            AttachedWrite(metaRow: Self.rotationDueRow) { log in
                // The first erasure still waiting keeps its mark.
                try log.metaValue(Self.rotationDueRow) ?? Array("due".utf8)
            },
        ]
    }

    /// The attached write that keeps `codiceFiscale` for the cancellations of an erased
    /// person's SIUSS records, sealed under the records key current in the commit's transaction.
    public func keepForCancellation(_ codiceFiscale: String, of person: Pseudonym) -> AttachedWrite {
        AttachedWrite(table: cancellations, key: person.bytes) { [self] log in
            let masterKey = try self.masterKey(generation: Self.generation(in: log))
            return masterKey.seal(Array(codiceFiscale.utf8), associatedData: Self.cancellationData(person))
        }
    }

    /// The codici fiscali kept for cancellations, by person.
    public func keptForCancellation() throws -> [Pseudonym: String] {
        for _ in 0..<3 {
            let found = try ledger.read { log -> (rows: [([UInt8], [UInt8])], generation: UInt64) in
                var rows: [([UInt8], [UInt8])] = []
                try log.forEachRow(in: cancellations) { key, value in
                    rows.append((Array(key), Array(value)))
                    return true
                }
                return (rows, try Self.generation(in: log))
            }
            guard let masterKey = masterKeys.withLock({ $0[found.generation] }) else { continue }
            var kept: [Pseudonym: String] = [:]
            for (key, sealed) in found.rows {
                guard let person = Pseudonym(bytes: key), let code = masterKey.open(sealed, associatedData: Self.cancellationData(person))
                else { throw CorruptKey() }
                kept[person] = String(decoding: code, as: UTF8.self)
            }
            return kept
        }
        throw CorruptKey()
    }

    /// The attached writes that delete the rows of `persons` once their cancellations are sent,
    /// and mark a rotation of records.key due (the deleted rows' bytes may stay in free pages).
    public func forgetCancellations(of persons: [Pseudonym]) -> [AttachedWrite] {
        guard !persons.isEmpty else { return [] }
        return persons.map { AttachedWrite(table: cancellations, key: $0.bytes, value: nil) } + [
            AttachedWrite(metaRow: Self.rotationDueRow) { log in try log.metaValue(Self.rotationDueRow) ?? Array("due".utf8) }
        ]
    }

    static func cancellationData(_ person: Pseudonym) -> [UInt8] {
        Array("fascicolo/siuss-cancellation/v1".utf8) + [0] + person.bytes
    }

    /// The person's data key; nil when it never existed or was destroyed.
    public func key(for person: Pseudonym) throws -> SecretKey? {
        // A rotation may retire the generation between the read and the lookup: read again.
        for _ in 0..<3 {
            let found = try ledger.read { log -> (sealed: [UInt8], generation: UInt64)? in
                guard let sealed = try log.value(in: table, key: person.bytes) else { return nil }
                return (sealed, try Self.generation(in: log))
            }
            guard let found else { return nil }
            guard let masterKey = masterKeys.withLock({ $0[found.generation] }) else { continue }
            guard var bytes = masterKey.open(found.sealed, associatedData: Self.associatedData(person)) else {
                throw CorruptKey()
            }
            defer { sodium_memzero(&bytes, bytes.count) }
            return SecretKey(bytes: bytes, guarded: false)
        }
        throw CorruptKey()
    }

    /// The raw 32 bytes of one person's data key as the snapshot `log` holds it — nil when the
    /// person has none (never registered, or erased) — for the person bundle only (Formats.md
    /// "Person bundles"), which hands it to whoever checks that person's sealed fields against
    /// the signed entries. It opens that person's sealed payloads and nothing else: each person's
    /// key is random and independent, and is never used to seal another key. Read in the
    /// caller's snapshot so that it agrees with the entries read there (an erasure is either in
    /// both or in neither). Throws `RotatedDuringRead` when a records-key rotation retired the
    /// snapshot's generation meanwhile: read again in a new snapshot.
    public func exportedKey(for person: Pseudonym, in log: LedgerSnapshot) throws -> [UInt8]? {
        guard let sealed = try log.value(in: table, key: person.bytes) else { return nil }
        let generation = try Self.generation(in: log)
        guard let masterKey = masterKeys.withLock({ $0[generation] }) else {
            throw RotatedDuringRead()
        }
        guard let bytes = masterKey.open(sealed, associatedData: Self.associatedData(person)), bytes.count == SecretKey.byteCount
        else { throw CorruptKey() }
        return bytes
    }

    /// The records key that sealed a snapshot's row was retired by a rotation after the snapshot
    /// began: nothing is wrong, the read is made again.
    public struct RotatedDuringRead: Error, CustomStringConvertible {
        public var description: String { "records.key was rotated during the read" }
    }

    private func masterKey(generation: UInt64) throws -> SecretKey {
        guard let key = masterKeys.withLock({ $0[generation] }) else { throw CorruptKey() }
        return key
    }

    static func associatedData(_ person: Pseudonym) -> [UInt8] {
        Array("fascicolo/person-key/v1".utf8) + [0] + person.bytes
    }

    /// Whether an erasure's rotation is still due (shown by `fascicolo stat`).
    public func rotationDue() throws -> Bool {
        try ledger.read { log in try log.metaValue(Self.rotationDueRow) != nil }
    }

    /// Replaces records.key by a new key, re-sealing every person's data key under it, if an
    /// erasure made that due (or `force`). Blocking: runs file syncs and one write transaction
    /// over the whole table. Returns the number of rows re-sealed, nil when nothing was due.
    @discardableResult
    public func rotateAfterErasure(force: Bool = false) throws -> Int? {
        try rotating.withLock { _ -> Int? in
            guard try force || rotationDue() else { return nil }
            let currentPath = directory + "/" + Self.masterKeyFileName
            let nextPath = directory + "/" + Self.nextKeyFileName
            // A records.key.next left by an earlier rotation is the current key if that rotation
            // committed (its file was not replaced yet): put in place, never removed; otherwise
            // it sealed nothing and goes.
            try Self.finishInterruptedRotation(directory: directory, ledger: ledger)
            let next = SecretKey()
            try next.withBytes { bytes in try KeyFile.writeNewSecret(path: nextPath, bytes: bytes) }
            let old = try ledger.read { log in try Self.generation(in: log) }
            masterKeys.withLock { $0[old + 1] = next }
            let count: Int
            do {
                count = try ledger.writeSideTables { writer -> Int in
                    let current = try masterKey(generation: Self.generation(in: writer.snapshot))
                    var rows: [(key: [UInt8], value: [UInt8])] = []
                    try writer.snapshot.forEachRow(in: table) { key, sealed in
                        let key = Array(key)
                        guard let person = Pseudonym(bytes: key),
                            var dataKey = current.open(Array(sealed), associatedData: Self.associatedData(person))
                        else {
                            throw CorruptKey()
                        }
                        rows.append((key, next.seal(dataKey, associatedData: Self.associatedData(person))))
                        sodium_memzero(&dataKey, dataKey.count)
                        return true
                    }
                    for row in rows { try writer.put(table, key: row.key, value: row.value) }
                    var kept: [(key: [UInt8], value: [UInt8])] = []
                    try writer.snapshot.forEachRow(in: cancellations) { key, sealed in
                        let key = Array(key)
                        guard let person = Pseudonym(bytes: key),
                            let code = current.open(Array(sealed), associatedData: Self.cancellationData(person))
                        else {
                            throw CorruptKey()
                        }
                        kept.append((key, next.seal(code, associatedData: Self.cancellationData(person))))
                        return true
                    }
                    for row in kept { try writer.put(cancellations, key: row.key, value: row.value) }
                    try writer.setMeta(Self.generationRow, BigEndian.bytes(old + 1))
                    try writer.setMeta(Self.checkRow, next.seal([], associatedData: Self.checkContext))
                    try writer.setMeta(Self.rotationDueRow, nil)
                    return rows.count
                }
            } catch {
                // Most likely not committed — but a failed sync can leave a commit on disk after
                // all, so the new key is kept (in memory, and as records.key.next): the next
                // rotation, or the next start, puts it in place if the check value says it is the
                // current key, and removes it otherwise. Removing it here could lose every key.
                throw error
            }
            try Self.replaceKeyFile(current: currentPath, next: nextPath)
            masterKeys.withLock { $0[old] = nil }
            // The commit journal (when on) still holds the erased row as it was put, sealed under
            // the key just replaced: overwritten too. A failure leaves only bytes that key sealed.
            try? ledger.wipeJournal()
            return count
        }
    }

    /// After the rotation's commit: overwrites the old key file in place (so that its blocks do
    /// not keep the old key on file systems that write in place), then renames the next key over
    /// it and syncs the directory.
    static func replaceKeyFile(current: String, next: String) throws {
        let descriptor = open(current, O_WRONLY | O_CLOEXEC)
        if descriptor >= 0 {
            let zeros = [UInt8](repeating: 0, count: SecretKey.byteCount)
            _ = write(descriptor, zeros, zeros.count)
            fsync(descriptor)
            close(descriptor)
        }
        guard rename(next, current) == 0 else { throw KeyFile.Failure.unwritable(path: current, errno: errno) }
        KeyFile.syncDirectory(of: current)
    }

    /// At open, before the key is checked: a rotation that committed but did not replace the key
    /// file yet is finished (records.key.next is the current key when it opens the check value);
    /// one that did not commit leaves a records.key.next that sealed nothing, removed here.
    static func finishInterruptedRotation(directory: String, ledger: Ledger) throws {
        let nextPath = directory + "/" + nextKeyFileName
        guard access(nextPath, F_OK) == 0 else { return }
        let next = try KeyFile.loadOrCreateSecret(directory: directory, name: nextKeyFileName, create: false)
        let check = try ledger.read { log in try log.metaValue(checkRow) }
        if let check, next.open(check, associatedData: checkContext) != nil {
            try replaceKeyFile(current: directory + "/" + masterKeyFileName, next: nextPath)
        } else {
            unlink(nextPath)
        }
    }

    /// A stored key that `records.key` cannot open: the wrong key file, or a damaged row.
    public struct CorruptKey: Error, CustomStringConvertible {
        public var description: String { "a person's data key cannot be opened with records.key (wrong key file or damaged row)" }
    }
}
