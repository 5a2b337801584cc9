import FascicoloLedger

/// Why a domain request was refused. Nothing of a refused request is stored.
///
/// Messages never contain a codice fiscale, a name or any other value the client sent — only
/// field names, codes and positions — so they are safe in logs and problem details.
public struct DomainError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The request is malformed (400).
        case malformed
        /// The input is well-formed but not valid: schema, identifier, reference codes (422).
        case invalid
        /// A step the person's path does not allow (422), with an Italian sentence too.
        case pathRule
        /// The stream is not at the expected version, or an idempotency key was reused (409).
        case conflict
        /// The person is not known (404).
        case notFound
        /// The caller may not act for this person or in this ambito (403).
        case forbidden
        /// The ledger refused or failed (its own error).
        case ledger(LedgerError)
    }

    public let kind: Kind
    /// Stable machine-readable code.
    public let code: String
    /// English sentence for the caller.
    public let message: String
    /// The same in Italian, for path rules a caseworker sees.
    public let messageItalian: String?
    /// The offending field, as a path: `events[0].data.birthYear`.
    public let field: String?

    public init(_ kind: Kind, code: String, _ message: String, italian: String? = nil, field: String? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.messageItalian = italian
        self.field = field
    }

    public var description: String { field.map { "\($0): \(message)" } ?? message }

    /// A path rule's refusal (422), with its Italian sentence.
    init(_ violation: PathRuleViolation, field: String?) {
        self.init(.pathRule, code: violation.code, violation.english, italian: violation.italian, field: field)
    }

    /// The ledger's refusal, with its own code and sentence.
    init(_ error: LedgerError) {
        self.init(.ledger(error), code: error.code, error.description)
    }

    static func malformed(_ message: String, field: String? = nil) -> DomainError {
        DomainError(.malformed, code: "malformed_request", message, field: field)
    }

    static func schema(_ message: String, field: String) -> DomainError {
        DomainError(.invalid, code: "schema_violation", message, field: field)
    }

    /// A codice fiscale or STP/ENI code where the text would be stored in clear (`IdentifierScanner`).
    /// The value is never repeated, only the field.
    public static func identifierInClear(field: String) -> DomainError {
        DomainError(
            .invalid, code: "identifier_in_clear",
            "this field would be stored in clear and holds what looks like a codice fiscale or an STP/ENI code; "
                + "name people only in person (or Fascicolo-Person), and put personal details in the sealed fields",
            italian: "Questo campo sarebbe conservato in chiaro e contiene quello che sembra un codice fiscale o un codice STP/ENI: "
                + "la persona si indica solo nel campo person (o nell'intestazione Fascicolo-Person).",
            field: field)
    }
}
