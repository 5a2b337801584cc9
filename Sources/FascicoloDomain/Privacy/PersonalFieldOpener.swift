import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger

/// Opens a person's sealed fields for a read model that keeps one of them while the person is
/// not erased: the households read model groups members by the household id, sealed in the log
/// since issue 21 so that erasure shreds it (docs/domain.md, "What erasure leaves in clear").
/// Once the person's key is destroyed nothing opens, so a read model rebuilt after an erasure
/// never learns what the erasure removed.
public protocol PersonalFieldOpener: Sendable {
    /// The personal fields sealed in an entry of type `type` of `person`'s stream, with the key
    /// the snapshot `log` holds; nil when the person has no key (erased) or the box does not open.
    func personalFields(
        of person: Pseudonym, type: String, sealed: [UInt8], in log: LedgerSnapshot
    ) throws -> [(key: String, value: JSON)]?
}

extension CaseFiles: PersonalFieldOpener {
    public func personalFields(
        of person: Pseudonym, type: String, sealed: [UInt8], in log: LedgerSnapshot
    ) throws -> [(key: String, value: JSON)]? {
        let key: SecretKey?
        do {
            key = try keys.exportedKey(for: person, in: log).flatMap { SecretKey(bytes: $0, guarded: false) }
        } catch is PersonKeys.RotatedDuringRead {
            // The key is the same under every records key; only its wrapping changed.
            key = try keys.key(for: person)
        }
        guard let key, let opened = key.open(sealed, associatedData: StoredEvent.sealAssociatedData(stream: person.stream, type: type))
        else { return nil }
        return (try? JSON.parse(opened))?.members
    }
}
