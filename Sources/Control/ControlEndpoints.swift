import Engine
import Logging
import Steering

/// The control API's handlers over one server context (`ControlRoutes` maps paths to them).
/// Reads: `ReadEndpoints.swift`; writes: `WriteEndpoints.swift`.
struct ControlEndpoints {
    let context: ControlServer.Context
    let logger: Logger
}
