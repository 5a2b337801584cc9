import FascicoloDomain
import FascicoloJSON

extension Render {
    /// `GET /v1/retention/due`: who is due for erasure on `date`, and why (pseudonyms only).
    static func retentionDue(_ scan: RetentionScan, date: CalendarDate) -> [UInt8] {
        var json = JSONBytes()
        json.object { json in
            json.member("date", date.description)
            json.member("schedule", scan.schedule)
            json.key("due")
            json.array { json in
                for due in scan.due { retentionRow(due, into: &json) }
            }
            json.member("scanned", scan.scanned)
            json.key("next")
            if let next = scan.next { json.number(next) } else { json.null() }
        }
        return json.bytes
    }

    /// `POST /v1/retention/erasures`: the batch erased.
    static func retentionBatch(_ batch: RetentionBatch, date: CalendarDate, schedule: String) -> [UInt8] {
        var json = JSONBytes()
        json.object { json in
            json.member("date", date.description)
            json.member("schedule", schedule)
            json.key("erased")
            json.array { json in
                for due in batch.erased { retentionRow(due, into: &json) }
            }
            json.member("held", batch.held)
            json.member("scanned", batch.scanned)
            json.key("next")
            if let next = batch.next { json.number(next) } else { json.null() }
        }
        return json.bytes
    }

    static func retentionRow(_ due: RetentionDue, into json: inout JSONBytes) {
        json.object { json in
            json.member("person", due.person.description)
            json.member("class", due.rule.retentionClass)
            json.member("rule", due.rule.scope)
            json.member("from", due.rule.from)
            json.member("startedOn", due.startedOn.description)
            json.member("dueOn", due.dueOn.description)
            json.member("legalSource", due.rule.legalSource)
            json.key("heldBy")
            if let hold = due.heldBy {
                json.object { json in
                    json.member("ground", hold.ground)
                    json.member("reference", hold.reference)
                }
            } else {
                json.null()
            }
        }
    }
}
