// TCP probes without a framework: one thread, epoll, a timer heap. Connect probes (non-blocking
// connect(2), RST close) for `tcp` checks, where a SwiftNIO channel per probe cost about 60 % of a
// core for 5000 endpoints at 1 s; half-open probes (a SYN from a raw socket; SYN-ACK = listening,
// RST = refused; the kernel resets the half-open connection) for `tcp-half-open` checks, which skip
// the connection the kernel would otherwise build and tear down (docs/PERFORMANCE.md).
#ifndef MERIDIAN_TCPPROBE_H
#define MERIDIAN_TCPPROBE_H
#include <stddef.h>
#include <stdint.h>

typedef struct mprobe_engine mprobe_engine;

/// One finished probe: `error` is 0 when the connection was established, an errno value otherwise
/// (ETIMEDOUT when the timeout passed first), or a negative errno when no probe could be made for a
/// local reason (out of descriptors or memory: no verdict on the endpoint); `latency_us` from
/// connect(2) to the result.
typedef struct {
    uint64_t id;
    int32_t error;
    uint32_t latency_us;
    uint32_t flags;
} mprobe_result;

/// mprobe_result.flags: the probe was half-open (error 0 = SYN-ACK, ECONNREFUSED = RST).
#define MPROBE_HALF_OPEN 1u

/// Called on the engine's thread, outside its lock, with the results of one loop turn.
typedef void (*mprobe_callback)(void *context, const mprobe_result *results, unsigned count);

/// Creates an engine and starts its thread. Returns NULL with a message in err.
mprobe_engine *mprobe_new(mprobe_callback callback, void *context, char *err, size_t errlen);

/// Probes `address` (IPv4 or IPv6 literal) on `port` every `interval_ms` (measured from the previous
/// result, shifted at random by up to `jitter_ms`), each probe bounded by `timeout_ms`; the first
/// probe starts after `first_delay_ms`; `half_open` != 0: SYN probes instead of connects. Results carry
/// `id`. Returns a handle for mprobe_remove, or -1 (err says why) when the address is not an IP literal,
/// or, half-open, there is no route to it or no raw socket (CAP_NET_RAW).
int64_t mprobe_add(mprobe_engine *e, uint64_t id, const char *address, uint16_t port, int half_open,
                   uint32_t interval_ms, uint32_t timeout_ms, uint32_t jitter_ms, uint32_t first_delay_ms,
                   char *err, size_t errlen);

/// 0 when this process may open raw TCP sockets (half-open probes), else an errno value.
int mprobe_half_open_permitted(void);

/// Stops probing a handle; a probe in flight is abandoned and reports nothing more.
void mprobe_remove(mprobe_engine *e, int64_t handle);

/// Stops the thread, closes every socket and frees the engine.
void mprobe_free(mprobe_engine *e);

#endif
