// swift-tools-version: 6.2
import PackageDescription

// Dependencies point one way: storage, crypto, json, concurrency ← ledger ← domain ← projections ← server ← daemon ← executables.
let package = Package(
    name: "Fascicolo",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fascicolod", targets: ["fascicolod"]),
        .executable(name: "fascicolo", targets: ["fascicolo"]),
        .executable(name: "fascicolo-bench", targets: ["fascicolo-bench"]),
        .executable(name: "fascicolo-witness", targets: ["fascicolo-witness"]),
        .library(name: "FascicoloLedger", targets: ["FascicoloLedger"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        // HTTP request and response parts on the channel (the request read deadline's handler).
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.34.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // The daemon's configuration file (TOML 1.0, through toml++).
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // Counters, gauges and histograms (Hummingbird's per-route request metrics use it too),
        // exported in the Prometheus text format at GET /metrics.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Tests only: parses the OpenAPI document as YAML (duplicate keys, dangling $refs).
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // The CLI's HTTP client over the daemon's Unix socket (http+unix://).
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // C libraries, found through pkg-config (Debian: liblmdb-dev, libsodium-dev, libssl-dev).
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "COpenSSLHash", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // Safe LMDB: environment, scoped transactions, tables, cursors, typed errors, map growth.
        .target(name: "FascicoloStorage", dependencies: ["CLMDB", "COpenSSLHash"]),
        // Ed25519 keys and key files (libsodium), SHA-256 (libcrypto), signed notes (C2SP), base64.
        .target(name: "FascicoloCrypto", dependencies: ["CSodium", "COpenSSLHash"]),
        // A strict, Foundation-free JSON reader and byte writer.
        .target(name: "FascicoloJSON"),
        // Threads, locks, one-shot results, change signals, and the injectable wall and monotonic clocks.
        .target(name: "FascicoloConcurrency"),
        // The signed log: entries, streams, group commit, Merkle tree, checkpoints, proofs, verify.
        .target(
            name: "FascicoloLedger",
            dependencies: [
                "FascicoloStorage", "FascicoloCrypto", "FascicoloConcurrency",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The fascicolo sociale on top of the log: event catalogue and schemas, reference data,
        // codice fiscale pseudonyms, per-person encryption and erasure, path rules, recorded reads.
        .target(
            name: "FascicoloDomain",
            dependencies: [
                "FascicoloLedger", "FascicoloCrypto", "FascicoloStorage", "FascicoloJSON", "FascicoloConcurrency",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Read models built from the log: the engine (generations, checkpoints, rebuilds, digests)
        // and the timeline, cases, interventions and compliance projections.
        .target(
            name: "FascicoloProjections",
            dependencies: [
                "FascicoloDomain", "FascicoloLedger", "FascicoloStorage", "FascicoloCrypto", "FascicoloJSON",
                "FascicoloConcurrency", .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The person bundle (Formats.md "Person bundles"): one person's file at one checkpoint, as a
        // value written and read with FascicoloJSON — built by the server, read by the CLI.
        .target(name: "FascicoloBundle", dependencies: ["FascicoloLedger", "FascicoloCrypto", "FascicoloJSON", "FascicoloConcurrency"]),

        // Seeded generator of realistic paths, shared by tests and benchmarks.
        .target(name: "FascicoloWorkload", dependencies: ["FascicoloDomain", "FascicoloJSON", "FascicoloLedger", "FascicoloCrypto"]),

        // HTTP/1.1 + JSON on the Unix socket: routes, roles from peer credentials, problem details.
        .target(
            name: "FascicoloServer",
            dependencies: [
                "FascicoloLedger", "FascicoloCrypto", "FascicoloDomain", "FascicoloProjections", "FascicoloJSON",
                "FascicoloConcurrency", "FascicoloBundle", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            exclude: ["openapi.yaml"],
            plugins: ["EmbedOpenAPIDocument"]
        ),
        // Build tool: Sources/FascicoloServer/openapi.yaml becomes a string constant in the binary.
        .executableTarget(name: "embed-text", path: "Tools/EmbedText"),
        .plugin(name: "EmbedOpenAPIDocument", capability: .buildTool(), dependencies: ["embed-text"]),

        // The daemon's parts: configuration (file, environment, flags), data-directory lock, lifecycle.
        .target(
            name: "FascicoloDaemon",
            dependencies: [
                "FascicoloLedger", "FascicoloDomain", "FascicoloProjections", "FascicoloServer", "FascicoloConcurrency",
                "FascicoloWitness",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),

        // The daemon.
        .executableTarget(
            name: "fascicolod",
            dependencies: [
                "FascicoloDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Offline operations on a data directory: verify, backup, restore, stat (the CLI prints them).
        .target(
            name: "FascicoloOperations",
            dependencies: [
                "FascicoloLedger", "FascicoloCrypto", "FascicoloStorage", "FascicoloJSON", "FascicoloConcurrency", "FascicoloDomain",
            ]
        ),

        // The operators' command line.
        .executableTarget(
            name: "fascicolo",
            dependencies: [
                "FascicoloLedger", "FascicoloCrypto", "FascicoloStorage", "FascicoloJSON", "FascicoloDomain", "FascicoloOperations",
                "FascicoloBundle", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // A C2SP tlog-witness: checks a log's checkpoints against the last one it cosigned (its
        // state on LMDB), cosigns them (cosignature/v1), serves POST /add-checkpoint over TCP.
        .target(
            name: "FascicoloWitness",
            dependencies: [
                "FascicoloLedger", "FascicoloCrypto", "FascicoloStorage", "FascicoloConcurrency",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The witness's executable: init (key, state) and serve; its configuration file is read
        // with the daemon's ConfigurationFile.
        .executableTarget(
            name: "fascicolo-witness",
            dependencies: [
                "FascicoloWitness", "FascicoloCrypto", "FascicoloDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Benchmarks and the crash-test appender: prints figures, never asserts on time.
        .executableTarget(
            name: "fascicolo-bench",
            dependencies: [
                "FascicoloLedger", "FascicoloCrypto", "FascicoloStorage", "FascicoloDomain",
                "FascicoloProjections", "FascicoloWorkload", "FascicoloConcurrency", "FascicoloJSON", "FascicoloServer",
                "FascicoloBundle", "FascicoloWitness", "FascicoloTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Test support: temporary directories, child processes, seeded randomness.
        .target(name: "FascicoloTesting"),

        .testTarget(name: "FascicoloJSONTests", dependencies: ["FascicoloJSON"]),
        .testTarget(name: "FascicoloConcurrencyTests", dependencies: ["FascicoloConcurrency"]),
        .testTarget(name: "FascicoloStorageTests", dependencies: ["FascicoloStorage", "FascicoloTesting"]),
        .testTarget(name: "FascicoloCryptoTests", dependencies: ["FascicoloCrypto", "FascicoloTesting"]),
        .testTarget(name: "FascicoloLedgerTests", dependencies: ["FascicoloLedger", "FascicoloConcurrency", "FascicoloTesting"]),
        .testTarget(
            name: "FascicoloDomainTests",
            dependencies: ["FascicoloDomain", "FascicoloConcurrency", "FascicoloTesting", "FascicoloWorkload"]),
        .testTarget(
            name: "FascicoloProjectionsTests",
            dependencies: ["FascicoloProjections", "FascicoloDomain", "FascicoloTesting", "FascicoloWorkload"]),
        // In process: the routes on a real ledger in a temporary directory, peer credentials bound per request.
        .testTarget(
            name: "FascicoloServerTests",
            dependencies: [
                "FascicoloServer", "FascicoloLedger", "FascicoloJSON", "FascicoloDomain", "FascicoloProjections",
                "FascicoloTesting", "FascicoloBundle", "FascicoloCrypto", .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Yams", package: "Yams"),
            ]),
        .testTarget(
            name: "FascicoloOperationsTests",
            dependencies: ["FascicoloOperations", "FascicoloLedger", "FascicoloCrypto", "FascicoloJSON", "FascicoloTesting"]),
        // The witness: its checks on a real LMDB state and real ledgers' checkpoints in process,
        // and the fascicolo-witness binary over HTTP (split views, rollbacks, forks, SIGKILL).
        .testTarget(
            name: "FascicoloWitnessTests",
            dependencies: [
                "FascicoloWitness", "FascicoloLedger", "FascicoloCrypto", "FascicoloConcurrency", "FascicoloTesting",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "FascicoloDaemonTests",
            dependencies: [
                "FascicoloDaemon", "FascicoloConcurrency", "FascicoloCrypto", "FascicoloJSON", "FascicoloTesting", "FascicoloWorkload",
                "FascicoloBundle",
            ]),
    ],
    swiftLanguageModes: [.v6]
)

// The project's own targets build without warnings: a warning is an error (SE-0480), in every
// target this manifest declares and in none of the dependencies'.
for target in package.targets where target.type != .system && target.type != .plugin {
    target.swiftSettings = (target.swiftSettings ?? []) + [.treatAllWarnings(as: .error)]
}
