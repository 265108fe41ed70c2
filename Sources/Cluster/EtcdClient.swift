import FoundationEssentials
import NIOCore
import NIOSSL
import Synchronization

/// A client of etcd's v3 API through its JSON gateway (`POST /v3/kv/range` and the like; keys and
/// values base64, 64-bit integers as strings, per the proto3 JSON mapping), on SwiftNIO's HTTP/1.1
/// and NIOSSL, which the server already links: the calls Meridian needs (KV, transactions, leases,
/// watches, authentication) are a few JSON shapes, and a general HTTP client would add its own
/// dependency tree to every build for them (README, "Cluster").
///
/// Several members: a call goes to the member that answered last, and on `EtcdError.unavailable`
/// to the next, once round the list. Authentication (`user`/`password`): a token from
/// `/v3/auth/authenticate`, fetched again when etcd says it expired. TLS: `tls` for `https://`
/// members (CA, and a client certificate when etcd asks for one).
public final class EtcdClient: Sendable {
    public let endpoints: [EtcdEndpoint]
    let credentials: (user: String, password: String)?
    let tls: NIOSSLContext?
    let group: EventLoopGroup
    let timeout: TimeAmount
    private struct State {
        var current = 0
        var token: String?
    }
    private let state = Mutex(State())

    public init(
        endpoints: [EtcdEndpoint], credentials: (user: String, password: String)?, tls: NIOSSLContext?, group: EventLoopGroup,
        timeout: TimeAmount = .seconds(2)
    ) {
        precondition(!endpoints.isEmpty, "etcd needs at least one endpoint")
        self.endpoints = endpoints
        self.credentials = credentials
        self.tls = tls
        self.group = group
        self.timeout = timeout
    }

    /// The member calls go to now.
    public var currentEndpoint: EtcdEndpoint { endpoints[state.withLock { $0.current }] }

    // MARK: KV

    /// One key and its value as etcd holds it.
    public struct KeyValue: Sendable, Equatable {
        public let key: String
        public let value: [UInt8]
        public let modRevision: Int64
        public let lease: Int64
    }

    /// Every key under `prefix` and the store revision they were read at.
    public func range(prefix: String) async throws -> (kvs: [KeyValue], revision: Int64) {
        let reply: RangeReply = try await call("/v3/kv/range", RangeRequest(key: b64(prefix), range_end: b64(Self.rangeEnd(prefix))))
        return (try (reply.kvs ?? []).map { try $0.decoded() }, reply.header.revisionValue)
    }

    /// Writes `value` at `key`, attached to `lease` (0: none). Returns the revision of the write.
    @discardableResult
    public func put(_ key: String, _ value: [UInt8], lease: Int64 = 0) async throws -> Int64 {
        let reply: HeaderReply = try await call("/v3/kv/put", PutRequest(key: b64(key), value: b64(value), lease: lease == 0 ? nil : String(lease)))
        return reply.header.revisionValue
    }

    /// Deletes `key`. Returns the revision after it.
    @discardableResult
    public func delete(_ key: String) async throws -> Int64 {
        let reply: HeaderReply = try await call("/v3/kv/deleterange", DeleteRequest(key: b64(key), range_end: nil))
        return reply.header.revisionValue
    }

    /// One write of a transaction.
    public enum Write: Sendable {
        case put(key: String, value: [UInt8], lease: Int64)
        case delete(key: String)
    }

    /// Applies `writes` in one transaction (atomically, one revision). etcd refuses more than its
    /// `--max-txn-ops` (128 by default) per transaction: callers batch.
    @discardableResult
    public func apply(_ writes: [Write]) async throws -> Int64 {
        let ops = writes.map { write -> TxnOp in
            switch write {
            case .put(let key, let value, let lease):
                return TxnOp(request_put: PutRequest(key: b64(key), value: b64(value), lease: lease == 0 ? nil : String(lease)), request_delete_range: nil)
            case .delete(let key):
                return TxnOp(request_put: nil, request_delete_range: DeleteRequest(key: b64(key), range_end: nil))
            }
        }
        let reply: HeaderReply = try await call("/v3/kv/txn", TxnRequest(success: ops))
        return reply.header.revisionValue
    }

    // MARK: leases

    /// A new lease of `ttl` seconds; its id.
    public func grant(ttl: Int) async throws -> Int64 {
        let reply: LeaseReply = try await call("/v3/lease/grant", ["TTL": ttl])
        guard let id = reply.ID.flatMap({ Int64($0) }), id != 0 else { throw EtcdError.unavailable("lease grant without an id") }
        return id
    }

    /// Renews `lease`; its remaining TTL in seconds, 0 when it expired (then everything written under
    /// it is gone).
    public func keepAlive(_ lease: Int64) async throws -> Int {
        let reply: StreamReply<LeaseReply> = try await call("/v3/lease/keepalive", ["ID": String(lease)])
        return reply.result?.TTL.flatMap { Int($0) } ?? 0
    }

    /// Ends `lease` now: its keys are deleted.
    public func revoke(_ lease: Int64) async throws {
        let _: HeaderReply = try await call("/v3/lease/revoke", ["ID": String(lease)])
    }

    // MARK: watch

    /// A change the watch saw: a put (with the new value) or a delete.
    public struct Event: Sendable, Equatable {
        public let deleted: Bool
        public let kv: KeyValue
    }

    /// Watches every key under `prefix` from `revision` on, calling `onEvents` with each batch and
    /// the revision it brings the view to, until `cancel` completes (then returns) or the stream
    /// breaks (then throws). One member: the current one.
    public func watch(
        prefix: String, from revision: Int64, cancel: EventLoopFuture<Void>, onEvents: @escaping @Sendable ([Event], Int64) -> Void
    ) async throws {
        let request = WatchRequest(create_request: .init(key: b64(prefix), range_end: b64(Self.rangeEnd(prefix)), start_revision: String(revision)))
        let body = [UInt8](try JSONEncoder().encode(request))
        let endpoint = currentEndpoint
        let token = try await tokenForCall()
        let failure = Mutex<EtcdError?>(nil)
        try await EtcdHTTP.stream(
            endpoint, path: "/v3/watch", body: body, token: token, tls: tls, group: group, connectTimeout: timeout, cancel: cancel
        ) { line in
            guard let reply = try? JSONDecoder().decode(StreamReply<WatchReply>.self, from: Data(line)) else {
                failure.withLock { $0 = .unavailable("an unreadable watch message") }
                return
            }
            if let error = reply.errorValue {
                failure.withLock { $0 = error }
                return
            }
            guard let result = reply.result else { return }
            if result.canceled == true {
                failure.withLock { $0 = .refused(code: 11, message: "watch canceled: \(result.cancel_reason ?? "compacted")") }
                return
            }
            let events = (result.events ?? []).compactMap { e -> Event? in
                guard let kv = try? e.kv.decoded() else { return nil }
                return Event(deleted: e.type == "DELETE", kv: kv)
            }
            if !events.isEmpty { onEvents(events, result.header.revisionValue) }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    // MARK: calls

    /// POSTs `request` to `path` on the current member, then the others; authenticates first when
    /// credentials are set, and again once when etcd says the token is no longer valid.
    func call<Request: Encodable, Reply: Decodable>(_ path: String, _ request: Request) async throws -> Reply {
        let body = [UInt8](try JSONEncoder().encode(request))
        do {
            return try await callAnyMember(path, body: body, token: try await tokenForCall())
        } catch let error as EtcdError where error.isUnauthenticated && credentials != nil {
            state.withLock { $0.token = nil }
            return try await callAnyMember(path, body: body, token: try await tokenForCall())
        }
    }

    private func callAnyMember<Reply: Decodable>(_ path: String, body: [UInt8], token: String?) async throws -> Reply {
        var lastError = EtcdError.unavailable("no member answered")
        let start = state.withLock { $0.current }
        for step in 0..<endpoints.count {
            let index = (start + step) % endpoints.count
            do {
                let bytes = try await EtcdHTTP.post(endpoints[index], path: path, body: body, token: token, tls: tls, group: group, timeout: timeout)
                let reply = try Self.decode(Reply.self, bytes)
                state.withLock { $0.current = index }
                return reply
            } catch let error as EtcdError {
                guard case .unavailable = error else { throw error }
                lastError = error
            }
        }
        state.withLock { $0.current = (start + 1) % endpoints.count }
        throw lastError
    }

    /// The gateway answers errors as `{"error":..., "code": N}`; anything else is the reply.
    static func decode<Reply: Decodable>(_ type: Reply.Type, _ bytes: [UInt8]) throws -> Reply {
        if let failure = try? JSONDecoder().decode(ErrorReply.self, from: Data(bytes)), let code = failure.code, code != 0 {
            throw EtcdError.from(code: code, message: failure.message ?? failure.error ?? "")
        }
        do {
            return try JSONDecoder().decode(Reply.self, from: Data(bytes))
        } catch {
            throw EtcdError.unavailable("an unreadable reply: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
        }
    }

    private func tokenForCall() async throws -> String? {
        guard let credentials else { return nil }
        if let token = state.withLock({ $0.token }) { return token }
        let body = [UInt8](try JSONEncoder().encode(["name": credentials.user, "password": credentials.password]))
        let reply: AuthReply = try await callAnyMember("/v3/auth/authenticate", body: body, token: nil)
        guard let token = reply.token else { throw EtcdError.refused(code: 16, message: "authentication gave no token") }
        state.withLock { $0.token = token }
        return token
    }

    /// The end of the key range that holds every key starting with `prefix` (etcd's `range_end`: the
    /// prefix with its last octet incremented).
    static func rangeEnd(_ prefix: String) -> [UInt8] {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
            bytes.removeLast()
        }
        return [0]
    }
}

private func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
private func b64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

// MARK: the gateway's JSON shapes (etcd api/etcdserverpb/rpc.proto, proto3 JSON mapping)

struct ResponseHeader: Decodable {
    let revision: String?
    var revisionValue: Int64 { revision.flatMap { Int64($0) } ?? 0 }
}

struct HeaderReply: Decodable {
    let header: ResponseHeader
}

struct ErrorReply: Decodable {
    let error: String?
    let message: String?
    let code: Int?
}

/// Streaming calls wrap each message in `result` (or `error`).
struct StreamReply<Result: Decodable>: Decodable {
    let result: Result?
    let error: ErrorBody?
    struct ErrorBody: Decodable {
        let grpc_code: Int?
        let code: Int?
        let message: String?
    }
    var errorValue: EtcdError? {
        guard let error else { return nil }
        return .from(code: error.grpc_code ?? error.code ?? 2, message: error.message ?? "")
    }
}

struct RangeRequest: Encodable {
    let key: String
    let range_end: String
}

struct RangeReply: Decodable {
    let header: ResponseHeader
    let kvs: [WireKeyValue]?
}

struct WireKeyValue: Decodable {
    let key: String
    let value: String?
    let mod_revision: String?
    let lease: String?

    func decoded() throws -> EtcdClient.KeyValue {
        guard let keyData = Data(base64Encoded: key), let valueData = Data(base64Encoded: value ?? "") else {
            throw EtcdError.unavailable("a key or value that is not base64")
        }
        return EtcdClient.KeyValue(
            key: String(decoding: keyData, as: UTF8.self), value: [UInt8](valueData), modRevision: mod_revision.flatMap { Int64($0) } ?? 0,
            lease: lease.flatMap { Int64($0) } ?? 0)
    }
}

struct PutRequest: Encodable {
    let key: String
    let value: String
    let lease: String?
}

struct DeleteRequest: Encodable {
    let key: String
    let range_end: String?
}

struct TxnOp: Encodable {
    let request_put: PutRequest?
    let request_delete_range: DeleteRequest?
}

struct TxnRequest: Encodable {
    let success: [TxnOp]
}

struct LeaseReply: Decodable {
    let ID: String?
    let TTL: String?
}

struct AuthReply: Decodable {
    let token: String?
}

struct WatchRequest: Encodable {
    struct Create: Encodable {
        let key: String
        let range_end: String
        let start_revision: String
    }
    let create_request: Create
}

struct WatchReply: Decodable {
    let header: ResponseHeader
    let created: Bool?
    let canceled: Bool?
    let cancel_reason: String?
    let events: [WireEvent]?
    struct WireEvent: Decodable {
        let type: String?
        let kv: WireKeyValue
    }
}
