import Foundation

/// Writes a line to standard output at once (unbuffered), so a supervisor reading a pipe sees it.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
