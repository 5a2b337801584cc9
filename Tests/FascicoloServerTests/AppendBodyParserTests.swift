@testable import FascicoloServer
import FascicoloLedger
import Testing

@Suite struct AppendBodyParserTests {
    func parse(_ text: String) throws -> AppendBodyParser.Body {
        try AppendBodyParser.parse(Array(text.utf8))
    }

    @Test func dataIsKeptExactlyAsSent() throws {
        let body = try parse(#" { "events" : [ {"type":"A","data": {"z":1, "a":[1.5e3,-0,"\u00e8\n",true,null,{}]} }, {"data":"x","type":"B"} ], "expectedVersion": 7, "idempotencyKey":"k-1" } "#)
        #expect(body.events.map(\.type) == ["A", "B"])
        #expect(String(decoding: body.events[0].data, as: UTF8.self) == #"{"z":1, "a":[1.5e3,-0,"\u00e8\n",true,null,{}]}"#)
        #expect(String(decoding: body.events[1].data, as: UTF8.self) == #""x""#)
        #expect(body.expectedVersion == .exactly(7) && body.idempotencyKey == "k-1")
        #expect(try parse(#"{"events":[],"expectedVersion":"no_stream"}"#).expectedVersion == .noStream)
        #expect(try parse(#"{"events":[{"type":"T","data":0}]}"#).expectedVersion == .any)
        #expect(try parse(#"{"events":[{"type":"caf\u00e9 \ud83d\ude00","data":0}]}"#).events[0].type == "café 😀")
    }

    @Test(arguments: [
        "", "[]", "{}", #"{"events":{}}"#, #"{"events":[],}"#, #"{"events":[{"type":"T","data":1},]}"#,
        #"{"events":[{"type":"T"}]}"#, #"{"events":[{"data":1}]}"#, #"{"events":[{"type":"T","data":1,"extra":2}]}"#,
        #"{"events":[],"events":[]}"#, #"{"events":[],"other":1}"#, #"{"events":[{"type":"T","data":01}]}"#,
        #"{"events":[{"type":"T","data":1.}]}"#, #"{"events":[{"type":"T","data":-}]}"#, #"{"events":[{"type":"T","data":tru}]}"#,
        #"{"events":[{"type":"T","data":"\x"}]}"#, #"{"events":[{"type":"T","data":"\ud800"}]}"#,
        "{\"events\":[{\"type\":\"T\",\"data\":\"tab\tinside\"}]}", #"{"events":[{"type":"T","data":1}]} x"#,
        #"{"events":[{"type":"T","data":1}],"expectedVersion":-1}"#, #"{"events":[{"type":"T","data":1}],"expectedVersion":"later"}"#,
        #"{"events":[{"type":"T","data":1}],"expectedVersion":1.5}"#, #"{"events":[{"type":1,"data":1}]}"#,
        #"{"events":[{"type":"T","data":'x'}]}"#, #"{"events":[{"type":"T","data":"unterminated}]}"#,
    ])
    func malformedBodiesAreRefused(text: String) {
        #expect(throws: AppendBodyParser.Failure.self) { try AppendBodyParser.parse(Array(text.utf8)) }
    }

    /// A member name is the client's text (a codice fiscale, say): refusals name the allowed members instead.
    @Test func refusalsDoNotRepeatTheClientsMemberNames() {
        for text in [#"{"events":[],"RSSMRA80A01H501U":1}"#, #"{"events":[],"events":[],"RSSMRA80A01H501U":1}"#,
                     #"{"events":[{"type":"T","data":1,"RSSMRA80A01H501U":2}]}"#] {
            #expect { try AppendBodyParser.parse(Array(text.utf8)) } throws: { error in
                let reason = (error as? AppendBodyParser.Failure)?.reason ?? ""
                return !reason.isEmpty && !reason.contains("RSSMRA")
            }
        }
    }

    @Test func invalidUTF8AndDeepNestingAreRefused() {
        var bytes = Array(#"{"events":[{"type":"T","data":""#.utf8)
        bytes += [0xC3, 0x28] + Array(#""}]}"#.utf8)
        #expect(throws: AppendBodyParser.Failure.self) { try AppendBodyParser.parse(bytes) }
        let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        #expect(throws: AppendBodyParser.Failure.self) { try AppendBodyParser.parse(Array(#"{"events":[{"type":"T","data":\#(deep)}]}"#.utf8)) }
        let fine = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        #expect((try? AppendBodyParser.parse(Array(#"{"events":[{"type":"T","data":\#(fine)}]}"#.utf8))) != nil)
    }
}
