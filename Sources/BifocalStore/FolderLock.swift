#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive `flock` on `bifocal.lock` in a data folder, holding the owner's pid in the file.
///
/// `flock` locks belong to an open file description, so a second open in the same process
/// conflicts too (which is what the tests rely on). The kernel drops the lock when the process
/// dies, so a crash never leaves a stale lock behind.
final class FolderLock: @unchecked Sendable {
    /// The lock file's name inside the data folder.
    static let fileName = "bifocal.lock"

    private let descriptor: Int32
    private var released = false
    private let mutex = PthreadMutex()

    /// Takes the lock or throws `StoreError.locked` naming the pid that holds it.
    init(directory: String) throws {
        let path = directory.hasSuffix("/") ? directory + Self.fileName : directory + "/" + Self.fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StoreError(code: .io, message: "cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            let holder = Self.readPid(fd)
            close(fd)
            if code == EWOULDBLOCK || code == EAGAIN {
                let who = holder.map { "pid \($0)" } ?? "pid unknown"
                throw StoreError(
                    code: .locked,
                    message: "data folder \(directory) is in use by another Bifocal process (\(who)); stop it or choose another data folder")
            }
            throw StoreError(code: .io, message: "cannot lock \(path): \(String(cString: strerror(code)))")
        }
        // Write our pid so that a second opener can name us.
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        descriptor = fd
    }

    private static func readPid(_ fd: Int32) -> Int? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 31, 0) }
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self)
        return Int(text.trimmingWhitespace())
    }

    /// Releases the lock (idempotent). The file stays, so that no opener races on its creation.
    func release() {
        mutex.locked {
            guard !released else { return }
            released = true
            _ = flock(descriptor, LOCK_UN)
            close(descriptor)
        }
    }

    deinit { release() }
}

/// A tiny pthread mutex (Foundation-free, available on every platform the package targets).
final class PthreadMutex: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
