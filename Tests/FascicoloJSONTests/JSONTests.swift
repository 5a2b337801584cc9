import FascicoloJSON
import Testing

@Suite struct JSONTests {
    @Test func parsesWhatItIsGiven() throws {
        let json = try JSON.parse(#"{"a":[1,-2.5e3,true,false,null],"b":"x\"\u00e8y","c":{}}"#)
        #expect(json["a"]?.array?.count == 5)
        #expect(json["b"]?.string == "x\"èy")
        #expect(json["c"]?.members?.isEmpty == true)
    }

    @Test func refusesWhatIsNotJSON() {
        for text in [
            #"{"a":1,"a":2}"#, #"{"a":01}"#, "[1,]", #"{"a":"\#u{01}"}"#, "{} x", #""unterminated"#,
            "[" + String(repeating: "[", count: 70),
        ] {
            #expect(throws: JSON.Malformed.self, "\(text)") { try JSON.parse(text) }
        }
    }

    /// Objects of every size refuse a repeated name, wherever the two are: small ones are
    /// searched in place, large ones (a hostile body of many members) through a set.
    @Test func aRepeatedMemberNameIsRefusedInObjectsOfEverySize() throws {
        for count in [1, 2, 15, 16, 17, 40, 100_000] {
            let names = (0..<count).map { "\"k\($0)\":\($0)" }
            let object = try JSON.parse("{" + names.joined(separator: ",") + "}")
            #expect(object.members?.count == count)
            #expect(object["k\(count - 1)"]?.int == count - 1)
            for (first, second) in [(0, count), (count - 1, count), (count / 2, count)] {
                let repeated = "{" + (names + ["\"k\(first)\":\(second)"]).joined(separator: ",") + "}"
                #expect(throws: JSON.Malformed.self, "k\(first) again after \(count) members") { try JSON.parse(repeated) }
            }
        }
    }

    /// Strings are scanned sixteen, then eight bytes at a time: escapes, quotes, control characters and
    /// non-ASCII text at every offset around a word's boundary.
    @Test func longStringsAreReadAndSteppedOverAtEveryOffset() throws {
        for length in 0..<40 {
            let before = String(repeating: "a", count: length)
            let after = String(repeating: "è", count: length % 5)
            let text = #"{"s":""# + before + #"\"x\\y"# + after + #"","t":1}"#
            #expect(try JSON.parse(text)["s"]?.string == before + "\"x\\y" + after, "length \(length)")
            #expect(try members(Array(text.utf8), building: ["t"]).map(\.key) == ["s", "t"])
            let broken = #"{"s":""# + before + "\u{01}" + after + #""}"#
            #expect(throws: JSON.Malformed.self) { try JSON.parse(broken) }
            #expect(throws: JSON.Malformed.self) { try members(Array(broken.utf8), building: []) }
            let unterminated = #"{"s":""# + before + #"\"#
            #expect(throws: JSON.Malformed.self) { try members(Array(unterminated.utf8), building: []) }
        }
    }

    /// The writer finds what to escape with the reader's scan: every special byte at every
    /// offset of strings around both word sizes comes back unchanged through the parser.
    @Test func writtenStringsReadBackAtEveryOffset() throws {
        for length in 0..<40 {
            for special in ["\"", "\\", "\n", "\u{01}", "\u{1F}", "è"] {
                for offset in stride(from: 0, through: length, by: max(1, length / 7)) {
                    var text = String(repeating: "a", count: length)
                    text.insert(contentsOf: special, at: text.index(text.startIndex, offsetBy: offset))
                    var json = JSONBytes()
                    json.string(text)
                    #expect(try JSON.parse(json.bytes).string == text, "length \(length), offset \(offset)")
                    let plain = String(repeating: "b", count: length)
                    var plainJSON = JSONBytes()
                    plainJSON.string(plain)
                    #expect(plainJSON.bytes == Array(("\"" + plain + "\"").utf8))
                }
            }
        }
    }

    @Test func rawMembersKeepTheExactBytes() throws {
        let members = try JSON.rawMembers(Array(#" { "a" : [1, 2] ,"b":"c" } "#.utf8))
        #expect(members.map(\.key) == ["a", "b"])
        #expect(String(decoding: members[0].value, as: UTF8.self) == "[1, 2]")
        #expect(String(decoding: members[1].value, as: UTF8.self) == #""c""#)
    }

    /// The members through `visitMembers`, building the values named in `building` (by their
    /// raw name bytes) and stepping over the others.
    private func members(_ bytes: [UInt8], building keys: [String]) throws -> [(key: String, value: JSON?)] {
        var members: [(key: String, value: JSON?)] = []
        try bytes.withUnsafeBytes { buffer in
            try JSON.visitMembers(buffer) { (name, value) throws(JSON.Malformed) in
                let key = String(decoding: name, as: UTF8.self)
                members.append((key, keys.contains(key) ? try value.build() : nil))
                if !keys.contains(key) { try value.skip() }
            }
        }
        return members
    }

    @Test func membersBuildOnlyTheValuesAsked() throws {
        let text =
            #"{"schema":1,"sealed":"AAAA\"\\==","purpose":{"x":[1, {"y" : null}], "z":[]},"data":{"code":"A1"},"last":"\u0041","\u0062":2}"#
        let members = try members(Array(text.utf8), building: ["schema", "data"])
        // Names are their raw bytes: the escaped one comes as written.
        #expect(members.map(\.key) == ["schema", "sealed", "purpose", "data", "last", #"\u0062"#])
        #expect(members[0].value == .number("1"))
        #expect(members[1].value == nil && members[2].value == nil && members[4].value == nil)
        #expect(members[3].value?["code"]?.string == "A1")
        // Parsed in full, names are decoded.
        #expect(try JSON.parse(text)["b"]?.int == 2 && JSON.parse(text)["last"]?.string == "A")
    }

    @Test func membersStillRefuseABrokenDocument() {
        for text in [
            #"{"sealed":"no end}"#, #"{"sealed":"a"#, "[1]", #"{"a":1}{"#, #"{"skipped":tru}"#, #"{"s":"a\#u{01}"}"#,
            #"{"o":{"a" 1}}"#, #"{"o":{"a":1,}}"#, #"{"o":[1 2]}"#, #"{"o":{a:1}}"#, #"{"o":[1,{"b":[}]}"#,
            #"{"o":"# + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "}",
        ] {
            #expect(throws: JSON.Malformed.self, "\(text)") { try members(Array(text.utf8), building: ["data"]) }
        }
    }

    /// `read` walks a document with the shape the caller expects, in one pass, and refuses what
    /// `parse` refuses (a name twice, however spelled; nesting; text after the value; bad UTF-8).
    @Test func readerTakesADocumentApartInOnePass() throws {
        let text = #" {"n": -1.5e3, "s":"caf\u00e9", "a":[true, {"k":null}], "raw" : {"z":1,  "y":[]} } "#
        let bytes = Array(text.utf8)
        var number = ""
        var string = ""
        var elements = 0
        var source = 0..<0
        try JSON.read(bytes) { (reader) throws(JSON.Malformed) in
            try reader.members { (name, value) throws(JSON.Malformed) in
                switch name {
                case "n": number = try value.number()
                case "s": string = try value.string()
                case "a":
                    try value.elements { (element) throws(JSON.Malformed) in
                        elements += 1
                        try element.skip()
                    }
                default: source = try value.buildKeepingSource().source
                }
            }
        }
        #expect(number == "-1.5e3" && string == "café" && elements == 2)
        #expect(String(decoding: bytes[source], as: UTF8.self) == #"{"z":1,  "y":[]}"#)
        func refuses(_ text: String) -> Bool {
            (try? JSON.read(Array(text.utf8)) { (reader) throws(JSON.Malformed) in
                try reader.members { (_, value) throws(JSON.Malformed) in _ = try value.build() }
            }) == nil
        }
        #expect(refuses(#"{"a":1,"\u0061":2}"#) && refuses(#"{"a":1} x"#) && refuses(#"[1]"#) && refuses(#"{"a":tru}"#))
        #expect(refuses(#"{"a":"# + String(repeating: "[", count: 64) + String(repeating: "]", count: 64) + "}"))
        #expect(!refuses(#"{"a":"# + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "}"))
        #expect(
            (try? JSON.read([0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D]) { (reader) throws(JSON.Malformed) in try reader.skip() })
                == nil)
        // A large object still refuses a name twice (past the in-place search).
        let many = "{" + (0..<40).map { #""k\#($0)":\#($0)"# }.joined(separator: ",") + #","k7":0}"#
        #expect(refuses(many))
    }

    /// The writer puts the commas in: objects, arrays, members and values in any mix, nested.
    @Test func writerPutsTheCommasIn() {
        var json = JSONBytes()
        json.object { json in
            json.member("a", 1)
            json.member("b", "x\"y")
            json.key("c")
            json.array { json in
                json.number(1)
                json.null()
                json.object { $0.member("d", true) }
                json.array { _ in }
                json.value(.object([("e", .string("f"))]))
            }
            json.key("name from data")
            json.payload(Array(#"{"p":[1,\#n2]}"#.utf8))
        }
        #expect(
            String(decoding: json.bytes, as: UTF8.self)
                == #"{"a":1,"b":"x\"y","c":[1,null,{"d":true},[],{"e":"f"}],"name from data":{"p":[1, 2]}}"#)
        // Lines of NDJSON: no comma after a line break.
        var lines = JSONBytes()
        lines.object { $0.member("a", 1) }
        lines.raw("\n")
        lines.object { $0.member("b", 2) }
        #expect(String(decoding: lines.bytes, as: UTF8.self) == "{\"a\":1}\n{\"b\":2}")
    }
}
