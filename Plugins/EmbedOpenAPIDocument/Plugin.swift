import PackagePlugin

/// Compiles `openapi.yaml` (beside the routes in the target) into the target as a string
/// constant, `openAPIDocumentYAML`: the document is edited as YAML and served from the binary.
@main
struct EmbedOpenAPIDocument: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let input = target.directoryURL.appending(path: "openapi.yaml")
        let output = context.pluginWorkDirectoryURL.appending(path: "OpenAPIDocument+YAML.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(target.name)/openapi.yaml",
                executable: try context.tool(named: "embed-text").url,
                arguments: [input.path(), output.path(), "openAPIDocumentYAML"],
                inputFiles: [input],
                outputFiles: [output]),
        ]
    }
}
