import FascicoloCrypto
import FascicoloLedger

/// The files of a data directory, and the one the daemon locks while it runs.
public enum DataDirectory {
    public static let data = "data.mdb"
    public static let lmdbLock = "lock.mdb"
    public static let daemonLock = "fascicolod.lock"
    public static let socket = "fascicolod.sock"

    /// The domain's secrets (FascicoloDomain's `Pseudonymizer.keyFileName` and
    /// `PersonKeys.masterKeyFileName`; Formats.md, "Data directory"): 32 raw bytes each, mode 0600.
    public static let pseudonymKey = "pseudonym.key"
    public static let recordsKey = "records.key"
    /// Every secret file of a data directory, in the order messages name them.
    public static let secretKeys = [KeyFile.secretName, pseudonymKey, recordsKey]

    /// The restore option that installs a secret file: `--signing-key` for signing.key.
    public static func restoreOption(_ name: String) -> String {
        "--" + name.split(separator: ".").joined(separator: "-")
    }

    /// "a", "a and b", "a, b and c".
    public static func listed(_ names: [String]) -> String {
        names.count <= 1 ? names.joined() : names.dropLast().joined(separator: ", ") + " and " + names.last!
    }

    /// What a log holds that its domain secrets must match.
    public struct DomainContents: Sendable {
        /// The log has person streams: without pseudonym.key and records.key the daemon refuses it.
        public var hasPersons = false
        /// One row of `person_keys` (pseudonym → data key sealed with records.key), to check a
        /// records.key against; nil when no person has a data key.
        var sampleKey: (pseudonym: [UInt8], sealed: [UInt8])?

        /// The check values the daemon left in `meta` for the domain's keys (Formats.md,
        /// "Domain payloads"); nil until a daemon has used the keys.
        var pseudonymKeyCheck: [UInt8]?
        var recordsKeyCheck: [UInt8]?

        /// Whether a person has a data key that a records.key can be tried on.
        public var hasDataKeys: Bool { sampleKey != nil }

        /// Whether `recordsKey` is this log's: it opens the stored check value and a person's data
        /// key; nil when there is nothing to try it on.
        func opens(recordsKey: [UInt8]) -> Bool? {
            guard sampleKey != nil || recordsKeyCheck != nil else { return nil }
            guard let key = SecretKey(bytes: recordsKey) else { return false }
            if let recordsKeyCheck, key.open(recordsKeyCheck, associatedData: Array("fascicolo/records-key-check/v1".utf8)) == nil {
                return false
            }
            guard let sampleKey else { return true }
            // Formats.md, "Data keys": associated data `fascicolo/person-key/v1` ‖ 0x00 ‖ pseudonym.
            let associatedData = Array("fascicolo/person-key/v1".utf8) + [0] + sampleKey.pseudonym
            return key.open(sampleKey.sealed, associatedData: associatedData)?.count == SecretKey.byteCount
        }

        /// Whether the key file `name` holding `bytes` is this log's; nil when there is nothing to
        /// check it against.
        public func accepts(_ name: String, _ bytes: [UInt8]) -> Bool? {
            name == DataDirectory.recordsKey ? opens(recordsKey: bytes) : matches(pseudonymKey: bytes)
        }

        /// Whether `pseudonymKey` is this log's (its stored check value); nil when none is stored.
        func matches(pseudonymKey: [UInt8]) -> Bool? {
            guard let pseudonymKeyCheck else { return nil }
            guard let key = SecretKey(bytes: pseudonymKey) else { return false }
            return Array(key.authenticate(Array("fascicolo/pseudonym-key-check/v1".utf8)).prefix(16)) == pseudonymKeyCheck
        }
    }

    /// A 32-byte secret key file, private to its owner; `option` names where it came from in the message.
    static func readSecretKey(_ path: String, option: String) throws(OperationError) -> [UInt8] {
        let bytes: [UInt8]
        do {
            try KeyFile.checkPermissions(path: path)
            bytes = try Files.read(path, limit: 64)
        } catch {
            throw OperationError(.invalidKey, "\(option): \(error)", cause: error)
        }
        guard bytes.count == SecretKey.byteCount else {
            throw OperationError(.invalidKey, "\(option): \(path) is not a key file: expected 32 raw bytes, found \(bytes.count)")
        }
        return bytes
    }
}
