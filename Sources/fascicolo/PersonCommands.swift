import ArgumentParser
import FascicoloJSON
import Glibc

// The fascicolo sociale through the daemon's domain API (/v1/persons/…, /v1/catalogue).
//
// A person is named by a codice fiscale (or an STP, ENI or provisional code) given with
// --person-file, FASCICOLO_PERSON or --person (`PersonOption`). It goes to the daemon in the request body or the Fascicolo-Person header — never in
// a URL — and is never printed back: output names the pseudonym the daemon answers with, and
// everything printed passes through `Redaction`.

struct Person: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "person",
        abstract: "A person's case file: record events, show it, its timeline and state, export it, erase the personal data.",
        discussion: """
            The person — a codice fiscale, an STP or ENI code, or provisional:<id> — is given in \
            exactly one way: --person-file PATH (the file's first line; '-' reads one line from \
            standard input, without echo on a terminal), the environment variable \
            FASCICOLO_PERSON, or --person VALUE. Prefer the first two: a command line is visible \
            to every local user (ps, /proc/PID/cmdline), and --person with a codice fiscale prints \
            a warning. Two ways at once, or none, is an error (exit 2, nothing sent).

            The person is sent in the request body or the Fascicolo-Person header, never in a URL, \
            and never printed: output names the person's pseudonym (32 hex digits), which the \
            daemon computes with its pseudonym.key. Every read of a case file is recorded by the \
            daemon (who, when, why) before it is served.

            A refusal prints the daemon's detail and code; a step the person's path does not allow \
            (e.g. an intervention before a signed plan) also prints the sentence in Italian.

            """ + Exit.help,
        subcommands: [
            PersonRecord.self, PersonShow.self, PersonTimeline.self, PersonState.self, PersonReads.self, PersonHousehold.self,
            PersonErase.self,
            PersonExport.self,
        ])
}
