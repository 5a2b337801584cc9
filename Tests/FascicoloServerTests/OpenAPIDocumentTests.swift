import FascicoloServer
import Testing
import Yams

/// The served OpenAPI document is YAML a client's tooling can load: the daemon tests check its
/// paths against the routes; these check that it parses, with every `$ref` pointing somewhere.
struct OpenAPIDocumentTests {
    @Test func itParsesWithoutDuplicateKeys() throws {
        // Yams refuses a mapping that repeats a key (a second `components:` once hid the first).
        let document = try #require(try Yams.compose(yaml: OpenAPIDocument.yaml))
        #expect(document["openapi"]?.string == "3.1.0")
        #expect(document["paths"]?.mapping?.isEmpty == false)
    }

    @Test func everyReferenceResolves() throws {
        let document = try #require(try Yams.compose(yaml: OpenAPIDocument.yaml))
        var references: [String] = []
        collectReferences(in: document, into: &references)
        #expect(references.count > 50)
        for reference in Set(references) {
            #expect(reference.hasPrefix("#/"), "\(reference) is not local")
            var node: Node? = document
            for name in reference.dropFirst(2).split(separator: "/") { node = node?[String(name)] }
            #expect(node != nil, "\(reference) points nowhere")
        }
    }

    private func collectReferences(in node: Node, into references: inout [String]) {
        switch node {
        case .mapping(let mapping):
            for (key, value) in mapping {
                if key.string == "$ref", let target = value.string { references.append(target) }
                collectReferences(in: value, into: &references)
            }
        case .sequence(let sequence):
            for element in sequence { collectReferences(in: element, into: &references) }
        default:
            break
        }
    }
}
