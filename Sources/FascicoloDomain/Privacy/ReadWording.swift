/// The words a person is told about the reads of their file ("chi ha consultato il mio
/// fascicolo": GDPR art. 15, the Garante's guidelines on health dossiers of 2015): what was read,
/// in which role and why, in Italian a citizen understands. The codes stay in the answer beside
/// the words, so that a portal may word them its own way.
public enum ReadWording {
    /// When, in Italian local time (`06/12/2026 05:58`).
    public static func when(_ milliseconds: Int64) -> String { CaseFiles.italianDateTime(milliseconds) }

    /// What was read (`RecordAccessed.what`).
    public static func what(_ code: String) -> String {
        switch code {
        case "case_file": "il fascicolo sociale"
        case "stream": "le registrazioni del fascicolo"
        case "timeline": "la cronologia del fascicolo"
        case "case_state": "lo stato della presa in carico"
        case "access_log": "l'elenco degli accessi al fascicolo (controllo)"
        case "reads": "l'elenco di chi ha consultato il fascicolo"
        case "household_timeline": "la cronologia del nucleo familiare"
        case "export": "una copia completa del fascicolo"
        case "log", "entry", "subscribe": "registrazioni del fascicolo, nel registro generale (controllo)"
        case "refused_append": "la situazione del fascicolo, per una registrazione non accettata"
        default: "il fascicolo (\(code))"
        }
    }

    /// The role of the reader (`RecordAccessed.role`).
    public static func role(_ code: String) -> String {
        switch code {
        case "writer": "operatore dei servizi sociali"
        case "auditor": "addetto al controllo (protezione dei dati)"
        case "admin": "amministratore del sistema"
        default: code
        }
    }

    /// Why (`RecordAccessed.purpose`): the defaults in words, a declared purpose as declared.
    public static func purpose(_ text: String) -> String {
        switch text {
        case "case_work": "lavoro sociale sul caso"
        case "administration": "amministrazione del sistema"
        default: text
        }
    }
}
