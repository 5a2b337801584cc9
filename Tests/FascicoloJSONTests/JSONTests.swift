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
        for text in [#"{"a":1,"a":2}"#, #"{"a":01}"#, "[1,]", #"{"a":"\#u{01}"}"#, "{} x", #""unterminated"#, "[" + String(repeating: "[", count: 70)] {
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
            let before = String(repeating: "a", count: length), after = String(repeating: "è", count: length % 5)
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
        let text = #"{"schema":1,"sealed":"AAAA\"\\==","purpose":{"x":[1, {"y" : null}], "z":[]},"data":{"code":"A1"},"last":"\u0041","\u0062":2}"#
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
        for text in [#"{"sealed":"no end}"#, #"{"sealed":"a"#, "[1]", #"{"a":1}{"#, #"{"skipped":tru}"#, #"{"s":"a\#u{01}"}"#,
                     #"{"o":{"a" 1}}"#, #"{"o":{"a":1,}}"#, #"{"o":[1 2]}"#, #"{"o":{a:1}}"#, #"{"o":[1,{"b":[}]}"#,
                     #"{"o":"# + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "}"] {
            #expect(throws: JSON.Malformed.self, "\(text)") { try members(Array(text.utf8), building: ["data"]) }
        }
    }
}
