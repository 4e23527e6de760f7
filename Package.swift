// swift-tools-version: 6.1
import PackageDescription

/// One settings list, applied to every target (as swift-log and hummingbird do).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Bifocal",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bifocal", targets: ["bifocal"]),
        .library(name: "BifocalCore", targets: ["BifocalCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.24.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.4.0"),
    ],
    targets: [
        .target(
            name: "BifocalCore",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BifocalStore",
            dependencies: [
                "BifocalCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BifocalIngest",
            dependencies: [
                "BifocalCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BifocalGateway",
            dependencies: [
                "BifocalCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BifocalSimulator",
            dependencies: [
                "BifocalCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            resources: [.copy("Scenarios")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BifocalServer",
            dependencies: [
                "BifocalCore",
                "BifocalStore",
                "BifocalIngest",
                "BifocalGateway",
                "BifocalSimulator",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bifocal",
            dependencies: [
                "BifocalServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BifocalTesting",
            dependencies: ["BifocalCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BifocalCoreTests",
            dependencies: ["BifocalCore", "BifocalTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BifocalStoreTests",
            dependencies: ["BifocalStore", "BifocalCore", "BifocalTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BifocalIngestTests",
            dependencies: [
                "BifocalIngest", "BifocalCore", "BifocalTesting",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Captures", "OTLPCaptures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BifocalGatewayTests",
            dependencies: [
                "BifocalGateway", "BifocalCore", "BifocalTesting",
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Captures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BifocalSimulatorTests",
            dependencies: ["BifocalSimulator", "BifocalCore", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BifocalServerTests",
            dependencies: [
                "BifocalServer", "BifocalStore", "BifocalCore", "BifocalTesting", "BifocalGateway", "BifocalIngest", "BifocalSimulator",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
