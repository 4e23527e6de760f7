public import BifocalCore

/// Parses `nvidia-smi` output into canonical GPU series: the CSV of `--query-gpu=… --format=csv`
/// (with or without `noheader`/`nounits`) and the XML of `nvidia-smi -q -x`, which alone lists MIG
/// devices.
///
/// Values nvidia-smi cannot give (`[N/A]`, `[Not Supported]`, `[Unknown Error]`, `[Insufficient
/// Permissions]`, `[Requested functionality has been deprecated]`, a bare `N/A`, an empty column) are
/// absent, never zero. Units follow `SeriesSignalCatalog`: percentages become 0-1 ratios, MiB bytes,
/// MHz hertz.
public enum NvidiaSMI {
    /// The fields the GPU sampler queries, in order.
    public static let fields: [String] = [
        "index", "uuid", "name", "pci.bus_id",
        "utilization.gpu", "utilization.memory",
        "memory.total", "memory.used", "memory.free",
        "power.draw", "temperature.gpu", "clocks.current.sm", "mig.mode.current",
    ]

    /// The arguments of the sampler's CSV query.
    public static let queryArguments: [String] = ["--query-gpu=" + fields.joined(separator: ","), "--format=csv,noheader,nounits"]

    /// The arguments of the full XML report (read for MIG devices).
    public static let xmlArguments: [String] = ["-q", "-x"]

    /// What nvidia-smi reported for one GPU, or for one MIG device of a GPU.
    public struct Reading: Sendable, Hashable {
        /// The GPU's index (nvidia-smi's `index`, the NVML order; for XML the order of `<gpu>`).
        public var index: Int?
        /// `GPU-…`; a MIG device carries its parent GPU's.
        public var uuid: String?
        /// The product name (`NVIDIA H200`).
        public var name: String?
        /// `00000000:83:00.0`.
        public var busID: String?
        /// The MIG GPU instance id, for a MIG device (the same id DCGM labels `GPU_I_ID`).
        public var gpuInstance: String?
        /// The MIG compute instance id, for a MIG device.
        public var computeInstance: String?
        /// Share of time a kernel was running, 0-1.
        public var utilization: Double?
        /// Share of time device memory was read or written, 0-1 (nvidia-smi's `utilization.memory`).
        public var memoryBandwidthUtilization: Double?
        /// Framebuffer memory in total, bytes.
        public var memoryTotal: Double?
        /// Framebuffer memory in use, bytes.
        public var memoryUsed: Double?
        /// Framebuffer memory free, bytes (total − used − reserved, so not total − used).
        public var memoryFree: Double?
        /// Power draw, watts.
        public var powerDraw: Double?
        /// Core temperature, degrees Celsius.
        public var temperature: Double?
        /// Streaming-multiprocessor clock, hertz.
        public var smClock: Double?
        /// Whether MIG mode is on (nil when nvidia-smi cannot say, e.g. GPUs without MIG).
        public var migEnabled: Bool?

        /// Creates an empty reading.
        public init() {}

        /// Whether this is a MIG device rather than a whole GPU.
        public var isMIGDevice: Bool { gpuInstance != nil }

        /// The canonical series of this reading at `time`, each carrying `labels` plus the GPU's
        /// `gpu`, `gpu_uuid`, `gpu_model` and, for a MIG device, `gpu_instance`.
        public func samples(at time: Int64, labels context: [String: String] = [:]) -> [SeriesSample] {
            var labels = context
            if let index { labels["gpu"] = String(index) }
            if let uuid, !uuid.isEmpty { labels["gpu_uuid"] = uuid }
            if let name, !name.isEmpty { labels["gpu_model"] = name }
            if let gpuInstance { labels["gpu_instance"] = gpuInstance }
            var out: [SeriesSample] = []
            func add(_ signal: String, _ value: Double?) {
                if let value, value.isFinite { out.append(SeriesSample(name: signal, labels: labels, time: time, value: value)) }
            }
            add("gpu.utilization", utilization)
            add("gpu.memory.bandwidth_utilization", memoryBandwidthUtilization)
            add("gpu.memory.used", memoryUsed)
            add("gpu.memory.free", memoryFree)
            add("gpu.memory.total", memoryTotal)
            if let memoryUsed, let memoryTotal, memoryTotal > 0 { add("gpu.memory.utilization", memoryUsed / memoryTotal) }
            add("gpu.power", powerDraw)
            add("gpu.temperature", temperature)
            add("gpu.sm_clock", smClock)
            return out
        }
    }

    /// Why output was rejected: the 1-based line, the field (CSV column or XML element) when one is to
    /// blame, and the reason.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The 1-based line.
        public var line: Int
        /// The field or element at fault, if one is.
        public var field: String?
        /// What is wrong, in words.
        public var reason: String

        /// Creates an error.
        public init(line: Int, field: String? = nil, reason: String) {
            self.line = line
            self.field = field
            self.reason = reason
        }

        /// `line 3, field memory.used: expected a number, found "12 GiB"`.
        public var description: String {
            if let field { return "line \(line), field \(field): \(reason)" }
            return "line \(line): \(reason)"
        }
    }

    /// The samples of several readings.
    public static func samples(_ readings: [Reading], at time: Int64, labels: [String: String] = [:]) -> [SeriesSample] {
        readings.flatMap { $0.samples(at: time, labels: labels) }
    }

    // MARK: - CSV

    /// Parses `--query-gpu` CSV: one line per GPU, values separated by commas.
    ///
    /// When the first line is a header (`--format=csv`), it names the fields and units are stripped from
    /// the values (`32362 MiB`); otherwise `fields` must list the queried fields in order (`noheader`).
    /// Fields the parser does not know are skipped; a known numeric field with a value that is neither a
    /// number nor a "not available" marker, or a line with the wrong number of values, is an error
    /// naming the line and the field.
    public static func parseCSV(_ text: String, fields: [String] = NvidiaSMI.fields) throws(ParseError) -> [Reading] {
        var lines: [(number: Int, text: Substring)] = []
        var number = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let trimmed = line.hasSuffix("\r") ? line.dropLast() : line
            if !trimmed.allSatisfy({ $0 == " " || $0 == "\t" }) { lines.append((number, trimmed)) }
        }
        guard let first = lines.first else { return [] }
        var columns = fields
        var body = lines[...]
        let headerCells = first.text.split(separator: ",", omittingEmptySubsequences: false).map { trimmed($0) }
        if headerCells.allSatisfy(isHeaderCell) {
            columns = headerCells.map { cell in
                // "memory.used [MiB]" → "memory.used"
                if let bracket = cell.firstIndex(of: "[") { return trimmed(cell[..<bracket]) }
                return cell
            }
            body = body.dropFirst()
        }
        var readings: [Reading] = []
        for (number, line) in body {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { trimmed($0) }
            guard cells.count == columns.count else {
                throw ParseError(line: number, reason: "expected \(columns.count) values (\(columns.joined(separator: ","))), found \(cells.count)")
            }
            var reading = Reading()
            for (field, cell) in zip(columns, cells) {
                try apply(field, cell, to: &reading, line: number)
            }
            readings.append(reading)
        }
        return readings
    }

    /// Whether nvidia-smi said it has no value: `[N/A]`, `[Not Supported]`, `[Unknown Error]`, …, `N/A`, or nothing.
    public static func isUnavailable(_ value: String) -> Bool {
        value.isEmpty || value == "N/A" || (value.hasPrefix("[") && value.hasSuffix("]"))
    }

    private static func isHeaderCell(_ cell: String) -> Bool {
        // Field names are lowercase dotted identifiers, with an optional " [unit]"; data never is
        // (indexes are digits, UUIDs and names start upper case, markers start with "[").
        var name = Substring(cell)
        if let bracket = name.firstIndex(of: "[") {
            guard name.hasSuffix("]") else { return false }
            name = name[..<bracket]
            guard name.hasSuffix(" ") else { return false }
            name = name.dropLast()
        }
        guard let head = name.first, head.isASCII, head.isLowercase else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") }
    }

    private static func apply(_ field: String, _ cell: String, to reading: inout Reading, line: Int) throws(ParseError) {
        func number() throws(ParseError) -> Double? {
            if isUnavailable(cell) { return nil }
            // With units, "32362 MiB", "100 %", "627.40 W": the number is the first word.
            let word = cell.split(separator: " ", maxSplits: 1).first.map(String.init) ?? cell
            guard let value = Double(word), value.isFinite else {
                throw ParseError(line: line, field: field, reason: "expected a number, found \"\(cell)\"")
            }
            return value
        }
        func text() -> String? { isUnavailable(cell) ? nil : cell }
        switch field {
        case "index":
            guard let value = try number() else { return }
            guard value >= 0, value == value.rounded(), value < 1_000_000 else {
                throw ParseError(line: line, field: field, reason: "expected a GPU index, found \"\(cell)\"")
            }
            reading.index = Int(value)
        case "uuid", "gpu_uuid": reading.uuid = text()
        case "name", "gpu_name": reading.name = text()
        case "pci.bus_id", "gpu_bus_id": reading.busID = text()
        case "utilization.gpu": reading.utilization = try number().map { $0 / 100 }
        case "utilization.memory": reading.memoryBandwidthUtilization = try number().map { $0 / 100 }
        case "memory.total": reading.memoryTotal = try number().map { $0 * mebibyte }
        case "memory.used": reading.memoryUsed = try number().map { $0 * mebibyte }
        case "memory.free": reading.memoryFree = try number().map { $0 * mebibyte }
        case "power.draw": if let watts = try number() { reading.powerDraw = watts }
        // Newer drivers answer power.draw with the 1 s average; the explicit fields fill in when it is missing.
        case "power.draw.average", "power.draw.instant": if reading.powerDraw == nil, let watts = try number() { reading.powerDraw = watts }
        case "temperature.gpu": reading.temperature = try number()
        case "clocks.current.sm", "clocks.sm": reading.smClock = try number().map { $0 * 1e6 }
        case "mig.mode.current":
            switch cell {
            case "Enabled": reading.migEnabled = true
            case "Disabled": reading.migEnabled = false
            default: reading.migEnabled = nil
            }
        default:
            return
        }
    }

    static let mebibyte = 1_048_576.0

    /// The text without leading and trailing whitespace (spaces, tabs, line breaks).
    static func trimmed(_ text: some StringProtocol) -> String {
        var slice = Substring(text)
        while let c = slice.first, c.isWhitespace { slice = slice.dropFirst() }
        while let c = slice.last, c.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }

    // MARK: - XML

    /// Parses `nvidia-smi -q -x`: one reading per `<gpu>` (index = its position) and one per MIG device
    /// (`<mig_devices><mig_device>`, memory only: nvidia-smi reports no utilisation per MIG device),
    /// which carries its parent's index, UUID and name plus `gpuInstance`. Handles the DTD versions in
    /// the wild: power under `<power_readings>` (v11) or `<gpu_power_readings>` (v12+), as `<power_draw>`
    /// or `<average_power_draw>`/`<instant_power_draw>` (v13).
    public static func parseXML(_ text: String) throws(ParseError) -> [Reading] {
        let root = try MiniXML.parse(text)
        guard root.name == "nvidia_smi_log" else {
            throw ParseError(line: root.line, field: root.name, reason: "expected <nvidia_smi_log>, found <\(root.name)>")
        }
        var readings: [Reading] = []
        for (position, gpu) in root.children.filter({ $0.name == "gpu" }).enumerated() {
            var reading = Reading()
            reading.index = position
            reading.uuid = gpu.value("uuid")
            reading.name = gpu.value("product_name")
            reading.busID = gpu.value("pci", "pci_bus_id") ?? gpu.attributes["id"]
            reading.utilization = try gpu.number("utilization", "gpu_util").map { $0 / 100 }
            reading.memoryBandwidthUtilization = try gpu.number("utilization", "memory_util").map { $0 / 100 }
            reading.memoryTotal = try gpu.number("fb_memory_usage", "total").map { $0 * mebibyte }
            reading.memoryUsed = try gpu.number("fb_memory_usage", "used").map { $0 * mebibyte }
            reading.memoryFree = try gpu.number("fb_memory_usage", "free").map { $0 * mebibyte }
            for section in ["gpu_power_readings", "power_readings"] {
                for field in ["power_draw", "average_power_draw", "instant_power_draw"] where reading.powerDraw == nil {
                    reading.powerDraw = try gpu.number(section, field)
                }
            }
            reading.temperature = try gpu.number("temperature", "gpu_temp")
            reading.smClock = try gpu.number("clocks", "sm_clock").map { $0 * 1e6 }
            switch gpu.value("mig_mode", "current_mig") {
            case "Enabled": reading.migEnabled = true
            case "Disabled": reading.migEnabled = false
            default: reading.migEnabled = nil
            }
            readings.append(reading)
            for device in gpu.child("mig_devices")?.children.filter({ $0.name == "mig_device" }) ?? [] {
                var mig = Reading()
                mig.index = reading.index
                mig.uuid = reading.uuid
                mig.name = reading.name
                mig.busID = reading.busID
                mig.gpuInstance = device.value("gpu_instance_id") ?? device.value("index").map { "device-\($0)" }
                mig.computeInstance = device.value("compute_instance_id")
                mig.memoryTotal = try device.number("fb_memory_usage", "total").map { $0 * mebibyte }
                mig.memoryUsed = try device.number("fb_memory_usage", "used").map { $0 * mebibyte }
                mig.memoryFree = try device.number("fb_memory_usage", "free").map { $0 * mebibyte }
                mig.migEnabled = true
                readings.append(mig)
            }
        }
        return readings
    }
}
