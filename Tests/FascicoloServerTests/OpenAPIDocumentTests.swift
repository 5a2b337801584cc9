import FascicoloServer
import FascicoloTesting
import Hummingbird
import Testing
import Yams

/// The served OpenAPI document is YAML a client's tooling can load: it parses, every `$ref`
/// points somewhere, and its operations are exactly the routes the server registers.
struct OpenAPIDocumentTests {
    @Test func itIsTheYAMLFileInTheRepositoryAndItIsServed() async throws {
        let file = readFile(packageDirectory() + "/Sources/FascicoloServer/openapi.yaml")
        #expect(!file.isEmpty && OpenAPIDocument.yaml == file, "the embedded document is the file, byte for byte")
        try await TestServer.run { server in
            let served = try await server.call(.get, "/v1/openapi.yaml")
            #expect(served.status == 200 && served.headers[.contentType] == "application/yaml")
            #expect(served.body == OpenAPIDocument.yaml)
        }
    }

    @Test func itsOperationsAreTheRegisteredRoutes() async throws {
        let document = try #require(try Yams.compose(yaml: OpenAPIDocument.yaml))
        var documented = Set<String>()
        for (path, item) in document["paths"]?.mapping ?? [:] {
            for (method, _) in item.mapping ?? [:] {
                guard let method = method.string, ["get", "post", "put", "patch", "delete"].contains(method) else { continue }
                documented.insert("\(method.uppercased()) \(path.string ?? "")")
            }
        }
        #expect(documented.count >= 14)
        let registered = try await TestServer.run { server in Set(server.routes) }
        #expect(registered.subtracting(documented).isEmpty, "served but not documented")
        #expect(documented.subtracting(registered).isEmpty, "documented but not served")
    }

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
