import BifocalCore
import BifocalIngest
import BifocalTesting
import Foundation
import Testing

/// The fields of the `__DERIVED` noheader,nounits captures, in order.
let h200SubsetFields = [
    "timestamp", "index", "uuid", "name", "pci.bus_id", "utilization.gpu", "utilization.memory", "memory.total",
    "memory.used", "memory.free", "power.draw", "power.limit", "temperature.gpu", "temperature.memory",
    "clocks.current.sm", "clocks.current.memory", "pstate",
]

private let mib = 1_048_576.0

/// The H200 readings of the captures, idle and under gpu-burn.
private func expectH200(_ reading: NvidiaSMI.Reading?, load: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let reading else { Issue.record("no reading", sourceLocation: sourceLocation); return }
    #expect(reading.index == 0, sourceLocation: sourceLocation)
    #expect(reading.uuid == "GPU-00000000-0000-0000-0000-000000000000", sourceLocation: sourceLocation)
    #expect(reading.name == "NVIDIA H200", sourceLocation: sourceLocation)
    #expect(reading.busID == "00000000:83:00.0", sourceLocation: sourceLocation)
    #expect(reading.utilization == (load ? 1.0 : 0.0), sourceLocation: sourceLocation)
    #expect(reading.memoryBandwidthUtilization == (load ? 0.07 : 0.0), sourceLocation: sourceLocation)
    #expect(reading.memoryTotal == 143_771 * mib, sourceLocation: sourceLocation)
    #expect(reading.memoryUsed == (load ? 32_362 : 0) * mib, sourceLocation: sourceLocation)
    #expect(reading.memoryFree == (load ? 110_796 : 143_158) * mib, sourceLocation: sourceLocation)
    #expect(reading.powerDraw == (load ? 627.40 : 77.71), sourceLocation: sourceLocation)
    #expect(reading.temperature == (load ? 52 : 28), sourceLocation: sourceLocation)
    #expect(reading.smClock == (load ? 1_980_000_000 : 345_000_000), sourceLocation: sourceLocation)
    #expect(reading.gpuInstance == nil, sourceLocation: sourceLocation)
}

@Suite("nvidia-smi parsing")
struct NvidiaSMITests {
    @Test(arguments: [false, true])
    func derivedNoheaderNounitsCaptures(load: Bool) throws {
        let state = load ? "load" : "idle"
        guard let text = try Fixtures.text("nvidia-smi/h200_\(state)_query_gpu_subset__csv_noheader_nounits__DERIVED.csv") else { return }
        let readings = try NvidiaSMI.parseCSV(text, fields: h200SubsetFields)
        #expect(readings.count == 1)
        expectH200(readings.first, load: load)
        #expect(readings.first?.migEnabled == nil)   // not queried

        let samples = NvidiaSMI.samples(readings, at: 42, labels: ["host": "gpu-box"])
        let labels = ["host": "gpu-box", "gpu": "0", "gpu_uuid": "GPU-00000000-0000-0000-0000-000000000000", "gpu_model": "NVIDIA H200"]
        #expect(samples.allSatisfy { $0.labels == labels && $0.time == 42 })
        let values = Dictionary(uniqueKeysWithValues: samples.map { ($0.name, $0.value) })
        #expect(values == [
            "gpu.utilization": load ? 1 : 0,
            "gpu.memory.bandwidth_utilization": load ? 0.07 : 0,
            "gpu.memory.used": (load ? 32_362 : 0) * mib,
            "gpu.memory.free": (load ? 110_796 : 143_158) * mib,
            "gpu.memory.total": 143_771 * mib,
            "gpu.memory.utilization": load ? 32_362.0 / 143_771.0 : 0,
            "gpu.power": load ? 627.40 : 77.71,
            "gpu.temperature": load ? 52 : 28,
            "gpu.sm_clock": load ? 1.98e9 : 3.45e8,
        ])
    }

    @Test(arguments: [false, true])
    func headerAndUnitsCaptures(load: Bool) throws {
        let state = load ? "load" : "idle"
        guard let text = try Fixtures.text("nvidia-smi/h200_\(state)_query_gpu_subset__csv.csv") else { return }
        // The header names the fields, whatever `fields` says; values lose their units.
        let readings = try NvidiaSMI.parseCSV(text, fields: ["ignored"])
        #expect(readings.count == 1)
        expectH200(readings.first, load: load)
    }

    @Test func everyFieldOfTheFullH200Capture() throws {
        guard let text = try Fixtures.text("nvidia-smi/h200-capture.txt") else { return }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let headers = lines.indices.filter { lines[$0].hasPrefix("timestamp, driver_version,") }
        #expect(headers.count == 2)   // idle, then load
        for (position, header) in headers.enumerated() {
            // Over 200 columns, with [N/A], [Requested functionality has been deprecated], bare N/A and empty values.
            let csv = lines[header] + "\n" + lines[header + 1] + "\n"
            let readings = try NvidiaSMI.parseCSV(String(csv))
            #expect(readings.count == 1)
            expectH200(readings.first, load: position == 1)
            #expect(readings.first?.migEnabled == false)
        }
    }

    @Test func migXMLCapture() throws {
        guard let text = try Fixtures.text("nvidia-smi/a100-mig-q-x.xml") else { return }
        let readings = try NvidiaSMI.parseXML(text)
        #expect(readings.count == 5)
        let gpu = try #require(readings.first)
        #expect(gpu.index == 0)
        #expect(gpu.uuid == "GPU-513536b6-7d19-9063-b049-1e69664bb298")
        #expect(gpu.name == "NVIDIA A100-SXM4-80GB")
        #expect(gpu.busID == "00000000:01:00.0")
        #expect(gpu.utilization == nil)                   // N/A in MIG mode
        #expect(gpu.memoryBandwidthUtilization == nil)
        #expect(gpu.memoryTotal == 81_920 * mib)
        #expect(gpu.memoryUsed == 50 * mib)
        #expect(gpu.memoryFree == 80_999 * mib)
        #expect(gpu.powerDraw == 67.03)                   // v12: <gpu_power_readings><power_draw>
        #expect(gpu.temperature == 27)
        #expect(gpu.smClock == 1_275_000_000)
        #expect(gpu.migEnabled == true)
        #expect(!gpu.isMIGDevice)
        let devices = readings.dropFirst()
        #expect(devices.map(\.gpuInstance) == ["3", "4", "5", "6"])
        #expect(devices.map(\.computeInstance) == ["0", "0", "0", "0"])
        for device in devices {
            #expect(device.isMIGDevice)
            #expect(device.index == 0 && device.uuid == gpu.uuid)
            #expect(device.memoryTotal == 19_968 * mib && device.memoryUsed == 12 * mib && device.memoryFree == 19_955 * mib)
            #expect(device.utilization == nil)
        }
        let samples = NvidiaSMI.samples(Array(devices.prefix(1)), at: 7)
        #expect(samples.map(\.name) == ["gpu.memory.used", "gpu.memory.free", "gpu.memory.total", "gpu.memory.utilization"])
        #expect(samples.allSatisfy { $0.labels == ["gpu": "0", "gpu_uuid": gpu.uuid!, "gpu_model": gpu.name!, "gpu_instance": "3"] })
        #expect(samples.last?.value == 12.0 / 19_968.0)
    }

    @Test func v13XMLCapture() throws {
        guard let text = try Fixtures.text("nvidia-smi/rtx4000ada-q-x.xml") else { return }
        let readings = try NvidiaSMI.parseXML(text)
        #expect(readings.count == 1)
        let gpu = try #require(readings.first)
        #expect(gpu.index == 0)
        #expect(gpu.uuid == "GPU-37037c3f-65c8-ec4d-24a9-420204ad8026")
        #expect(gpu.name == "NVIDIA RTX 4000 SFF Ada Generation")
        #expect(gpu.utilization == 0)
        #expect(gpu.memoryBandwidthUtilization == 0.37)
        #expect(gpu.memoryTotal == 20_475 * mib)
        #expect(gpu.memoryUsed == 3_534 * mib)
        #expect(gpu.memoryFree == 16_482 * mib)
        #expect(gpu.powerDraw == 8.81)                    // v13: <average_power_draw>
        #expect(gpu.temperature == 38)
        #expect(gpu.smClock == 210_000_000)
        #expect(gpu.migEnabled == nil)                    // N/A: no MIG on this GPU
    }

    @Test(arguments: ["[N/A]", "[Not Supported]", "[Unknown Error]", "[Insufficient Permissions]", "[GPU is lost]",
                      "[Requested functionality has been deprecated]", "N/A", ""])
    func unavailableValuesAreAbsentNotZero(marker: String) throws {
        let line = "1, GPU-1, NVIDIA L4, 00000000:02:00.0, \(marker), \(marker), 23034, \(marker), 22000, \(marker), \(marker), \(marker), \(marker)\n"
        let reading = try #require(try NvidiaSMI.parseCSV(line).first)
        #expect(reading.index == 1)
        #expect(reading.utilization == nil && reading.memoryBandwidthUtilization == nil)
        #expect(reading.memoryUsed == nil && reading.powerDraw == nil && reading.temperature == nil && reading.smClock == nil)
        #expect(reading.migEnabled == nil)
        #expect(reading.memoryTotal == 23_034 * mib)
        let samples = reading.samples(at: 0)
        #expect(samples.map(\.name) == ["gpu.memory.free", "gpu.memory.total"])
    }

    @Test func badValueNamesLineAndField() {
        let text = """
            0, GPU-0, NVIDIA H200, 00000000:83:00.0, 3, 1, 143771, 10, 143000, 100.5, 40, 1980, Disabled
            1, GPU-1, NVIDIA H200, 00000000:84:00.0, 12abc, 1, 143771, 10, 143000, 100.5, 40, 1980, Disabled
            """
        #expect(throws: NvidiaSMI.ParseError(line: 2, field: "utilization.gpu", reason: "expected a number, found \"12abc\"")) {
            try NvidiaSMI.parseCSV(text)
        }
        let error = NvidiaSMI.ParseError(line: 2, field: "utilization.gpu", reason: "expected a number, found \"12abc\"")
        #expect(error.description == "line 2, field utilization.gpu: expected a number, found \"12abc\"")
    }

    @Test func wrongColumnCountNamesTheLine() {
        let text = "\n0, GPU-0, NVIDIA H200, 00000000:83:00.0, 3, 1, 143771, 10, 143000, 100.5, 40, 1980\n"
        do {
            _ = try NvidiaSMI.parseCSV(text)
            Issue.record("accepted a short line")
        } catch {
            #expect(error.line == 2)
            #expect(error.field == nil)
            #expect(error.reason.hasPrefix("expected 13 values"))
            #expect(error.reason.hasSuffix("found 12"))
        }
    }

    @Test func badIndexAndEmptyOutput() throws {
        #expect(throws: NvidiaSMI.ParseError.self) {
            try NvidiaSMI.parseCSV("1.5, GPU-0, X, b, 1, 1, 1, 1, 1, 1, 1, 1, Disabled\n")
        }
        #expect(try NvidiaSMI.parseCSV("").isEmpty)
        #expect(try NvidiaSMI.parseCSV("\n\n").isEmpty)
        // Windows line ends.
        let crlf = try NvidiaSMI.parseCSV("0, GPU-0, X, b, 50, 1, 100, 25, 70, 1, 1, 1, Enabled\r\n")
        #expect(crlf.first?.utilization == 0.5 && crlf.first?.migEnabled == true && crlf.first?.memoryUsed == 25 * mib)
    }

    @Test func malformedXMLNamesTheLine() {
        let text = """
            <?xml version="1.0" ?>
            <!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">
            <nvidia_smi_log>
                <gpu id="00000000:01:00.0">
                    <product_name>A &amp; B</product_name>
                </gpus>
            </nvidia_smi_log>
            """
        do {
            _ = try NvidiaSMI.parseXML(text)
            Issue.record("accepted mismatched tags")
        } catch {
            #expect(error.line == 6)
            #expect(error.reason == "</gpus> closes <gpu>")
        }
        #expect(throws: NvidiaSMI.ParseError.self) { try NvidiaSMI.parseXML("<nvidia_smi_log><gpu>") }
        #expect(throws: NvidiaSMI.ParseError.self) {
            try NvidiaSMI.parseXML("<nvidia_smi_log><gpu><temperature><gpu_temp>hot</gpu_temp></temperature></gpu></nvidia_smi_log>")
        }
        let entities = try? NvidiaSMI.parseXML("<nvidia_smi_log><gpu><product_name>A &amp; B &#x41;</product_name></gpu></nvidia_smi_log>")
        #expect(entities?.first?.name == "A & B A")
    }
}
