/// The API's OpenAPI 3.1 description, served at `GET /v1/openapi.yaml`. It is edited as
/// `openapi.yaml` beside the routes it describes and compiled into the binary by the
/// EmbedOpenAPIDocument plugin. Tests check that it parses, that every `$ref` resolves, and
/// that its operations and the registered routes are the same set.
public enum OpenAPIDocument {
    public static let yaml: String = openAPIDocumentYAML
}
