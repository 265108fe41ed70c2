import Config

/// The settings bound when `serve` starts (sockets, threads, files it holds open, the state it
/// loaded): a reload cannot apply a change to them, so `SnapshotBuilder.reloadBuild` refuses one.
///
/// Every other setting (zones, identity, geo, regions, checks, services, health.initial and
/// wait_first_round) takes effect on a reload.
public enum RestartSettings {
    /// The sections whose settings differ between the running and the new configuration, in the
    /// order checked: "listen"; "control" (listen, token); "decision_log"; "server"; "rrl.table_size"; "cluster"; "state_dir,
    /// health.state_file" (with health.strict_state_file); "control" (socket, max_connections,
    /// idle_timeout). Empty when a reload may apply `loaded`.
    public static func changed(running: MeridianConfig, loaded config: MeridianConfig) -> [String] {
        var changed: [String] = []
        if config.listen != running.listen { changed.append("listen") }
        if config.controlListen != running.controlListen || config.controlToken != running.controlToken { changed.append("control") }
        if config.decisionLog != running.decisionLog || config.decisionLogSample != running.decisionLogSample { changed.append("decision_log") }
        if config.workers != running.workers || config.udpPayloadSize != running.udpPayloadSize
            || config.tcpIdleTimeout != running.tcpIdleTimeout || config.tcpMaxConnections != running.tcpMaxConnections
            || config.tcpMessageTimeout != running.tcpMessageTimeout
            || config.tcpMaxConnectionsPerClient != running.tcpMaxConnectionsPerClient
            || config.tcpMaxQueriesPerConnection != running.tcpMaxQueriesPerConnection
            || config.tcpMaxConnectionLifetime != running.tcpMaxConnectionLifetime
        {
            changed.append("server")
        }
        if config.rrl.tableSize != running.rrl.tableSize { changed.append("rrl.table_size") }
        if config.cluster != running.cluster { changed.append("cluster") }
        if config.stateFile != running.stateFile || config.stateDir != running.stateDir || config.strictStateFile != running.strictStateFile {
            changed.append("state_dir, health.state_file")
        }
        if config.controlMaxConnections != running.controlMaxConnections || config.controlIdleTimeout != running.controlIdleTimeout
            || config.controlSocket != running.controlSocket || config.controlAllow != running.controlAllow
        {
            changed.append("control")
        }
        return changed
    }
}
