import FascicoloJSON
import FascicoloLedger
import Testing

@testable import FascicoloServer

/// The generic append body, read by the JSON reader (`AppendBody`): its grammar is the contract.
@Suite struct AppendBodyTests {
    func parse(_ text: String) throws -> AppendBody {
        try AppendBody.parse(Array(text.utf8))
    }

    @Test func dataIsKeptExactlyAsSent() throws {
        let body = try parse(
            #" { "events" : [ {"type":"A","data": {"z":1, "a":[1.5e3,-0,"\u00e8\n",true,null,{}]} }, {"data":"x","type":"B"} ], "expectedVersion": 7, "idempotencyKey":"k-1" } "#
        )
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
        #expect(throws: AppendBody.Failure.self) { try AppendBody.parse(Array(text.utf8)) }
    }

    /// A member name is the client's text (a codice fiscale, say): refusals name the allowed members instead.
    @Test func refusalsDoNotRepeatTheClientsMemberNames() {
        for text in [
            #"{"events":[],"RSSMRA80A01H501U":1}"#, #"{"events":[],"events":[],"RSSMRA80A01H501U":1}"#,
            #"{"events":[{"type":"T","data":1,"RSSMRA80A01H501U":2}]}"#,
        ] {
            #expect { try AppendBody.parse(Array(text.utf8)) } throws: { error in
                let reason = (error as? AppendBody.Failure)?.reason ?? ""
                return !reason.isEmpty && !reason.contains("RSSMRA")
            }
        }
    }

    @Test func invalidUTF8AndDeepNestingAreRefused() {
        var bytes = Array(#"{"events":[{"type":"T","data":""#.utf8)
        bytes += [0xC3, 0x28] + Array(#""}]}"#.utf8)
        #expect(throws: AppendBody.Failure.self) { try AppendBody.parse(bytes) }
        let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        #expect(throws: AppendBody.Failure.self) { try AppendBody.parse(Array(#"{"events":[{"type":"T","data":\#(deep)}]}"#.utf8)) }
        let fine = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        #expect((try? AppendBody.parse(Array(#"{"events":[{"type":"T","data":\#(fine)}]}"#.utf8))) != nil)
    }

    /// `data` is nested as deep as the reader reads a payload stored alone (JSON.depthMax, 64):
    /// the old tokenizer refused one level less, counting from the body's top.
    @Test func dataNestsAsDeepAsAStoredPayload() {
        func body(_ depth: Int) -> [UInt8] {
            Array(#"{"events":[{"type":"T","data":\#(String(repeating: "[", count: depth) + String(repeating: "]", count: depth))}]}"#.utf8)
        }
        #expect((try? AppendBody.parse(body(64))) != nil)
        #expect(throws: AppendBody.Failure.self) { try AppendBody.parse(body(65)) }
    }

    /// `data` is read once: the value checked is the bytes kept, and a name twice inside it is
    /// refused however it is spelled.
    @Test func dataIsReadOnceAndStrictly() throws {
        let body = try parse(#"{"events":[{"type":"T","data":{"a":"x","b":[true,{"c":null}]}}]}"#)
        #expect(body.events[0].value == (try JSON.parse(body.events[0].data)))
        #expect(throws: AppendBody.Failure.self) { try parse(#"{"events":[{"type":"T","data":{"a":1,"\u0061":2}}]}"#) }
        #expect(throws: AppendBody.Failure.self) { try parse(#"{"events":[],"\u0065vents":[]}"#) }
    }
}
