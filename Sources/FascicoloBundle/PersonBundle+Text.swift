import FascicoloJSON

extension PersonBundle {
    /// The bundle as plain text lines (`fascicolo bundle show`): what the HTML page shows, for a
    /// terminal. Control characters from the bundle are replaced, so that a hostile bundle
    /// cannot drive the terminal. Like the page, it proves nothing by itself.
    public var textLines: [String] {
        let view = BundleView(self)
        var lines = [
            "person      \(person)",
            "exported    \(exportedAt)",
            "purpose     \(purpose)",
            "checkpoint  \(view.checkpointSummary)",
            "log key     \(verifierKey)",
            "personal    "
                + (dataKey == nil ? "erased: the person's data key was destroyed" : "included (the bundle carries the person's data key)"),
            "",
            "(this shows what the bundle says; check it with tools/verify-bundle.py --key KEY FILE or fascicolo bundle verify)",
            "",
            "CASE FILE (\(view.caseFile.count) entries)",
        ]
        for row in view.caseFile {
            lines.append("v\(row.version)  \(row.occurredAt)  \(row.type)  by \(row.actor)  recorded \(row.recordedAt)")
            if !row.data.isEmpty { lines.append("    data: " + Self.inline(row.data)) }
            switch row.personal {
            case .fields(let fields): lines.append("    personal: " + Self.inline(fields))
            case .destroyed: lines.append("    personal: destroyed (erased)")
            case .notOpened: lines.append("    personal: not opened")
            case .none: break
            }
            for note in row.correctionNotes { lines.append("    " + note) }
        }
        lines.append("")
        lines.append("READS OF THE FILE (\(view.reads.count))")
        for read in view.reads {
            let operatorID = read.operatorID.isEmpty ? "" : " for \(read.operatorID)"
            lines.append(
                "v\(read.version)  \(read.recordedAt)  \(read.author) (\(read.role))\(operatorID)  \(read.what), "
                    + "\(read.entries.isEmpty ? "?" : read.entries) entries  purpose: \(read.purpose)")
        }
        return lines.map(Self.printable)
    }

    static func inline(_ members: [(key: String, value: JSON)]) -> String {
        members.map { "\($0.key)=\(display($0.value))" }.joined(separator: "; ")
    }

    /// Control characters (C0, DEL, C1) as U+FFFD.
    static func printable(_ line: String) -> String {
        String(
            String.UnicodeScalarView(
                line.unicodeScalars.map { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) ? "\u{FFFD}" : $0 }))
    }
}
