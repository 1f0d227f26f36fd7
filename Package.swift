// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Praxis",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "praxis", targets: ["praxis"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // Pure domain: rooms, rules, roles. No I/O, no NIO.
        .target(
            name: "PraxisDomain",
            swiftSettings: swiftSettings
        ),
        // The room engine: commands decoded once, the rules, typed events and actions. Pure.
        .target(
            name: "PraxisRooms",
            dependencies: ["PraxisDomain"],
            swiftSettings: swiftSettings
        ),
        // Pure protocol codecs: PostgREST query strings <-> query values.
        .target(
            name: "PraxisProtocol",
            dependencies: ["PraxisDomain"],
            swiftSettings: swiftSettings
        ),
        // The store: SQLite through GRDB (schema, migrations, records, demo data) and
        // PostgreSQL through postgres-nio (Postgres/: location, migrations, row-level security).
        .target(
            name: "PraxisStore",
            dependencies: [
                "PraxisDomain",
                "PraxisProtocol",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // The TLS settings of ?sslmode=prefer|require.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                // Only for the debug-build check that no store call runs on an event loop.
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            resources: [.copy("Resources/demo-cases.json")],
            swiftSettings: swiftSettings
        ),
        // What the connections of one event loop share: its timers (one scheduled task per interval).
        .target(
            name: "PraxisLoops",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // RFC 6455 on NIO: upgrade, frame rules, close handshake, deflate, backpressure, fan-out.
        .target(
            name: "PraxisWebSocket",
            dependencies: [
                "PraxisLoops",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // A small WebSocket client on NIO, the load benchmarks built on it (praxis bench) and the script runner (praxis client run).
        .target(
            name: "PraxisClient",
            dependencies: [
                "PraxisDomain",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // Phoenix Channels / Supabase Realtime: board feed, presence, broadcast, resume.
        .target(
            name: "PraxisRealtime",
            dependencies: [
                "PraxisDomain",
                "PraxisProtocol",
                "PraxisRooms",
                "PraxisStore",
                "PraxisAuth",
                "PraxisWebSocket",
                "PraxisLoops",
                "PraxisAssessment",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Tokens (JWT HS256) and password hashing (scrypt). No NIO.
        .target(
            name: "PraxisAuth",
            dependencies: [
                "PraxisDomain",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        // HTTP/1.1 on NIO: health, auth and data API.
        .target(
            name: "PraxisHTTP",
            dependencies: [
                "PraxisLoops",
                "PraxisDomain",
                "PraxisProtocol",
                "PraxisStore",
                "PraxisAuth",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Round assessment: the heuristic, and an OpenAI-compatible chat model asked first.
        .target(
            name: "PraxisAssessment",
            dependencies: [
                "PraxisDomain",
                "PraxisProtocol",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The browser client (HTML, CSS, JavaScript modules) embedded as resources, and its routes.
        .target(
            name: "PraxisWeb",
            dependencies: [
                "PraxisHTTP",
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources/web")],
            swiftSettings: swiftSettings
        ),
        // Configuration, wiring, lifecycle, metrics.
        .target(
            name: "PraxisServer",
            dependencies: [
                "PraxisDomain",
                "PraxisStore",
                "PraxisAuth",
                "PraxisHTTP",
                "PraxisWebSocket",
                "PraxisRealtime",
                "PraxisAssessment",
                "PraxisWeb",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "praxis",
            dependencies: [
                "PraxisServer",
                "PraxisHTTP",
                "PraxisStore",
                "PraxisAuth",
                "PraxisWebSocket",
                "PraxisClient",
                "PraxisAssessment",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PraxisDomainTests",
            dependencies: ["PraxisDomain"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PraxisClientTests",
            dependencies: [
                "PraxisClient",
                "PraxisDomain",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PraxisRoomsTests",
            dependencies: ["PraxisRooms", "PraxisDomain"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PraxisProtocolTests",
            dependencies: ["PraxisProtocol"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PraxisWebSocketTests",
            dependencies: [
                "PraxisWebSocket",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PraxisRealtimeTests",
            dependencies: [
                "PraxisRealtime", "PraxisProtocol", "PraxisDomain", "PraxisStore", "PraxisRooms", "PraxisWebSocket", "PraxisAssessment", "PraxisAuth",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PraxisAssessmentTests",
            dependencies: [
                "PraxisAssessment",
                "PraxisDomain",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PraxisAuthTests",
            dependencies: ["PraxisAuth", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PraxisStoreTests",
            dependencies: [
                "PraxisStore",
                "PraxisDomain",
                // Only for the engine's saved state in the journal tests (the store itself does not know it).
                "PraxisRooms",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PraxisLoopsTests",
            dependencies: [
                "PraxisLoops",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PraxisHTTPTests",
            dependencies: [
                "PraxisHTTP",
                "PraxisLoops",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PraxisServerTests",
            dependencies: [
                "PraxisServer",
                "PraxisHTTP",
                "PraxisRealtime",
                "PraxisStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
