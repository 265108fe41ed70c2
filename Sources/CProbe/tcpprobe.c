// TCP connect probes: see include/tcpprobe.h. Invariants, enforced below:
// - every field of the engine is touched only with `lock` held; the engine thread copies a turn's
//   results out and runs the callback without the lock (so the callback may call mprobe_add/remove);
// - a target has at most one socket in flight (`fd`), and exactly one live timer: its next probe
//   (fd < 0) or its deadline (fd >= 0). Timers and epoll registrations carry the target's `seq`, which
//   changes on every reschedule and on removal, so stale ones are recognised and ignored.
#define _GNU_SOURCE
#include "tcpprobe.h"

#include <arpa/inet.h>
#include <errno.h>
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
    uint32_t interval_ms, timeout_ms, jitter_ms;
    uint32_t seq;
    int used;
    int fd;
    uint64_t started_ns;
} target;

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
};

static uint64_t monotonic_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
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
    e->results[e->result_count++] = (mprobe_result){t->id, error, took > UINT32_MAX ? UINT32_MAX : (uint32_t)took};
    t->fd = -1;
    int64_t delay_ms = t->interval_ms;
    if (t->jitter_ms > 0) delay_ms += (int64_t)(next_random(e) % (2ull * t->jitter_ms + 1)) - t->jitter_ms;
    if (delay_ms < 50) delay_ms = 50;
    schedule(e, slot, now + (uint64_t)delay_ms * 1000000ull);
}

static void start_probe(mprobe_engine *e, uint32_t slot, uint64_t now) {
    target *t = &e->targets[slot];
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
        if (t->fd < 0) {
            start_probe(e, due.slot, now);
        } else {
            close(t->fd);
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
            if (events[i].data.u64 == UINT64_MAX) {
                uint64_t count;
                if (read(e->wake_fd, &count, sizeof count) < 0) { /* nothing pending */ }
                continue;
            }
            finish_connect(e, events[i].data.u64, events[i].events, now);
        }
        run_timers(e, monotonic_ns());
        if (e->heap_count == 0) {
            wait_ms = -1;
        } else {
            uint64_t now2 = monotonic_ns(), due = e->heap[0].due_ns;
            wait_ms = due <= now2 ? 0 : (int)((due - now2 + 999999) / 1000000);
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
    e->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    e->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event wake = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
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

int64_t mprobe_add(mprobe_engine *e, uint64_t id, const char *address, uint16_t port, uint32_t interval_ms,
                   uint32_t timeout_ms, uint32_t jitter_ms, uint32_t first_delay_ms, char *err, size_t errlen) {
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
    pthread_mutex_lock(&e->lock);
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
    *t = (target){.id = id, .address = storage, .address_length = length, .interval_ms = interval_ms,
                  .timeout_ms = timeout_ms, .jitter_ms = jitter_ms, .seq = seq, .used = 1, .fd = -1};
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
    close(e->epoll_fd);
    close(e->wake_fd);
    free(e->targets);
    free(e->free_slots);
    free(e->heap);
    free(e->results);
    pthread_mutex_destroy(&e->lock);
    free(e);
}
