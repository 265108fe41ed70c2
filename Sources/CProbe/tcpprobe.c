// TCP connect and half-open probes: see include/tcpprobe.h. Invariants, enforced below:
// - every field of the engine is touched only with `lock` held; the engine thread copies a turn's
//   results out and runs the callback without the lock (so the callback may call mprobe_add/remove);
// - a target has at most one probe in flight (a socket in `fd`, or a SYN sent: `syn_pending`), and
//   exactly one live timer: its next probe (nothing in flight) or its deadline. Timers and epoll
//   registrations carry the target's `seq`, which changes on every reschedule and on removal, so stale
//   ones are recognised and ignored;
// - a half-open probe's TCP sequence number is (slot << 12 | 12 random bits): a reply's
//   acknowledgment number - 1 names the slot, and is accepted only if it equals the target's
//   `syn_seq` and comes from the target's address and port.
#define _GNU_SOURCE
#include "tcpprobe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    uint64_t id;
    struct sockaddr_storage address;
    socklen_t address_length;
    /// Half-open, IPv4: the local address the kernel sends from (for the TCP checksum's pseudo-header).
    struct in_addr source4;
    uint32_t interval_ms, timeout_ms, jitter_ms;
    uint32_t seq;
    int used;
    int fd;
    int half_open, syn_pending;
    uint32_t syn_seq;
    uint64_t started_ns;
    /// Half-open: CLOCK_REALTIME when the SYN was handed to the kernel, against the replies' kernel
    /// receive timestamps (SO_TIMESTAMPNS), so latencies are exact although replies are read per tick.
    uint64_t sent_real_ns;
} target;

/// Half-open probing for one address family: a raw TCP socket that sends SYNs and reads the replies
/// (a BPF filter passes only those to `port`), and a bound, never listening TCP socket that reserves
/// `port`, so no connection of this host uses it and the kernel answers every SYN-ACK with RST.
typedef struct {
    int raw_fd, hold_fd;
    uint16_t port;
} half_open_socket;

#define HALF_OPEN_MAX_SLOTS (1u << 20)
/// While half-open targets exist the engine wakes at most once per tick: it sends the SYNs that fell
/// due in one sendmmsg and reads every reply queued since (instead of a wake-up per probe and reply).
#define HALF_OPEN_TICK_MS 5
#define EVENT_WAKE UINT64_MAX

typedef struct {
    uint64_t due_ns;
    uint32_t slot;
    uint32_t seq;
} timer;

struct mprobe_engine {
    pthread_mutex_t lock;
    pthread_t thread;
    int epoll_fd, wake_fd, stopping;
    mprobe_callback callback;
    void *context;
    target *targets;
    uint32_t target_count, target_capacity;
    uint32_t *free_slots;
    uint32_t free_count;
    timer *heap;
    uint32_t heap_count, heap_capacity;
    mprobe_result *results;
    uint32_t result_count, result_capacity;
    uint32_t free_capacity;
    uint64_t random_state;
    half_open_socket half_open[2]; // [0] IPv4, [1] IPv6
    uint32_t *syn_queue[2];         // slots whose SYN is due this turn, per family
    uint32_t syn_queued[2], syn_capacity[2];
};

static uint64_t monotonic_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t realtime_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t next_random(mprobe_engine *e) { // xorshift64*
    uint64_t x = e->random_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    e->random_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static int grow(void **array, uint32_t *capacity, size_t element, uint32_t needed) {
    if (needed <= *capacity) return 0;
    uint32_t c = *capacity ? *capacity * 2 : 64;
    while (c < needed) c *= 2;
    void *p = realloc(*array, (size_t)c * element);
    if (!p) return -1;
    *array = p;
    *capacity = c;
    return 0;
}

// MARK: timer heap (binary min-heap on due_ns)

static void heap_push(mprobe_engine *e, uint64_t due, uint32_t slot, uint32_t seq) {
    if (grow((void **)&e->heap, &e->heap_capacity, sizeof(timer), e->heap_count + 1) != 0) abort();
    uint32_t i = e->heap_count++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (e->heap[parent].due_ns <= due) break;
        e->heap[i] = e->heap[parent];
        i = parent;
    }
    e->heap[i] = (timer){due, slot, seq};
}

static timer heap_pop(mprobe_engine *e) {
    timer top = e->heap[0];
    timer last = e->heap[--e->heap_count];
    uint32_t i = 0, n = e->heap_count;
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && e->heap[child + 1].due_ns < e->heap[child].due_ns) child++;
        if (last.due_ns <= e->heap[child].due_ns) break;
        e->heap[i] = e->heap[child];
        i = child;
    }
    if (n > 0) e->heap[i] = last;
    return top;
}

// MARK: probes

static void close_with_reset(int fd) {
    // SO_LINGER 0: RST instead of FIN, so probes leave no TIME_WAIT sockets (as HAProxy does)
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static void schedule(mprobe_engine *e, uint32_t slot, uint64_t due) {
    target *t = &e->targets[slot];
    t->seq++;
    heap_push(e, due, slot, t->seq);
}

static void complete(mprobe_engine *e, uint32_t slot, int error, uint64_t now) {
    target *t = &e->targets[slot];
    if (grow((void **)&e->results, &e->result_capacity, sizeof(mprobe_result), e->result_count + 1) != 0) abort();
    uint64_t took = now > t->started_ns ? (now - t->started_ns) / 1000 : 0;
    e->results[e->result_count++] = (mprobe_result){t->id, error, took > UINT32_MAX ? UINT32_MAX : (uint32_t)took,
                                                    t->half_open ? MPROBE_HALF_OPEN : 0};
    t->fd = -1;
    t->syn_pending = 0;
    int64_t delay_ms = t->interval_ms;
    if (t->jitter_ms > 0) delay_ms += (int64_t)(next_random(e) % (2ull * t->jitter_ms + 1)) - t->jitter_ms;
    if (delay_ms < 50) delay_ms = 50;
    schedule(e, slot, now + (uint64_t)delay_ms * 1000000ull);
}

/// The local address the kernel sends from towards `to` (a connected UDP socket's name): the source
/// in a half-open IPv4 SYN's checksum. 0 on success, -1 with errno.
static int source_address(const struct sockaddr_storage *to, socklen_t length, struct in_addr *source) {
    struct sockaddr_in local;
    socklen_t local_length = sizeof local;
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (u < 0) return -1;
    if (connect(u, (const struct sockaddr *)to, length) != 0 || getsockname(u, (struct sockaddr *)&local, &local_length) != 0) {
        int error = errno;
        close(u);
        errno = error;
        return -1;
    }
    close(u);
    *source = local.sin_addr;
    return 0;
}

static uint32_t checksum_add(uint32_t sum, const uint8_t *p, size_t length) {
    for (size_t i = 0; i + 1 < length; i += 2) sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (length & 1) sum += (uint32_t)p[length - 1] << 8;
    return sum;
}

static uint16_t checksum_fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)~sum;
}

/// Marks a half-open probe started and queues its SYN for this turn's `send_syns`.
static void start_half_open(mprobe_engine *e, uint32_t slot, uint64_t now) {
    target *t = &e->targets[slot];
    int v6 = t->address.ss_family == AF_INET6;
    t->started_ns = now;
    t->syn_seq = slot << 12 | (uint32_t)(next_random(e) & 0xFFF);
    t->syn_pending = 1;
    schedule(e, slot, now + (uint64_t)t->timeout_ms * 1000000ull);
    if (grow((void **)&e->syn_queue[v6], &e->syn_capacity[v6], sizeof(uint32_t), e->syn_queued[v6] + 1) != 0) abort();
    e->syn_queue[v6][e->syn_queued[v6]++] = slot;
}

/// Writes the SYN for a queued target (RFC 9293 §3.1 header, no options) from the reserved port, and
/// its destination. IPv4: our checksum over the pseudo-header (RFC 9293 §3.1); IPv6: the kernel's
/// (IPV6_CHECKSUM, RFC 3542 §3.1).
static void build_syn(const mprobe_engine *e, const target *t, uint8_t syn[20], struct sockaddr_storage *to) {
    int v6 = t->address.ss_family == AF_INET6;
    uint16_t local_port = e->half_open[v6].port;
    uint16_t port = v6 ? ntohs(((const struct sockaddr_in6 *)&t->address)->sin6_port)
                       : ntohs(((const struct sockaddr_in *)&t->address)->sin_port);
    memset(syn, 0, 20);
    syn[0] = local_port >> 8; syn[1] = local_port & 0xFF;
    syn[2] = port >> 8; syn[3] = port & 0xFF;
    syn[4] = t->syn_seq >> 24; syn[5] = t->syn_seq >> 16; syn[6] = t->syn_seq >> 8; syn[7] = t->syn_seq;
    syn[12] = 5 << 4;                 // data offset: 5 words
    syn[13] = 0x02;                   // SYN
    syn[14] = 0xFF; syn[15] = 0xFF;   // window
    // the destination without a port: for raw IPv6 sockets sin6_port is the protocol (0 = the socket's)
    *to = t->address;
    if (v6) {
        ((struct sockaddr_in6 *)to)->sin6_port = 0;
        return;
    }
    struct sockaddr_in *d = (struct sockaddr_in *)to;
    d->sin_port = 0;
    uint8_t pseudo[12];
    memcpy(pseudo, &t->source4, 4);
    memcpy(pseudo + 4, &d->sin_addr, 4);
    pseudo[8] = 0; pseudo[9] = IPPROTO_TCP; pseudo[10] = 0; pseudo[11] = 20;
    uint16_t sum = checksum_fold(checksum_add(checksum_add(0, pseudo, sizeof pseudo), syn, 20));
    syn[16] = sum >> 8; syn[17] = sum & 0xFF;
}

/// Sends every queued SYN of a family with sendmmsg, in batches. A message the kernel refuses is
/// retried alone for its errno: a full queue or no memory is no verdict (-errno), anything else the
/// probe's result.
static void send_syns(mprobe_engine *e, int v6) {
    enum { BATCH = 64 };
    uint8_t packets[BATCH][20];
    struct sockaddr_storage to[BATCH];
    struct iovec iov[BATCH];
    struct mmsghdr messages[BATCH];
    uint32_t slots[BATCH];
    uint32_t queued = e->syn_queued[v6], k = 0;
    e->syn_queued[v6] = 0;
    while (k < queued) {
        unsigned n = 0;
        for (; k < queued && n < BATCH; k++) { // one cursor: a skipped entry never shifts a batch's start
            target *t = &e->targets[e->syn_queue[v6][k]];
            if (!t->used || !t->syn_pending) continue;
            build_syn(e, t, packets[n], &to[n]);
            iov[n] = (struct iovec){packets[n], 20};
            messages[n].msg_hdr = (struct msghdr){.msg_name = &to[n], .msg_namelen = t->address_length,
                                                  .msg_iov = &iov[n], .msg_iovlen = 1};
            slots[n++] = e->syn_queue[v6][k];
        }
        uint64_t sent_real = realtime_ns();
        for (unsigned i = 0; i < n;) {
            int r = sendmmsg(e->half_open[v6].raw_fd, messages + i, n - i, 0);
            if (r > 0) {
                for (int k = 0; k < r; k++) e->targets[slots[i + k]].sent_real_ns = sent_real;
                i += (unsigned)r;
                continue;
            }
            int error = errno;
            int local = error == EAGAIN || error == ENOBUFS || error == ENOMEM;
            complete(e, slots[i], local ? -error : error, monotonic_ns());
            i++;
        }
    }
}

/// Reads the replies queued on a raw socket: SYN-ACK -> up, RST -> refused, for the target whose
/// SYN they acknowledge, as of the reply's kernel receive time; anything else is ignored.
static void read_half_open_replies(mprobe_engine *e, int v6) {
    half_open_socket *h = &e->half_open[v6];
    if (h->raw_fd < 0) return;
    enum { BATCH = 32, SIZE = 128, CONTROL = 64 };
    uint8_t buffers[BATCH][SIZE];
    uint8_t control[BATCH][CONTROL] __attribute__((aligned(8)));
    struct sockaddr_storage from[BATCH];
    struct iovec iov[BATCH];
    struct mmsghdr messages[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){buffers[i], SIZE};
            messages[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i],
                                                  .msg_iov = &iov[i], .msg_iovlen = 1,
                                                  .msg_control = control[i], .msg_controllen = CONTROL};
            messages[i].msg_len = 0;
        }
        int n = recvmmsg(h->raw_fd, messages, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) return;
        for (int i = 0; i < n; i++) {
            const uint8_t *p = buffers[i];
            size_t length = messages[i].msg_len;
            if (!v6) { // IPv4 raw sockets deliver the IP header too
                if (length < 20) continue;
                size_t header = (size_t)(p[0] & 0x0F) * 4;
                if (header < 20 || length < header + 20) continue;
                p += header;
                length -= header;
            } else if (length < 20) {
                continue;
            }
            uint16_t source_port = (uint16_t)(p[0] << 8 | p[1]), destination_port = (uint16_t)(p[2] << 8 | p[3]);
            uint32_t ack = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
            uint8_t flags = p[13];
            if (destination_port != h->port || !(flags & 0x10)) continue; // ours, and acknowledging
            uint32_t syn_seq = ack - 1, slot = syn_seq >> 12;
            if (slot >= e->target_count) continue;
            target *t = &e->targets[slot];
            if (!t->used || !t->syn_pending || t->syn_seq != syn_seq || t->address.ss_family != from[i].ss_family) continue;
            if (v6) {
                const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&t->address, *b = (const struct sockaddr_in6 *)&from[i];
                if (memcmp(&a->sin6_addr, &b->sin6_addr, 16) != 0 || ntohs(a->sin6_port) != source_port) continue;
            } else {
                const struct sockaddr_in *a = (const struct sockaddr_in *)&t->address, *b = (const struct sockaddr_in *)&from[i];
                if (a->sin_addr.s_addr != b->sin_addr.s_addr || ntohs(a->sin_port) != source_port) continue;
            }
            // when it arrived, on the monotonic clock: the send time plus the kernel's measure of the wait
            uint64_t received_real = 0;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&messages[i].msg_hdr); c; c = CMSG_NXTHDR(&messages[i].msg_hdr, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(c), sizeof ts);
                    received_real = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
                }
            }
            uint64_t now = monotonic_ns(), at = now;
            if (received_real >= t->sent_real_ns && t->sent_real_ns != 0) {
                uint64_t waited = received_real - t->sent_real_ns;
                if (t->started_ns + waited < now) at = t->started_ns + waited;
            }
            if (at - t->started_ns > (uint64_t)t->timeout_ms * 1000000ull) continue; // late: the deadline decides
            if ((flags & 0x12) == 0x12) complete(e, slot, 0, at);            // SYN+ACK: listening
            else if (flags & 0x04) complete(e, slot, ECONNREFUSED, at);      // RST: refused
        }
        if (n < BATCH) return;
    }
}

/// Opens the raw socket and the port reservation for a family, once. Raw sockets need CAP_NET_RAW.
static int open_half_open(mprobe_engine *e, int family, char *err, size_t errlen) {
    half_open_socket *h = &e->half_open[family == AF_INET6];
    if (h->raw_fd >= 0) return 0;
    int hold = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage local;
    memset(&local, 0, sizeof local);
    local.ss_family = (sa_family_t)family;
    socklen_t length = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int on = 1;
    if (family == AF_INET6 && hold >= 0) setsockopt(hold, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    if (hold < 0 || bind(hold, (struct sockaddr *)&local, length) != 0 || getsockname(hold, (struct sockaddr *)&local, &length) != 0) {
        snprintf(err, errlen, "half-open: reserving a port: %s", strerror(errno));
        if (hold >= 0) close(hold);
        return -1;
    }
    uint16_t port = family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&local)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&local)->sin_port);
    int raw = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (raw < 0) {
        snprintf(err, errlen, "raw socket: %s (tcp-half-open needs CAP_NET_RAW)", strerror(errno));
        close(hold);
        return -1;
    }
    // only segments to our port: IPv4 raw sockets see the IP header first (its length from the low
    // nibble of byte 0), IPv6 ones the TCP header
    struct sock_filter v4_code[] = {
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0xFFFF),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_filter v6_code[] = {
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 2),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0xFFFF),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_fprog program = family == AF_INET6 ? (struct sock_fprog){4, v6_code} : (struct sock_fprog){5, v4_code};
    int offset = 16; // TCP checksum field
    // not in the epoll set: replies are read once per tick (HALF_OPEN_TICK_MS)
    if (setsockopt(raw, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0 ||
        setsockopt(raw, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0 ||
        (family == AF_INET6 && setsockopt(raw, IPPROTO_IPV6, IPV6_CHECKSUM, &offset, sizeof offset) != 0)) {
        snprintf(err, errlen, "half-open: raw socket set-up: %s", strerror(errno));
        close(raw);
        close(hold);
        return -1;
    }
    h->raw_fd = raw;
    h->hold_fd = hold;
    h->port = port;
    return 0;
}

static void start_probe(mprobe_engine *e, uint32_t slot, uint64_t now) {
    target *t = &e->targets[slot];
    if (t->half_open) {
        start_half_open(e, slot, now);
        return;
    }
    t->started_ns = now;
    int fd = socket(t->address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        // out of descriptors or memory here says nothing about the endpoint: no verdict (-errno)
        int error = errno;
        int local = error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
        complete(e, slot, local ? -error : error, now);
        return;
    }
    if (connect(fd, (struct sockaddr *)&t->address, t->address_length) == 0) {
        close_with_reset(fd);
        complete(e, slot, 0, monotonic_ns());
        return;
    }
    if (errno != EINPROGRESS) {
        int error = errno;
        close(fd);
        complete(e, slot, error, monotonic_ns());
        return;
    }
    t->fd = fd;
    schedule(e, slot, now + (uint64_t)t->timeout_ms * 1000000ull);
    struct epoll_event event = {.events = EPOLLOUT, .data.u64 = ((uint64_t)t->seq << 32) | slot};
    if (epoll_ctl(e->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
        int error = errno;
        close(fd);
        complete(e, slot, error, monotonic_ns());
    }
}

static void finish_connect(mprobe_engine *e, uint64_t data, uint32_t events, uint64_t now) {
    uint32_t slot = (uint32_t)data, seq = (uint32_t)(data >> 32);
    if (slot >= e->target_count) return;
    target *t = &e->targets[slot];
    if (!t->used || t->seq != seq || t->fd < 0) return; // removed or already timed out
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
    if (error == 0 && (events & (EPOLLERR | EPOLLHUP))) error = ECONNRESET;
    close_with_reset(t->fd); // closing also removes it from the epoll set
    complete(e, slot, error, now);
}

static void run_timers(mprobe_engine *e, uint64_t now) {
    while (e->heap_count > 0 && e->heap[0].due_ns <= now) {
        timer due = heap_pop(e);
        target *t = &e->targets[due.slot];
        if (!t->used || t->seq != due.seq) continue; // stale
        if (t->fd < 0 && !t->syn_pending) {
            start_probe(e, due.slot, now);
        } else {
            if (t->fd >= 0) close(t->fd);
            // a half-open IPv4 target that stopped answering may sit behind a new route or local
            // address: the next SYN's checksum takes the source the kernel would use now
            if (t->half_open && t->address.ss_family == AF_INET) source_address(&t->address, t->address_length, &t->source4);
            complete(e, due.slot, ETIMEDOUT, now);
        }
    }
}

static void *engine_main(void *argument) {
    mprobe_engine *e = argument;
    struct epoll_event events[256];
    int wait_ms = 0;
    mprobe_result *out = NULL;
    uint32_t out_capacity = 0;
    for (;;) {
        int n = epoll_wait(e->epoll_fd, events, 256, wait_ms);
        pthread_mutex_lock(&e->lock);
        if (e->stopping) {
            pthread_mutex_unlock(&e->lock);
            break;
        }
        uint64_t now = monotonic_ns();
        for (int i = 0; i < n; i++) {
            if (events[i].data.u64 == EVENT_WAKE) {
                uint64_t count;
                if (read(e->wake_fd, &count, sizeof count) < 0) { /* nothing pending */ }
                continue;
            }
            finish_connect(e, events[i].data.u64, events[i].events, now);
        }
        // half-open: replies first (a reply that came before its deadline counts), then due timers,
        // then one sendmmsg for the SYNs they started
        int half_open = e->half_open[0].raw_fd >= 0 || e->half_open[1].raw_fd >= 0;
        for (int v6 = 0; v6 < 2; v6++) read_half_open_replies(e, v6);
        run_timers(e, monotonic_ns());
        for (int v6 = 0; v6 < 2; v6++) if (e->syn_queued[v6] > 0) send_syns(e, v6);
        if (e->heap_count == 0) {
            wait_ms = half_open ? HALF_OPEN_TICK_MS : -1;
        } else {
            uint64_t now2 = monotonic_ns(), due = e->heap[0].due_ns;
            wait_ms = due <= now2 ? 0 : (int)((due - now2 + 999999) / 1000000);
            if (half_open && wait_ms < HALF_OPEN_TICK_MS) wait_ms = HALF_OPEN_TICK_MS;
        }
        // hand the results to the callback outside the lock, from the thread's own buffer
        uint32_t count = e->result_count;
        if (count > 0) {
            if (grow((void **)&out, &out_capacity, sizeof(mprobe_result), count) != 0) abort();
            memcpy(out, e->results, (size_t)count * sizeof(mprobe_result));
            e->result_count = 0;
        }
        pthread_mutex_unlock(&e->lock);
        if (count > 0) e->callback(e->context, out, count);
    }
    free(out);
    return NULL;
}

// MARK: public API

mprobe_engine *mprobe_new(mprobe_callback callback, void *context, char *err, size_t errlen) {
    mprobe_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&e->lock, NULL);
    e->callback = callback;
    e->context = context;
    e->random_state = monotonic_ns() | 1;
    for (int i = 0; i < 2; i++) e->half_open[i] = (half_open_socket){-1, -1, 0};
    e->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    e->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event wake = {.events = EPOLLIN, .data.u64 = EVENT_WAKE};
    if (e->epoll_fd < 0 || e->wake_fd < 0 || epoll_ctl(e->epoll_fd, EPOLL_CTL_ADD, e->wake_fd, &wake) != 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        if (e->epoll_fd >= 0) close(e->epoll_fd);
        if (e->wake_fd >= 0) close(e->wake_fd);
        free(e);
        return NULL;
    }
    int rc = pthread_create(&e->thread, NULL, engine_main, e);
    if (rc != 0) {
        snprintf(err, errlen, "thread: %s", strerror(rc));
        close(e->epoll_fd);
        close(e->wake_fd);
        free(e);
        return NULL;
    }
    return e;
}

static void wake(mprobe_engine *e) {
    uint64_t one = 1;
    if (write(e->wake_fd, &one, sizeof one) < 0) { /* already signalled */ }
}

int64_t mprobe_add(mprobe_engine *e, uint64_t id, const char *address, uint16_t port, int half_open,
                   uint32_t interval_ms, uint32_t timeout_ms, uint32_t jitter_ms, uint32_t first_delay_ms,
                   char *err, size_t errlen) {
    struct sockaddr_storage storage;
    socklen_t length;
    memset(&storage, 0, sizeof storage);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&storage;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&storage;
    if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        length = sizeof *v4;
    } else if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        length = sizeof *v6;
    } else {
        snprintf(err, errlen, "'%s' is not an IP address", address);
        return -1;
    }
    struct in_addr source4 = {0};
    if (half_open && storage.ss_family == AF_INET && source_address(&storage, length, &source4) != 0) {
        snprintf(err, errlen, "no route to %s: %s", address, strerror(errno));
        return -1;
    }
    pthread_mutex_lock(&e->lock);
    if (half_open && open_half_open(e, storage.ss_family, err, errlen) != 0) {
        pthread_mutex_unlock(&e->lock);
        return -1;
    }
    if (half_open && e->free_count == 0 && e->target_count >= HALF_OPEN_MAX_SLOTS) {
        pthread_mutex_unlock(&e->lock);
        snprintf(err, errlen, "more than %u probed endpoints", HALF_OPEN_MAX_SLOTS);
        return -1;
    }
    uint32_t slot;
    if (e->free_count > 0) {
        slot = e->free_slots[--e->free_count];
    } else {
        if (grow((void **)&e->targets, &e->target_capacity, sizeof(target), e->target_count + 1) != 0) abort();
        slot = e->target_count++;
        e->targets[slot].seq = 0;
    }
    target *t = &e->targets[slot];
    uint32_t seq = t->seq;
    *t = (target){.id = id, .address = storage, .address_length = length, .source4 = source4,
                  .interval_ms = interval_ms, .timeout_ms = timeout_ms, .jitter_ms = jitter_ms, .seq = seq,
                  .used = 1, .fd = -1, .half_open = half_open != 0};
    schedule(e, slot, monotonic_ns() + (uint64_t)first_delay_ms * 1000000ull);
    pthread_mutex_unlock(&e->lock);
    wake(e);
    return slot;
}

void mprobe_remove(mprobe_engine *e, int64_t handle) {
    pthread_mutex_lock(&e->lock);
    if (handle >= 0 && (uint64_t)handle < e->target_count && e->targets[handle].used) {
        target *t = &e->targets[handle];
        if (t->fd >= 0) close(t->fd);
        t->fd = -1;
        t->syn_pending = 0;
        t->used = 0;
        t->seq++;
        if (grow((void **)&e->free_slots, &e->free_capacity, sizeof(uint32_t), e->free_count + 1) != 0) abort();
        e->free_slots[e->free_count++] = (uint32_t)handle;
    }
    pthread_mutex_unlock(&e->lock);
}

void mprobe_free(mprobe_engine *e) {
    if (!e) return;
    pthread_mutex_lock(&e->lock);
    e->stopping = 1;
    pthread_mutex_unlock(&e->lock);
    wake(e);
    pthread_join(e->thread, NULL);
    for (uint32_t i = 0; i < e->target_count; i++) {
        if (e->targets[i].used && e->targets[i].fd >= 0) close(e->targets[i].fd);
    }
    for (int i = 0; i < 2; i++) {
        if (e->half_open[i].raw_fd >= 0) close(e->half_open[i].raw_fd);
        if (e->half_open[i].hold_fd >= 0) close(e->half_open[i].hold_fd);
    }
    close(e->epoll_fd);
    close(e->wake_fd);
    free(e->targets);
    free(e->free_slots);
    free(e->heap);
    free(e->results);
    free(e->syn_queue[0]);
    free(e->syn_queue[1]);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

int mprobe_half_open_permitted(void) {
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) return errno;
    close(fd);
    return 0;
}
