import Foundation
import Synchronization

/// A progress bar on standard error, drawn only when standard error is a terminal.
final class ProgressBar: Sendable {
    private let enabled: Bool
    private let lastDrawn = Mutex<Int>(-1)

    init(enabled: Bool) { self.enabled = enabled && isatty(STDERR_FILENO) == 1 }

    /// Draws `done` of `total` bytes.
    func update(done: Int, total: Int) {
        guard total > 0 else { return }
        update(fraction: Double(done) / Double(total), note: "\(done / 1_048_576)/\(total / 1_048_576) MiB")
    }

    /// Draws `fraction` (0-1) done, with a short note after the bar; only when the percentage moved.
    func update(fraction: Double, note: @autoclosure () -> String) {
        guard enabled else { return }
        let percent = max(0, min(100, Int(fraction * 100)))
        let changed = lastDrawn.withLock { last -> Bool in
            guard last != percent else { return false }
            last = percent
            return true
        }
        guard changed else { return }
        let width = 40
        let filled = width * percent / 100
        let line = "\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(percent)%  \(note())"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled, lastDrawn.withLock({ $0 }) >= 0 else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
