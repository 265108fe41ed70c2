import Steering

/// What steering one GSLB service did for a query: the answer written (or what the caller writes),
/// and the decision taken (region pool and ECS scope).
struct SteerResult {
    /// The answer part of the outcome.
    enum Answer {
        /// The chosen pool's records were written; `fits` is false when they did not fit.
        case written(fits: Bool)
        /// No region has data of the type: the caller writes NODATA.
        case noData
        /// The decision is the zone's own records: the caller answers from the zone.
        case staticRecords
    }

    var answer: Answer
    /// The pool (region) chosen and the ECS scope over which the decision holds (RFC 7871 §7.2.1).
    var decision: Decision
}
