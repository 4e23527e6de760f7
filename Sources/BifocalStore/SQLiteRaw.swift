import BifocalCore
import GRDB
import GRDBSQLite

/// Thin wrappers over the SQLite C API for the hot paths (batch insert, rollup scans), where
/// building `StatementArguments` and `Row`s per record would dominate the cost.
///
/// Statements come from GRDB's statement cache (`db.cachedStatement`), are used only through
/// these wrappers, and are always reset after use.
struct RawStatement {
    let handle: OpaquePointer
    let connection: OpaquePointer

    init(_ statement: Statement, _ db: Database) {
        handle = statement.sqliteStatement
        connection = db.sqliteConnection!
    }

    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    @inline(__always) func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(handle, index, value)
    }

    @inline(__always) func bind(_ index: Int32, _ value: Int64?) {
        if let value { sqlite3_bind_int64(handle, index, value) } else { sqlite3_bind_null(handle, index) }
    }

    @inline(__always) func bind(_ index: Int32, _ value: Int?) {
        if let value { sqlite3_bind_int64(handle, index, Int64(value)) } else { sqlite3_bind_null(handle, index) }
    }

    @inline(__always) func bind(_ index: Int32, _ value: Double?) {
        if let value, value.isFinite { sqlite3_bind_double(handle, index, value) } else { sqlite3_bind_null(handle, index) }
    }

    @inline(__always) func bind(_ index: Int32, _ value: Double) {
        sqlite3_bind_double(handle, index, value)
    }

    @inline(__always) func bind(_ index: Int32, _ value: Bool?) {
        if let value { sqlite3_bind_int64(handle, index, value ? 1 : 0) } else { sqlite3_bind_null(handle, index) }
    }

    @inline(__always) func bind(_ index: Int32, _ value: String?) {
        guard let value else {
            sqlite3_bind_null(handle, index)
            return
        }
        bind(index, value)
    }

    @inline(__always) func bind(_ index: Int32, _ value: String) {
        var value = value
        value.withUTF8 { buffer in
            // A non-nil pointer even for "" so that SQLite stores an empty text, not NULL.
            let base = buffer.baseAddress.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(bitPattern: 1)!
            _ = sqlite3_bind_text(handle, index, base.assumingMemoryBound(to: CChar.self), Int32(buffer.count), Self.transient)
        }
    }

    @inline(__always) func bindBlob(_ index: Int32, _ bytes: UnsafeRawBufferPointer) {
        let base = bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
        sqlite3_bind_blob(handle, index, base, Int32(bytes.count), Self.transient)
    }

    @inline(__always) func bindNull(_ index: Int32) {
        sqlite3_bind_null(handle, index)
    }

    /// Binds an encoded sketch, or NULL when it is empty (most rows have no queue time, say).
    func bind(_ index: Int32, sketch: QuantileSketch) {
        if sketch.isEmpty {
            sqlite3_bind_null(handle, index)
        } else {
            sketch.encoded().withUnsafeBytes { bindBlob(index, $0) }
        }
    }

    /// Steps a statement that returns no rows, then resets it.
    func run() throws {
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else { throw error(code) }
    }

    /// Steps once: true when a row is available, false when done. Throws on error.
    @inline(__always) func step() throws -> Bool {
        let code = sqlite3_step(handle)
        if code == SQLITE_ROW { return true }
        if code == SQLITE_DONE { return false }
        sqlite3_reset(handle)
        throw error(code)
    }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func error(_ code: Int32) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)))
    }

    /// Rows changed by the last statement on this connection.
    var changes: Int { Int(sqlite3_changes(connection)) }

    var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(connection) }

    // MARK: Columns

    @inline(__always) func isNull(_ column: Int32) -> Bool {
        sqlite3_column_type(handle, column) == SQLITE_NULL
    }

    @inline(__always) func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    @inline(__always) func optionalInt64(_ column: Int32) -> Int64? {
        isNull(column) ? nil : sqlite3_column_int64(handle, column)
    }

    @inline(__always) func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    @inline(__always) func optionalDouble(_ column: Int32) -> Double? {
        isNull(column) ? nil : sqlite3_column_double(handle, column)
    }

    /// The column as text; "" for NULL.
    @inline(__always) func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    /// The column as text; nil for NULL.
    @inline(__always) func optionalText(_ column: Int32) -> String? {
        isNull(column) ? nil : text(column)
    }

    /// The column's bytes without copying (valid until the next step); nil for NULL.
    @inline(__always) func blob(_ column: Int32) -> UnsafeRawBufferPointer? {
        guard let pointer = sqlite3_column_blob(handle, column) else { return nil }
        return UnsafeRawBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(handle, column)))
    }

    /// Decodes a sketch column; an empty sketch for NULL or bytes that are not a sketch.
    @inline(__always) func sketch(_ column: Int32) -> QuantileSketch? {
        guard let bytes = blob(column) else { return nil }
        return QuantileSketch(encoded: bytes)
    }
}


extension SQLiteStore {
    /// How many virtual-machine steps `statement` has taken since it was prepared (tests use it
    /// to check that a statement reads an index range rather than a whole table).
    static func virtualMachineSteps(_ statement: Statement) -> Int32 {
        sqlite3_stmt_status(statement.sqliteStatement, SQLITE_STMTSTATUS_VM_STEP, 0)
    }
}
