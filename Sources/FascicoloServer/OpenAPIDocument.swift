/// The API's OpenAPI 3.1 description, kept beside the routes it describes and served at
/// `GET /v1/openapi.yaml`. A test checks that every route it lists exists and vice versa.
public enum OpenAPIDocument {
    public static let yaml = #"""
openapi: 3.1.0
info:
  title: Fascicolo
  version: 0.1.0
  summary: An append-only, signed, verifiable records log, served on a Unix socket.
  description: |
    HTTP/1.1 + JSON on a Unix domain socket (for example
    `curl --unix-socket data/fascicolod.sock http://localhost/v1/health/live`).
    Who may call what is decided from the peer's kernel credentials (SO_PEERCRED), mapped to
    roles in the configuration: writer (append, read streams), auditor (read everything, proofs,
    checkpoints), admin (everything). A peer without a role gets 403 on every route.
    Errors are RFC 9457 problem details with a stable `code`. One rule per condition, on every
    route: malformed JSON or a member twice in one object 400 `malformed_request`; a bad query
    parameter 400 `invalid_parameter` (with `field`); a body that is not `application/json`
    (optionally `; charset=utf-8`) 415; a body over the size limit 413 `body_too_large`, one
    event's payload 413 `payload_too_large`; more events than allowed 422 `too_many_events`.
    People are named only by a body's `person` or the `Fascicolo-Person` header: any other text
    the daemon would keep or log — the URL (path and query), other headers, stream names,
    idempotency keys, clear fields and generic payloads — that holds what looks like a codice
    fiscale (by its structure, check character right or not, omocodia included) or an STP/ENI
    code is refused with 422 `identifier_in_clear`, naming the `field`, never the value.
    Details never repeat a client's text. Bytes that are not HTTP/1.1 get 400 `malformed_request`.
    A stored row found damaged answers 500 `storage_damaged`; while the disk refuses writes
    (a commit failed: EIO, ENOSPC) appends answer 503 `storage_unavailable` with `Retry-After`,
    reads go on, and `/v1/health/ready` answers 503 with `"status":"read_only"`.
    Any request may also meet the connection limits (configuration section `connections`): a
    connection beyond its peer's allowance is answered 503 `too_many_connections` (with
    `Retry-After`) as soon as it is accepted, before any request is read, and closed; a request
    whose head and body have not all arrived within `request_read_timeout_milliseconds` of its
    first byte is answered 408 `request_timeout` and its connection closed; a keep-alive
    connection with no request in progress is closed after `idle_timeout_milliseconds`.
    The bytes behind entries, leaf hashes and checkpoints are specified in Formats.md.
servers:
  - url: http://localhost
    description: the daemon's Unix socket (storage.data_directory/fascicolod.sock by default)
paths:
  /v1/health/live:
    get:
      summary: The daemon is running. Any role.
      responses:
        "200": {description: live, content: {application/json: {schema: {type: object}}}}
        "403": {$ref: "#/components/responses/Problem"}
  /v1/health/ready:
    get:
      summary: The daemon serves requests; returns the number of entries. Any role.
      responses:
        "200": {description: ready, content: {application/json: {schema: {type: object}}}}
        "403": {$ref: "#/components/responses/Problem"}
        "503": {$ref: "#/components/responses/Problem"}
  /v1/version:
    get:
      summary: Daemon and API version. Any role.
      responses:
        "200": {description: versions, content: {application/json: {schema: {type: object}}}}
        "403": {$ref: "#/components/responses/Problem"}
  /v1/keys:
    get:
      summary: The log's origin, verifier key (signed-note vkey), Ed25519 public key and key ID. Any role.
      responses:
        "200":
          description: keys
          content:
            application/json:
              schema:
                type: object
                required: [origin, verifierKey, publicKey, keyId]
                properties:
                  origin: {type: string}
                  verifierKey: {type: string, description: "<origin>+<key id hex>+<base64(0x01 ‖ public key)>"}
                  publicKey: {type: string, description: base64 of the 32-byte Ed25519 public key}
                  keyId: {type: string, description: 8 hex digits}
        "403": {$ref: "#/components/responses/Problem"}
  /v1/openapi.yaml:
    get:
      summary: This document. Any role.
      responses:
        "200": {description: the OpenAPI document, content: {application/yaml: {schema: {type: string}}}}
        "403": {$ref: "#/components/responses/Problem"}
  /v1/streams/{stream}/events:
    parameters:
      - {name: stream, in: path, required: true, schema: {type: string, pattern: "^[A-Za-z0-9][A-Za-z0-9._:@-]*$", maxLength: 200}}
    post:
      summary: Append one or more events to a stream, atomically. Roles writer, admin.
      parameters:
        - {$ref: "#/components/parameters/Receipts"}
      description: |
        Each event's `data` is stored exactly as sent (validated as JSON, never re-encoded): those
        bytes are the signed payload and are served back unchanged. The author
        stamped into the entries is the daemon's view of the caller (uid and service name),
        never a field of the request. Nothing is stored when the answer is not 200 or 201.
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [events]
              properties:
                events:
                  type: array
                  minItems: 1
                  items:
                    type: object
                    required: [type, data]
                    properties:
                      type: {type: string, pattern: "^[A-Za-z][A-Za-z0-9._-]*$", maxLength: 128}
                      data: {description: any JSON value}
                expectedVersion:
                  oneOf:
                    - {type: string, enum: [any, no_stream]}
                    - {type: integer, minimum: 0, description: the stream's exact current version}
                idempotencyKey: {type: string, maxLength: 128, description: "printable ASCII, no spaces; same key and content → the original answer"}
      responses:
        "201": {description: stored, content: {application/json: {schema: {$ref: "#/components/schemas/AppendResult"}}}}
        "200": {description: a retry answered from its idempotency key; nothing new stored, content: {application/json: {schema: {$ref: "#/components/schemas/AppendResult"}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "409": {$ref: "#/components/responses/Problem"}
        "413": {$ref: "#/components/responses/Problem"}
        "415": {$ref: "#/components/responses/Problem"}
        "422": {$ref: "#/components/responses/Problem"}
        "503": {$ref: "#/components/responses/Problem"}
    get:
      summary: Read a stream forwards or backwards. Roles writer, auditor, admin.
      parameters:
        - {name: from, in: query, schema: {type: integer, minimum: 0}, description: "first version to return (forwards: default 1; backwards: default the newest)"}
        - {name: direction, in: query, schema: {type: string, enum: [forwards, backwards], default: forwards}}
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 1000, default: 100}}
      responses:
        "200": {description: entries, content: {application/json: {schema: {$ref: "#/components/schemas/Entries"}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "404": {$ref: "#/components/responses/Problem"}
  /v1/log:
    get:
      summary: Read the global log from a position. Roles auditor, admin.
      description: |
        Entries of persons' case files (`person:` streams) are served withheld
        (`"data":null,"withheld":"person_data"`; signature and leaf hash kept) unless
        `Fascicolo-Purpose` is given: then each person whose entries are served first gets a
        RecordAccessed entry (`what`: `log`) in their access stream. The same holds for
        /v1/entries/{position} (`entry`) and /v1/subscribe (`subscribe`, once per person per
        subscription).
      parameters:
        - {$ref: "#/components/parameters/Purpose"}
        - {name: from, in: query, schema: {type: integer, minimum: 0, default: 0}}
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 1000, default: 100}}
      responses:
        "200": {description: entries, content: {application/json: {schema: {$ref: "#/components/schemas/Entries"}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
  /v1/subscribe:
    get:
      summary: Follow the log. Roles auditor, admin.
      description: |
        NDJSON (`application/x-ndjson`): one entry per line (the Entry schema) from position
        `from`, then each new entry as it commits. While the log is quiet a heartbeat line
        `{"heartbeat":true,"size":N}` is sent every `subscriptions.heartbeat_milliseconds`.
        The last line says why the stream ended and where to resume:
        `{"end":"shutting_down"|"too_far_behind","resumeFrom":N}`. A subscriber reads the log at
        its own pace and never slows appends; one that caught up and then falls more than
        `subscriptions.lag_entries_max` entries behind is ended with `too_far_behind`. At most
        `subscriptions.concurrent_max` subscriptions are open at once: more get 503
        `too_many_subscriptions` with `Retry-After`.
      parameters:
        - {$ref: "#/components/parameters/Purpose"}
        - {name: from, in: query, schema: {type: integer, minimum: 0}, description: default the current end of the log}
      responses:
        "200": {description: the stream, content: {application/x-ndjson: {schema: {type: string}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "503": {$ref: "#/components/responses/Problem"}
  /v1/entries/{position}:
    get:
      summary: One entry with its signature and signed bytes. Roles auditor, admin.
      description: A person's entry is withheld (no data, no signed bytes) unless Fascicolo-Purpose is given; then the read is recorded (see /v1/log).
      parameters:
        - {$ref: "#/components/parameters/Purpose"}
        - {name: position, in: path, required: true, schema: {type: integer, minimum: 0}}
      responses:
        "200": {description: the entry, content: {application/json: {schema: {$ref: "#/components/schemas/Entry"}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "404": {$ref: "#/components/responses/Problem"}
  /v1/checkpoints/latest:
    get:
      summary: The latest signed checkpoint, as the C2SP signed note. Roles auditor, admin.
      responses:
        "200": {description: the note, content: {text/plain: {schema: {type: string}}}}
        "403": {$ref: "#/components/responses/Problem"}
        "404": {$ref: "#/components/responses/Problem"}
  /v1/proofs/inclusion:
    get:
      summary: RFC 9162 inclusion proof of an entry in the tree of treeSize entries. Roles auditor, admin.
      parameters:
        - {name: position, in: query, required: true, schema: {type: integer, minimum: 0}}
        - {name: treeSize, in: query, schema: {type: integer, minimum: 1}, description: default the current size}
      responses:
        "200":
          description: the proof
          content:
            application/json:
              schema:
                type: object
                properties:
                  position: {type: integer}
                  treeSize: {type: integer}
                  leafHash: {type: string, description: hex}
                  proof: {type: array, items: {type: string, description: base64 of a 32-byte hash}}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "404": {$ref: "#/components/responses/Problem"}
  /v1/proofs/consistency:
    get:
      summary: RFC 9162 consistency proof between two tree sizes. Roles auditor, admin.
      parameters:
        - {name: from, in: query, required: true, schema: {type: integer, minimum: 0}}
        - {name: to, in: query, schema: {type: integer, minimum: 0}, description: default the current size}
      responses:
        "200":
          description: the proof
          content:
            application/json:
              schema:
                type: object
                properties:
                  from: {type: integer}
                  to: {type: integer}
                  proof: {type: array, items: {type: string, description: base64 of a 32-byte hash}}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "404": {$ref: "#/components/responses/Problem"}
  /v1/persons/events:
    post:
      summary: >-
        Record events on a person's path. Roles writer, admin. The person is named by codice fiscale
        (validated, then pseudonymised: it is never stored), STP/ENI code or provisional:<id>. Each event is
        validated against its schema (GET /v1/catalogue), the reference data and the path rules at the
        stream's current version; personal fields are sealed with the person's data key. All or nothing.
      parameters:
        - {$ref: "#/components/parameters/Receipts"}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [person, actor, events]
              additionalProperties: false
              properties:
                person: {type: string, description: "codice fiscale, STP/ENI code (16 characters) or provisional:<id>"}
                actor:
                  type: object
                  required: [operator, role, ente, ambito]
                  properties:
                    operator: {type: string, maxLength: 64}
                    role: {type: string, enum: [assistente_sociale, educatore, psicologo, mediatore, amministrativo, coordinatore, case_manager, other]}
                    ente: {type: string, maxLength: 200}
                    ambito: {type: string, description: a code of the reference data's ambiti}
                    onBehalfOf: {type: string, maxLength: 64}
                events:
                  type: array
                  minItems: 1
                  items:
                    type: object
                    required: [type, occurredAt, data]
                    additionalProperties: false
                    properties:
                      type: {type: string, description: an event type of the catalogue}
                      occurredAt: {type: string, description: "YYYY-MM-DD or an RFC 3339 date-time; not in the future"}
                      data: {type: object, description: the fields of the type's schema}
                      correlationId: {type: string}
                      causationId: {type: string}
                expectedVersion:
                  oneOf: [{type: integer, minimum: 0}, {type: string, enum: [any, no_stream]}]
                idempotencyKey: {type: string}
      responses:
        "201": {description: stored, content: {application/json: {schema: {$ref: "#/components/schemas/RecordResult"}}}}
        "200": {description: a retry answered from its idempotency key; nothing new stored, content: {application/json: {schema: {$ref: "#/components/schemas/RecordResult"}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "409": {$ref: "#/components/responses/Problem"}
        "413": {$ref: "#/components/responses/Problem"}
        "415": {$ref: "#/components/responses/Problem"}
        "422": {$ref: "#/components/responses/Problem"}
        "503": {$ref: "#/components/responses/Problem"}
  /v1/persons/case-file:
    get:
      summary: >-
        A person's case file: entries with personal fields opened, corrections shown (voidedBy, rectifiedBy,
        restrictedBy), erased or restricted content marked, and the case state. Any role. The read is first
        recorded as a RecordAccessed entry in access:<pseudonym>; auditors must state a purpose.
      parameters:
        - {name: Fascicolo-Person, in: header, required: true, schema: {type: string}, description: "codice fiscale, STP/ENI code or provisional:<id>"}
        - {name: Fascicolo-Purpose, in: header, schema: {type: string, minLength: 3, maxLength: 200}, description: "why the data is read (required from auditors; stored in clear: name the reason, not the person)"}
        - {name: Fascicolo-Operator, in: header, schema: {type: string, maxLength: 64}, description: the operator a service reads for}
        - {name: from, in: query, schema: {type: integer, minimum: 1}, description: first stream version (default 1)}
        - {name: limit, in: query, schema: {type: integer, minimum: 1}, description: "at most domain.entries_per_read_max (default: that many, 1000 unless configured)"}
      responses:
        "200": {description: the case file, content: {application/json: {schema: {$ref: "#/components/schemas/CaseFile"}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "404": {$ref: "#/components/responses/Problem"}
        "422": {$ref: "#/components/responses/Problem"}
  /v1/persons/erasure:
    post:
      summary: >-
        Erasure (GDPR art. 17 or end of retention): destroys the person's data key and appends a signed
        ErasureExecuted entry in the same commit, then replaces records.key and seals every other person's
        key again under the new one, so that no file of the data directory opens the erased key's old bytes
        (LMDB keeps them in free pages). Answered once both are done; 500 erasure_pending when the second
        could not be (the next start finishes it). Role admin. The log still verifies; sealed fields are gone.
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [person, legalGround, reference]
              properties:
                person: {type: string}
                legalGround: {type: string, enum: [art17_request, retention_ended, unlawful_processing, court_order]}
                reference: {type: string, maxLength: 200, description: the protocol number of the request or act}
      responses:
        "201": {description: erased, content: {application/json: {schema: {$ref: "#/components/schemas/RecordResult"}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "404": {$ref: "#/components/responses/Problem"}
        "413": {$ref: "#/components/responses/Problem"}
        "415": {$ref: "#/components/responses/Problem"}
        "422": {$ref: "#/components/responses/Problem"}
  /v1/catalogue:
    get:
      summary: >-
        The event catalogue: every type with its Italian label, schema version, fields (kind, required,
        personal), purpose, legal basis, retention class and correction — the register of processing. Any role.
      responses:
        "200": {description: the catalogue, content: {application/json: {schema: {type: object}}}}
        "403": {$ref: "#/components/responses/Problem"}
  /v1/projections:
    get:
      summary: Every projection (read model) with its state, position, lag, failure, build progress and last rebuild. Any role.
      responses:
        "200":
          description: the projections
          content:
            application/json:
              schema:
                type: object
                properties:
                  projections: {type: array, items: {$ref: "#/components/schemas/ProjectionStatus"}}
        "403": {$ref: "#/components/responses/Problem"}
  /v1/projections/{name}:
    parameters:
      - {name: name, in: path, required: true, schema: {type: string, enum: [timeline, cases, interventions, compliance]}}
    get:
      summary: One projection's status. Any role.
      responses:
        "200": {description: the status, content: {application/json: {schema: {$ref: "#/components/schemas/ProjectionStatus"}}}}
        "403": {$ref: "#/components/responses/Problem"}
        "404": {$ref: "#/components/responses/Problem"}
  /v1/projections/{name}/rebuild:
    parameters:
      - {name: name, in: path, required: true, schema: {type: string}}
    post:
      summary: >-
        Rebuilds the projection from position 0 into its other generation; the serving one answers until the new one
        has caught up and is swapped in. Its digest and log root are then in lastRebuild. Role admin.
      responses:
        "202": {description: the rebuild started, content: {application/json: {schema: {$ref: "#/components/schemas/ProjectionStatus"}}}}
        "403": {$ref: "#/components/responses/Problem"}
        "404": {$ref: "#/components/responses/Problem"}
        "409": {description: "a rebuild is already running (rebuild_in_progress)", content: {application/problem+json: {schema: {$ref: "#/components/schemas/Problem"}}}}
  /v1/projections/{name}/digest:
    parameters:
      - {name: name, in: path, required: true, schema: {type: string}}
    get:
      summary: The digest (SHA-256 over the rows, see Formats.md) of the serving generation and the position it reflects. Roles auditor, admin.
      responses:
        "200":
          description: the digest
          content:
            application/json:
              schema:
                type: object
                required: [name, digest, position]
                properties:
                  name: {type: string}
                  digest: {type: string, description: hex}
                  position: {type: integer, description: entries reflected (every position below it)}
        "403": {$ref: "#/components/responses/Problem"}
        "404": {$ref: "#/components/responses/Problem"}
        "503": {$ref: "#/components/responses/Problem"}
  /v1/persons/timeline:
    get:
      summary: >-
        A person's timeline from the timeline projection: every entry grouped in case files, corrections marked, personal
        fields opened from the signed entries (personalData as in the case file). Any role. Recorded first as a
        RecordAccessed entry (what timeline); auditors must state a purpose. Without reflects, it reflects at least the
        person's own last entry.
      parameters:
        - {$ref: "#/components/parameters/Person"}
        - {$ref: "#/components/parameters/Purpose"}
        - {$ref: "#/components/parameters/Operator"}
        - {name: from, in: query, schema: {type: integer, minimum: 1}, description: first stream version (default 1)}
        - {name: limit, in: query, schema: {type: integer, minimum: 1}, description: "at most domain.entries_per_read_max, 1000 unless configured (default 100)"}
        - {$ref: "#/components/parameters/Reflects"}
        - {$ref: "#/components/parameters/TimeoutMs"}
      responses:
        "200":
          description: the timeline page
          content:
            application/json:
              schema:
                type: object
                required: [person, entries, caseFiles, erased, rows, position, lag]
                properties:
                  person: {type: string}
                  entries: {type: integer}
                  caseFiles: {type: integer}
                  erased: {type: boolean}
                  rows: {type: array, items: {type: object, description: "version, position, type, recordedAt, caseFile, occurredAt, actor, data, personalData, voidedBy?, rectifiedBy?, restrictedBy?"}}
                  position: {type: integer}
                  lag: {type: integer}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "404": {$ref: "#/components/responses/Problem"}
        "422": {$ref: "#/components/responses/Problem"}
        "503": {$ref: "#/components/responses/ProjectionUnavailable"}
  /v1/persons/case-state:
    get:
      summary: >-
        A person's case state from the cases projection, with the ages as of today (UTC). Any role. Recorded first
        (what case_state); auditors must state a purpose.
      parameters:
        - {$ref: "#/components/parameters/Person"}
        - {$ref: "#/components/parameters/Purpose"}
        - {$ref: "#/components/parameters/Operator"}
        - {$ref: "#/components/parameters/Reflects"}
        - {$ref: "#/components/parameters/TimeoutMs"}
      responses:
        "200": {description: the case state, content: {application/json: {schema: {type: object, required: [person, state, position, lag]}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "404": {$ref: "#/components/responses/Problem"}
        "422": {$ref: "#/components/responses/Problem"}
        "503": {$ref: "#/components/responses/ProjectionUnavailable"}
  /v1/caseload:
    get:
      summary: Open case files, presi in carico and overdue reviews per operator (case manager) or per ambito. Any role.
      parameters:
        - {name: by, in: query, schema: {type: string, enum: [operator, ambito], default: operator}}
        - {$ref: "#/components/parameters/Reflects"}
        - {$ref: "#/components/parameters/TimeoutMs"}
      responses:
        "200":
          description: the caseload
          content:
            application/json:
              schema:
                type: object
                required: [by, rows, position, lag]
                properties:
                  by: {type: string}
                  rows:
                    type: array
                    items:
                      type: object
                      properties: {id: {type: string}, open: {type: integer}, takenInCharge: {type: integer}, reviewsOverdue: {type: integer}}
                  position: {type: integer}
                  lag: {type: integer}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "503": {$ref: "#/components/responses/ProjectionUnavailable"}
  /v1/interventions:
    get:
      summary: Interventions requested, started, ended and delivered (minutes, amount) by code, provider, funding line, ambito and month. Any role.
      parameters:
        - {name: code, in: query, schema: {type: string}}
        - {name: provider, in: query, schema: {type: string}}
        - {name: fundingLine, in: query, schema: {type: string}}
        - {name: ambito, in: query, schema: {type: string}}
        - {name: month, in: query, schema: {type: string, pattern: "^[0-9]{4}-[0-9]{2}$"}}
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 1000, default: 100}}
        - {$ref: "#/components/parameters/Reflects"}
        - {$ref: "#/components/parameters/TimeoutMs"}
      responses:
        "200":
          description: the totals
          content:
            application/json:
              schema:
                type: object
                required: [rows, position, lag]
                properties:
                  rows:
                    type: array
                    items:
                      type: object
                      properties:
                        code: {type: string}
                        provider: {type: string}
                        fundingLine: {type: string}
                        ambito: {type: string}
                        month: {type: string}
                        requested: {type: integer}
                        started: {type: integer}
                        ended: {type: integer}
                        deliveries: {type: integer}
                        minutes: {type: integer}
                        amount: {type: string, description: "euros as a decimal string, \"120.50\""}
                  position: {type: integer}
                  lag: {type: integer}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "503": {$ref: "#/components/responses/ProjectionUnavailable"}
  /v1/indicators:
    get:
      summary: >-
        The Region's indicators over case files opened in a year and ambito: days to presa in carico and to a signed plan
        (median, p90), shares with an assessment and a signed plan, closure reasons, outcomes. Counts below 5 are "<5". Any role.
      parameters:
        - {name: ambito, in: query, schema: {type: string}}
        - {name: year, in: query, schema: {type: integer, minimum: 1900, maximum: 2200}}
        - {$ref: "#/components/parameters/Reflects"}
        - {$ref: "#/components/parameters/TimeoutMs"}
      responses:
        "200": {description: the indicators, content: {application/json: {schema: {type: object, required: [indicators, position, lag]}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "503": {$ref: "#/components/responses/ProjectionUnavailable"}
  /v1/compliance/accesses:
    get:
      summary: >-
        Who read a person's data, when, in which role and why (their RecordAccessed entries). Roles auditor, admin. This read
        is itself recorded first (what access_log), with the purpose the auditor states.
      parameters:
        - {$ref: "#/components/parameters/Person"}
        - {$ref: "#/components/parameters/Purpose"}
        - {$ref: "#/components/parameters/Operator"}
        - {name: from, in: query, schema: {type: integer, minimum: 0}, description: first log position (default 0)}
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 1000, default: 100}}
        - {$ref: "#/components/parameters/Reflects"}
        - {$ref: "#/components/parameters/TimeoutMs"}
      responses:
        "200": {description: the accesses, content: {application/json: {schema: {type: object, required: [person, accesses, position, lag]}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "404": {$ref: "#/components/responses/Problem"}
        "422": {$ref: "#/components/responses/Problem"}
        "503": {$ref: "#/components/responses/ProjectionUnavailable"}
  /v1/compliance/registers/{register}:
    parameters:
      - {name: register, in: path, required: true, schema: {type: string, enum: [rectifications, voids, restrictions, erasures]}}
    get:
      summary: A register of corrections across all persons (pseudonyms), oldest first. Roles auditor, admin.
      parameters:
        - {name: from, in: query, schema: {type: integer, minimum: 0}, description: first log position (default 0)}
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 1000, default: 100}}
        - {$ref: "#/components/parameters/Reflects"}
        - {$ref: "#/components/parameters/TimeoutMs"}
      responses:
        "200": {description: the register, content: {application/json: {schema: {type: object, required: [register, rows, position, lag]}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "403": {$ref: "#/components/responses/Problem"}
        "404": {$ref: "#/components/responses/Problem"}
        "503": {$ref: "#/components/responses/ProjectionUnavailable"}
  /metrics:
    get:
      summary: Prometheus text metrics. Role admin.
      responses:
        "200": {description: metrics, content: {text/plain: {schema: {type: string}}}}
        "403": {$ref: "#/components/responses/Problem"}
components:
  parameters:
    Person: {name: Fascicolo-Person, in: header, required: true, schema: {type: string}, description: "codice fiscale, STP/ENI code or provisional:<id>"}
    Purpose: {name: Fascicolo-Purpose, in: header, schema: {type: string, minLength: 3, maxLength: 200}, description: why the data is read (required from auditors)}
    Receipts: {name: receipts, in: query, schema: {type: boolean, default: false}, description: "answer each entry's signed receipt too (checked before anything is stored; 400 invalid_parameter otherwise)"}
    Operator: {name: Fascicolo-Operator, in: header, schema: {type: string, maxLength: 64}, description: the operator a service reads for}
    Reflects: {name: reflects, in: query, schema: {type: integer, minimum: 0}, description: "read-your-writes: answer only once the entry at this position is reflected"}
    TimeoutMs: {name: timeoutMs, in: query, schema: {type: integer, minimum: 0, maximum: 30000, default: 5000}, description: how long to wait for reflects}
  responses:
    Problem:
      description: RFC 9457 problem details
      content:
        application/problem+json:
          schema: {$ref: "#/components/schemas/Problem"}
    ProjectionUnavailable:
      description: "the read model is being built (projection_building), behind the position asked (projection_behind) or failed (projection_failed); retry"
      headers:
        Retry-After: {schema: {type: integer}, description: seconds}
      content:
        application/problem+json:
          schema: {$ref: "#/components/schemas/Problem"}
  schemas:
    Problem:
      type: object
      required: [type, title, status, code, detail]
      properties:
        type: {type: string}
        title: {type: string}
        status: {type: integer}
        code:
          type: string
          description: stable machine-readable code
          enum: [malformed_request, forbidden, not_found, unsupported_media_type, body_too_large, invalid_stream_name,
                 invalid_event_type, invalid_author, invalid_idempotency_key, no_events, too_many_events, empty_payload,
                 payload_too_large, wrong_expected_version, idempotency_conflict, shutting_down, storage_failure,
                 reserved_stream, person_required, invalid_person_identifier, empty_person_identifier, invalid_codice_fiscale,
                 invalid_stp, invalid_eni, invalid_provisional_id, already_identified, identity_already_registered,
                 schema_violation, unknown_code, unknown_event_type, system_event_type, purpose_required, invalid_purpose,
                 person_not_found, person_not_registered, already_registered, person_erased, already_linked, no_open_case,
                 case_already_open, not_taken_in_charge, already_taken_in_charge, no_signed_plan, case_closed,
                 case_transferred, case_suspended, case_not_closed, same_ambito, transfer_mismatch, unknown_target,
                 target_voided, target_not_counting, outcome_without_reference, already_restricted, not_restricted, wrong_target,
                 appointment_concluded, plan_not_signed, goal_closed, intervention_step, unknown_field, not_correctable,
                 date_in_future, date_before_case_opened, date_before_taken_in_charge, date_before_referenced_entry,
                 date_before_intervention_started, date_after_intervention_ended, date_after_closure, date_after_suspension,
                 date_before_closure, date_before_suspension, date_outside_open_period, date_after_death, person_deceased,
                 closure_after_death, came_of_age_under_18,
                 invalid_parameter, projection_not_found, projection_building, rebuild_in_progress, projection_failed,
                 projection_behind, storage_error, register_not_found, too_many_subscriptions, identifier_in_clear,
                 erasure_pending, storage_damaged, too_many_connections, request_timeout,
                 storage_unavailable]
        detail: {type: string}
        field: {type: string, description: "the offending input, as a path (events[0].data.birthYear)"}
        detailItalian: {type: string, description: the detail in Italian (path rules)}
    ProjectionStatus:
      type: object
      required: [name, version, state, position, logSize, lag]
      properties:
        name: {type: string}
        version: {type: integer}
        state: {type: string, enum: [live, building, failed]}
        servingSlot: {type: [string, "null"], enum: [a, b, null]}
        position: {type: integer, description: entries the serving generation has applied (every position below it)}
        logSize: {type: integer}
        lag: {type: integer}
        failure: {type: [object, "null"], properties: {position: {type: integer}, reason: {type: string}}}
        build:
          type: [object, "null"]
          properties:
            slot: {type: string}
            position: {type: integer}
            logSize: {type: integer}
            entriesPerSecond: {type: integer}
            etaSeconds: {type: [integer, "null"]}
            startedAt: {type: string}
            failure: {type: [object, "null"]}
        lastRebuild:
          type: [object, "null"]
          description: version, position, digest, logRoot, checkpoint {size, root}, startedAt, finishedAt, entriesPerSecond
    RecordResult:
      type: object
      required: [person, stream, codeTable, positions, streamVersions, leafHashes, deduplicated]
      properties:
        person: {type: string, description: the person's pseudonym (32 hex digits)}
        stream: {type: string, description: "person:<pseudonym>"}
        codeTable: {type: string, description: the reference data version the events were validated against}
        positions: {type: array, items: {type: integer}}
        streamVersions: {type: array, items: {type: integer}}
        leafHashes: {type: array, items: {type: string}}
        deduplicated: {type: boolean}
    CaseFile:
      type: object
      required: [person, stream, version, state, entries]
      properties:
        person: {type: string}
        stream: {type: string}
        version: {type: integer}
        state:
          type: object
          description: phase (no_case, opened, taken_in_charge, suspended, closed, transferred_out), ambito, caseManager, takenInChargeOn, daysSinceTakenInCharge, nextReviewDue, reviewOverdue, signedPlan, openInterventions, erased
        entries:
          type: array
          items:
            type: object
            properties:
              version: {type: integer}
              position: {type: integer}
              recordedAt: {type: string, format: date-time}
              author: {type: string}
              type: {type: string}
              label: {type: string}
              schema: {type: integer, description: the schema version it was written under; data is shown in the current one}
              occurredAt: {type: string}
              codeTable: {type: string}
              purpose: {type: string}
              actor: {type: object}
              data: {type: object}
              personalData: {type: string, enum: [included, none, erased, restricted, unreadable]}
              voidedBy: {type: integer}
              rectifiedBy: {type: array, items: {type: integer}}
              restrictedBy: {type: integer}
    AppendResult:
      type: object
      required: [positions, streamVersions, leafHashes, deduplicated]
      properties:
        positions: {type: array, items: {type: integer}}
        streamVersions: {type: array, items: {type: integer}}
        leafHashes: {type: array, items: {type: string, description: hex SHA-256 leaf hash}}
        deduplicated: {type: boolean}
        receipts:
          type: array
          description: "with ?receipts=true: each entry as signed, to keep (fascicolo verify --receipts shows one acknowledged but absent)"
          items:
            type: object
            required: [position, leafHash, signedBytes, signature]
            properties:
              position: {type: integer}
              leafHash: {type: string, description: hex}
              signedBytes: {type: string, description: base64}
              signature: {type: string, description: base64 Ed25519 signature of the signed bytes}
    Entry:
      type: object
      required: [position, stream, streamVersion, type, recordedAt, author, data, keyId, signature, leafHash]
      properties:
        position: {type: integer}
        stream: {type: string}
        streamVersion: {type: integer}
        type: {type: string}
        recordedAt: {type: string, format: date-time}
        author: {type: string}
        data: {description: "the event's JSON, as sent, except that line breaks between tokens are shown as spaces (the exact bytes are in signedBytes); null when withheld"}
        withheld: {type: string, enum: [person_data], description: "present when a person's entry is served without its data (no Fascicolo-Purpose)"}
        keyId: {type: string}
        signature: {type: string, description: base64 Ed25519 signature of the signed bytes}
        leafHash: {type: string, description: hex}
        signedBytes: {type: string, description: "base64 (only on /v1/entries/{position}, and not when withheld)"}
    Entries:
      type: object
      properties:
        entries: {type: array, items: {$ref: "#/components/schemas/Entry"}}
"""#
}
