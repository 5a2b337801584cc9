import FascicoloJSON

/// A person's case file as `CaseFiles.caseFile` reads it: a page of their entries, personal
/// fields opened, corrections marked, and the case state. The server renders it.
public struct CaseFile: Sendable {
    public let person: Pseudonym
    /// Entries in the person's stream.
    public let version: Int
    public let state: CaseState
    /// The day the state's ages (days since the presa in carico, a review overdue) are counted to.
    public let today: CalendarDate
    public let entries: [CaseFileEntry]
}

/// One entry of a case file.
public struct CaseFileEntry: Sendable {
    /// The entry's version in the person's stream.
    public let version: UInt64
    public let position: UInt64
    public let recordedAtMilliseconds: Int64
    public let author: String
    public let type: String
    /// The catalogue's label of the type, if it is in the catalogue.
    public let label: String?
    /// The domain payload; nil when the entry's payload is not one (then nothing below is set).
    public let content: Content?
    public let personalData: PersonalData
    /// The versions of the entries that voided, rectified or restricted this one.
    public let voidedBy: UInt64?
    public let rectifiedBy: [UInt64]?
    public let restrictedBy: UInt64?

    public struct Content: Sendable {
        public let schemaVersion: Int
        public let occurredAt: String
        public let codeTable: String
        public let purpose: String
        public let actor: JSON
        public let correlationID: String?
        public let causationID: String?
        /// Clear and opened personal fields, in the schema's order (upcast to its current version).
        public let data: [(key: String, value: JSON)]
    }
}
