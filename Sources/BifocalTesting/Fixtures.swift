public import Foundation

/// Finds the shared captures of third-party software (`../shared/fixtures` beside the clone, or
/// `$BIFOCAL_FIXTURES`). They are never copied into the project.
public enum Fixtures {
    /// A fixture that should be there is not.
    public struct MissingFixture: Error, CustomStringConvertible {
        /// The path looked for.
        public var path: String
        /// Explains where the fixture was expected and how to point at it.
        public var description: String {
            "fixture missing: \(path) (set BIFOCAL_FIXTURES to the shared fixtures folder; CI=true makes this a failure)"
        }
    }

    /// The fixtures folder: `$BIFOCAL_FIXTURES`, else `../shared/fixtures` next to the package root.
    public static var directory: URL {
        if let fromEnvironment = ProcessInfo.processInfo.environment["BIFOCAL_FIXTURES"], !fromEnvironment.isEmpty {
            return URL(fileURLWithPath: fromEnvironment)
        }
        // Sources/BifocalTesting/Fixtures.swift -> package root -> ../shared/fixtures
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
    }

    /// Whether tests run in CI, where a missing fixture is a failure rather than a loud skip.
    public static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// The bytes of a fixture, by path relative to the fixtures folder (`vllm/vllm-v1-generated.prom`).
    ///
    /// When the file is missing this prints a loud warning and returns nil, so the test can skip;
    /// with `CI=true` it throws instead, so the test fails.
    public static func load(_ relativePath: String) throws -> Data? {
        let url = directory.appendingPathComponent(relativePath)
        if let data = FileManager.default.contents(atPath: url.path) { return data }
        let missing = MissingFixture(path: url.path)
        if isCI { throw missing }
        FileHandle.standardError.write(Data("\n*** WARNING: \(missing) — test skipped ***\n\n".utf8))
        return nil
    }

    /// A fixture as UTF-8 text; see `load(_:)`.
    public static func text(_ relativePath: String) throws -> String? {
        try load(relativePath).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// A temporary folder that is removed when the test is done with it.
public final class TemporaryDirectory: Sendable {
    /// The folder's path.
    public let path: String

    /// Creates a fresh empty folder under the system's temporary folder.
    public init(prefix: String = "bifocal-test") throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
