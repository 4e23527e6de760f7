import BifocalCore
@testable import BifocalStore
import BifocalTesting
import Foundation
import GRDB
import Testing

@Suite("Record listing")
struct RecordListingTests {
    /// 25,000 records over about 7 hours, three to a start instant (so that steps and pages end
    /// inside a run of equal starts); every 997th a server error for tenant "rare", every 1,500th
    /// with texts, one of them mentioning a refund.
    static func fill(_ store: SQLiteStore) async throws -> [InferenceRecord] {
        var all: [InferenceRecord] = []
        var batch: [InferenceRecord] = []
        for k in 0..<25_000 {
            var r = InferenceRecord(start: T.base + Int64(k / 3) * 3_000_000, endpoint: "ep", model: k % 2 == 0 ? "a" : "b",
                                    outputTokens: 10, ttftMs: 100, e2eMs: 1000)
            r.id = "r\(k)"
            r.tenant = k % 997 == 0 ? "rare" : "common"
            if k % 997 == 0 { r.status = .serverError; r.httpStatus = 500 }
            if k % 1500 == 0 {
                r.prompt = "question \(k)"
                r.response = k == 15_000 ? "Our Refund policy is thirty days." : "an answer"
            }
            all.append(r)
            batch.append(r)
            if batch.count == 5000 {
                _ = try await store.insert(batch)
                batch.removeAll()
            }
        }
        return all
    }

    /// Follows `next` until the listing ends; returns every id in order and the pages' count.
    static func walk(_ store: SQLiteStore, _ filter: RecordFilter, limit: Int, timeBudget: Duration) async throws -> (ids: [String], pages: Int, budgetPages: Int) {
        var ids: [String] = []
        var cursor: BifocalStore.RecordCursor?
        var pages = 0
        var budgetPages = 0
        repeat {
            let page = try await store.records(matching: filter, limit: limit, before: cursor, timeBudget: timeBudget)
            ids += page.records.compactMap(\.record.id)
            if page.scanBudgetReached { budgetPages += 1 }
            cursor = page.next
            pages += 1
        } while cursor != nil && pages < 10_000
        return (ids, pages, budgetPages)
    }

    /// The ids a filter must list, newest first (start, then insertion order, descending).
    static func expected(_ all: [InferenceRecord], _ keep: (InferenceRecord) -> Bool) -> [String] {
        all.enumerated().filter { keep($0.element) }
            .sorted { ($0.element.start, $0.offset) > ($1.element.start, $1.offset) }
            .compactMap(\.element.id)
    }

    @Test("following the cursor lists every matching record once, in order, whatever the step, budget and time budget stop at")
    func cursorCoversEverything() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        let all = try await Self.fill(store)
        let from = T.base + 3_600_000_000
        let to = T.base + 6 * 3_600_000_000
        let inRange = { (r: InferenceRecord) in r.start >= from && r.start < to }
        let cases: [(RecordFilter, (InferenceRecord) -> Bool)] = [
            (RecordFilter(), { _ in true }),
            (RecordFilter(from: from, to: to), inRange),
            (RecordFilter(from: from, to: to, tenant: "rare", errorsOnly: true), { inRange($0) && $0.tenant == "rare" }),
            (RecordFilter(model: "b", statuses: [.serverError]), { $0.model == "b" && $0.status == .serverError }),
            (RecordFilter(from: from, text: "refund"), { $0.start >= from && ($0.response ?? "").lowercased().contains("refund") }),
            (RecordFilter(text: "question"), { $0.prompt != nil }),
        ]
        for (filter, keep) in cases {
            let want = Self.expected(all, keep)
            for (limit, budget) in [(1000, Duration.seconds(60)), (7, .seconds(60)), (50, .zero)] {
                let got = try await Self.walk(store, filter, limit: limit, timeBudget: budget)
                #expect(got.ids == want, "\(filter) limit \(limit) budget \(budget): \(got.ids.count) of \(want.count)")
            }
        }
        try await store.close()
    }

    @Test("a filter matching little stops at the scan budget, or at once after one step with no time left, and says so")
    func budgetsStopThePage() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        _ = try await Self.fill(store)
        let rare = RecordFilter(tenant: "rare", statuses: [.timeout])  // matches nothing
        // Generous time: the row budget (50,000 > 25,000 rows) is never reached, one page says all.
        let whole = try await store.records(matching: rare, limit: 50, before: nil, timeBudget: .seconds(60))
        #expect(whole.records.isEmpty && whole.next == nil && !whole.scanBudgetReached)
        // No time at all: one step (10,000 rows) per page, each page saying where to go on.
        let walked = try await Self.walk(store, rare, limit: 50, timeBudget: .zero)
        #expect(walked.ids.isEmpty)
        #expect(walked.pages == 3 && walked.budgetPages == 2, "\(walked)")
        // A text search looks at 2,000 texts a step; only 17 records have texts: one page.
        let search = try await store.records(matching: RecordFilter(text: "nothing like this"), limit: 50, before: nil, timeBudget: .zero)
        #expect(search.records.isEmpty && search.next == nil)
        try await store.close()
    }

    @Test("each side of the walk compares start once, so SQLite takes its index range from the step, not the whole time range")
    func oneComparisonPerSide() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        _ = try await Self.fill(store)
        // SQLite bounds an index scan by the first `start >=` (`start <`) it meets and only checks
        // any other: a time range beside a step's boundary walked the whole time range (the bug
        // behind a 110 ms month listing). Count the rows SQLite steps through for one step.
        let lower = BifocalStore.RecordCursor(start: T.base + 6 * 3_600_000_000, sequence: 0)
        let upper = BifocalStore.RecordCursor(start: T.base + 6 * 3_600_000_000 + 30_000_000, sequence: .max)
        let filter = RecordFilter(from: T.base, to: T.base + 7 * 3_600_000_000, tenant: "nobody")
        let conditions = SQLiteStore.bounds(filter, above: lower, below: upper, alias: "r").0
        let steps = try await store.pool.read { db -> Int32 in
            let values = SQLiteStore.bounds(filter, above: lower, below: upper, alias: "r").1
            let statement = try db.makeStatement(sql: "SELECT count(*) FROM records r WHERE \(conditions.joined(separator: " AND ")) AND r.tenant = 'nobody'")
            try statement.setArguments(StatementArguments(values))
            _ = try Int.fetchOne(statement)
            return SQLiteStore.virtualMachineSteps(statement)
        }
        // About 30 rows in the window (3 per 3 s over 30 s): a few hundred VM steps, not 25,000 rows' worth.
        #expect(steps < 2_000, "\(steps) virtual machine steps for a 30-second window")
        #expect(conditions.filter { $0.hasPrefix("r.start >=") }.count == 1)
        #expect(conditions.filter { $0.hasPrefix("r.start <") }.count == 1)
        try await store.close()
    }
}
