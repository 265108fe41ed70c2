import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The `meridian ctl` side of the control API: one HTTP request, synchronously.
enum ControlClient {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func request(base: String, method: String, path: String, token: String?, body: [String: Any]?) throws -> (Int, String) {
        guard let url = URL(string: base + path) else { throw Failure(description: "bad control URL \(base)") }
        var request = URLRequest(url: url, timeoutInterval: 10)
        request.httpMethod = method
        if let token, !token.isEmpty { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Int, String)?
        nonisolated(unsafe) var failure: Error?
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error { failure = error } else {
                result = ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self))
            }
            done.signal()
        }.resume()
        done.wait()
        if let failure { throw Failure(description: "control API \(base): \(failure.localizedDescription)") }
        return result ?? (0, "")
    }
}
