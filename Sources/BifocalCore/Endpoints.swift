/// What an endpoint costs and how its GPUs are shared, from the config's `endpoints` section.
///
/// Later sources (the gateway, scrape targets) refer to endpoints by name instead of repeating prices.
public struct EndpointSpec: Sendable, Hashable {
    /// The endpoint's name, as records carry it in `endpoint`.
    public var name: String
    /// The instance type (`ml.g5.12xlarge`, `p5.48xlarge`), for people.
    public var instanceType: String?
    /// Price of one instance per hour, in US dollars.
    public var hourlyPrice: Double
    /// Accelerators on one instance.
    public var gpus: Int
    /// Instances behind the endpoint.
    public var instances: Int
    /// GPUs reserved per model or inference component name (as an inference component reserves accelerators).
    public var reservations: [String: Double]

    /// Creates an endpoint.
    public init(name: String, instanceType: String? = nil, hourlyPrice: Double, gpus: Int, instances: Int = 1, reservations: [String: Double] = [:]) {
        self.name = name
        self.instanceType = instanceType
        self.hourlyPrice = hourlyPrice
        self.gpus = gpus
        self.instances = instances
        self.reservations = reservations
    }

    /// Price of one GPU for one hour.
    public var pricePerGPUHour: Double { gpus > 0 ? hourlyPrice / Double(gpus) : hourlyPrice }

    /// Hourly cost of everything the endpoint runs.
    public var totalHourlyCost: Double { hourlyPrice * Double(max(instances, 1)) }

    /// Hourly cost of one model or component on this endpoint: its reserved GPUs x price per GPU.
    /// A model with no reservation is charged the whole endpoint (the single-model case).
    public func hourlyCost(forModelOrComponent key: String?) -> Double {
        if let key, let gpus = reservations[key] { return gpus * pricePerGPUHour }
        return totalHourlyCost
    }
}

/// All configured endpoints, by name.
public struct EndpointCatalog: Sendable, Hashable {
    /// Endpoints by name.
    public var endpoints: [String: EndpointSpec]

    /// Creates a catalog.
    public init(_ endpoints: [EndpointSpec] = []) {
        var map: [String: EndpointSpec] = [:]
        for e in endpoints { map[e.name] = e }
        self.endpoints = map
    }

    /// Hourly cost of a set of (endpoint, model, component) keys that a group holds. The cost of
    /// one endpoint never exceeds its total price; keys on unknown endpoints cost nothing (and are
    /// reported as such by `cost.*` being null when nothing is priced).
    public func hourlyCost(of keys: some Sequence<(endpoint: String, model: String, component: String)>) -> Double? {
        var perEndpoint: [String: Double] = [:]
        var seen = Set<String>()
        for key in keys {
            guard let spec = endpoints[key.endpoint] else { continue }
            let servedBy = key.component.isEmpty ? key.model : key.component
            let reservationKey: String? = spec.reservations[key.component] != nil ? key.component
                : (spec.reservations[key.model] != nil ? key.model : (servedBy.isEmpty ? nil : servedBy))
            guard seen.insert("\(key.endpoint)\u{1F}\(reservationKey ?? "")").inserted else { continue }
            perEndpoint[key.endpoint, default: 0] += spec.hourlyCost(forModelOrComponent: reservationKey)
        }
        guard !perEndpoint.isEmpty else { return nil }
        return perEndpoint.reduce(0) { total, entry in
            total + min(entry.value, endpoints[entry.key]!.totalHourlyCost)
        }
    }
}
