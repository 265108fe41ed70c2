import Foundation

/// The GeoLite2-City database the tests read: `$MERIDIAN_GEOIP_DB`, else the one in the PyPI package
/// `maxminddb-geolite2` (which `make test` installs). nil when neither is there.
public enum GeoLite2 {
    public static func path() -> String? {
        if let p = ProcessInfo.processInfo.environment["MERIDIAN_GEOIP_DB"] { return p }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import _maxminddb_geolite2,os;print(os.path.dirname(_maxminddb_geolite2.__file__)+'/GeoLite2-City.mmdb')"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        p.waitUntilExit()
        let path = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard p.terminationStatus == 0, FileManager.default.fileExists(atPath: path) else { return nil }
        return path
    }
}
