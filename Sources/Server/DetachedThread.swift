#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSocket

/// Starts a named, detached thread that runs one closure for the life of the process (a UDP worker's
/// receive loop, the decision-log flusher): what Foundation's `Thread` did here, on pthreads, so the
/// server links no Foundation. NIO's threads are event loops; these loops block in system calls.
public enum DetachedThread {
    /// A thread could not be created (the system's error).
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Owns the closure until the new thread takes it.
    private final class Body {
        let name: String
        let run: () -> Void
        init(_ name: String, _ run: @escaping () -> Void) { self.name = name; self.run = run }
    }

    /// Starts `body` on a new thread named `name` (the kernel keeps 15 bytes of it) with `stackSize` bytes of stack.
    public static func start(name: String, stackSize: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) throws {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let context = Unmanaged.passRetained(Body(name, body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, &attributes,
            { context in
                let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
                msock_name_this_thread(body.name)
                body.run()
                return nil
            }, context)
        guard rc == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw StartError(description: "cannot start thread \(name): \(String(cString: strerror(rc)))")
        }
    }
}
