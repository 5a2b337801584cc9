import FascicoloJSON

/// How the projection commands show a status.
enum ProjectionText {
    static func state(_ status: JSON) -> String {
        let state = status["state"]?.string ?? "?"
        if state == "failed", let position = status["failure"]?["position"]?.uint64 { return "failed at \(position)" }
        return state
    }

    /// "-" or "b 1200/5000 24% 3000/s ETA 2s".
    static func buildSummary(_ status: JSON) -> String {
        guard let build = status["build"], build != .null else { return "-" }
        let position = build["position"]?.uint64 ?? 0
        let size = build["logSize"]?.uint64 ?? status["logSize"]?.uint64 ?? 0
        var text = "\(build["slot"]?.string ?? "?") \(position)/\(size) \(percent(position, size))"
        if let failure = build["failure"], failure != .null {
            return text + " FAILED at \(failure["position"]?.cell ?? "?")"
        }
        text += " \(build["entriesPerSecond"]?.cell ?? "0")/s"
        if let eta = build["etaSeconds"]?.uint64 { text += " ETA \(Terminal.duration(Double(eta)))" }
        return text
    }

    /// "-" or "a1b2c3d4e5f6… at 1234, 2026-…".
    static func rebuildSummary(_ record: JSON?) -> String {
        guard let record, record != .null else { return "-" }
        let digest = record["digest"]?.string.map { String($0.prefix(16)) + "…" } ?? "?"
        return "\(digest) at \(record["position"]?.cell ?? "?"), \(record["finishedAt"]?.cell ?? "?")"
    }

    static func percent(_ done: UInt64, _ total: UInt64) -> String {
        total == 0 ? "100%" : Terminal.format(Double(min(done, total)) * 100 / Double(total), decimals: 1) + "%"
    }

    /// `[########············] 1200/5000 24.0%  3000 entries/s  ETA 2s`
    static func progressBar(name: String, build: JSON) -> String {
        let position = build["position"]?.uint64 ?? 0
        let size = build["logSize"]?.uint64 ?? 0
        let width = 24
        let filled = size == 0 ? width : Int(Double(min(position, size)) / Double(size) * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "·", count: width - filled)
        let eta = build["etaSeconds"]?.uint64.map { Terminal.duration(Double($0)) } ?? "?"
        return "rebuilding \(name) [\(bar)] \(position)/\(size) \(percent(position, size))  "
            + "\(build["entriesPerSecond"]?.cell ?? "0") entries/s  ETA \(eta)"
    }

    static func failure(_ value: JSON?) -> String {
        guard let value, value != .null else { return "none" }
        return "at position \(value["position"]?.cell ?? "?"): \(value["reason"]?.cell ?? "?")"
    }

    static func statusFields(_ status: JSON) -> [(String, String)] {
        var rows: [(String, String)] = [
            ("name", status["name"]?.cell ?? "?"), ("version", status["version"]?.cell ?? "?"),
            ("state", status["state"]?.cell ?? "?"), ("serving generation", status["servingSlot"]?.cell ?? "-"),
            ("position", status["position"]?.cell ?? "?"), ("log size", status["logSize"]?.cell ?? "?"),
            ("lag", status["lag"]?.cell ?? "?"), ("failure", failure(status["failure"])),
        ]
        if let build = status["build"], build != .null {
            let position = build["position"]?.uint64 ?? 0
            let size = build["logSize"]?.uint64 ?? 0
            rows += [
                ("build", "generation \(build["slot"]?.cell ?? "?"), started \(build["startedAt"]?.cell ?? "?")"),
                ("build position", "\(position)/\(size) (\(percent(position, size)))"),
                (
                    "build rate",
                    "\(build["entriesPerSecond"]?.cell ?? "?") entries/s, ETA "
                        + (build["etaSeconds"]?.uint64.map { Terminal.duration(Double($0)) } ?? "?")
                ),
                ("build failure", failure(build["failure"])),
            ]
        } else {
            rows.append(("build", "none running"))
        }
        if let record = status["lastRebuild"], record != .null {
            rows += rebuildFields(record).map { ("last rebuild " + $0.0, $0.1) }
        } else {
            rows.append(("last rebuild", "none"))
        }
        return rows
    }

    static func rebuildFields(_ record: JSON) -> [(String, String)] {
        var rows: [(String, String)] = [
            ("version", record["version"]?.cell ?? "?"), ("position", record["position"]?.cell ?? "?"),
            ("digest", record["digest"]?.cell ?? "?"), ("log root", record["logRoot"]?.cell ?? "?"),
        ]
        if let checkpoint = record["checkpoint"], checkpoint != .null {
            rows.append(("checkpoint", "size \(checkpoint["size"]?.cell ?? "?"), root \(checkpoint["root"]?.cell ?? "?")"))
        }
        rows += [
            ("started", record["startedAt"]?.cell ?? "?"), ("finished", record["finishedAt"]?.cell ?? "?"),
            ("rate", "\(record["entriesPerSecond"]?.cell ?? "?") entries/s"),
        ]
        return rows
    }
}
