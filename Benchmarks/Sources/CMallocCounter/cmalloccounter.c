/* Allocation counter for Benchmarks/Sources/AllocationGate: see include/cmalloccounter.h. */
#define _GNU_SOURCE
#include "cmalloccounter.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef void *(*malloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void (*free_fn)(void *);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
typedef void *(*aligned_alloc_fn)(size_t, size_t);
typedef void *(*memalign_fn)(size_t, size_t);

static malloc_fn real_malloc;
static calloc_fn real_calloc;
static realloc_fn real_realloc;
static free_fn real_free;
static posix_memalign_fn real_posix_memalign;
static aligned_alloc_fn real_aligned_alloc;
static memalign_fn real_memalign;

static _Atomic uint64_t counted;
static _Atomic uint64_t counted_frees;
static _Atomic uint64_t counted_bytes;
static _Atomic int trap_requested;
static __thread int counting;           /* this thread's switch */
static __thread int resolving;          /* inside dlsym on this thread */

/* dlsym may itself call malloc/calloc (dlerror state) before the real functions are known: serve those
 * few requests from a static buffer that is never freed. */
static _Alignas(64) unsigned char bootstrap[16384];
static _Atomic size_t bootstrap_used;

static int in_bootstrap(const void *p) {
    return (const unsigned char *)p >= bootstrap && (const unsigned char *)p < bootstrap + sizeof bootstrap;
}

static void *bootstrap_alloc(size_t size, size_t align) {
    if (align < 16) align = 16;
    size_t old = atomic_load(&bootstrap_used);
    for (;;) {
        size_t start = (old + align - 1) & ~(align - 1);
        if (start + size > sizeof bootstrap || start + size < start) return NULL;
        if (atomic_compare_exchange_weak(&bootstrap_used, &old, start + size)) {
            memset(bootstrap + start, 0, size);
            return bootstrap + start;
        }
    }
}

static void resolve(void) {
    if (real_free && real_malloc) return;
    resolving = 1;
    real_malloc = (malloc_fn)dlsym(RTLD_NEXT, "malloc");
    real_calloc = (calloc_fn)dlsym(RTLD_NEXT, "calloc");
    real_realloc = (realloc_fn)dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = (posix_memalign_fn)dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = (aligned_alloc_fn)dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = (memalign_fn)dlsym(RTLD_NEXT, "memalign");
    real_free = (free_fn)dlsym(RTLD_NEXT, "free");
    resolving = 0;
}

__attribute__((constructor)) static void malloc_counter_init(void) { resolve(); }

static void count(size_t bytes) {
    if (!counting) return;
    atomic_fetch_add_explicit(&counted, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&counted_bytes, bytes, memory_order_relaxed);
    if (atomic_load_explicit(&trap_requested, memory_order_relaxed)) raise(SIGTRAP);
}

void *malloc(size_t size) {
    if (!real_malloc) {
        if (resolving) return bootstrap_alloc(size, 16);
        resolve();
        if (!real_malloc) return bootstrap_alloc(size, 16);
    }
    count(size);
    return real_malloc(size);
}

void *calloc(size_t n, size_t size) {
    if (!real_calloc) {
        if (size && n > (size_t)-1 / size) return NULL;
        if (resolving) return bootstrap_alloc(n * size, 16);
        resolve();
        if (!real_calloc) return bootstrap_alloc(n * size, 16);
    }
    count(n * size);
    return real_calloc(n, size);
}

void *realloc(void *p, size_t size) {
    if (!real_realloc) resolve();
    if (p && in_bootstrap(p)) {
        /* size of the old block unknown: copy what can be there */
        void *q = malloc(size);
        if (q) {
            size_t avail = (size_t)(bootstrap + sizeof bootstrap - (unsigned char *)p);
            memcpy(q, p, size < avail ? size : avail);
        }
        return q;
    }
    if (!real_realloc) return NULL;
    if (size) count(size); /* realloc(p, 0) frees */
    return real_realloc(p, size);
}

void free(void *p) {
    if (!p || in_bootstrap(p)) return;
    if (!real_free) resolve();
    if (counting) atomic_fetch_add_explicit(&counted_frees, 1, memory_order_relaxed);
    if (real_free) real_free(p);
}

int posix_memalign(void **out, size_t align, size_t size) {
    if (!real_posix_memalign) {
        if (!resolving) resolve();
        if (!real_posix_memalign) {
            void *p = bootstrap_alloc(size, align);
            if (!p) return ENOMEM;
            *out = p;
            return 0;
        }
    }
    count(size);
    return real_posix_memalign(out, align, size);
}

void *aligned_alloc(size_t align, size_t size) {
    if (!real_aligned_alloc) {
        if (!resolving) resolve();
        if (!real_aligned_alloc) return bootstrap_alloc(size, align);
    }
    count(size);
    return real_aligned_alloc(align, size);
}

void *memalign(size_t align, size_t size) {
    if (!real_memalign) {
        if (!resolving) resolve();
        if (!real_memalign) return bootstrap_alloc(size, align);
    }
    count(size);
    return real_memalign(align, size);
}

void malloc_counter_start(void) {
    resolve();
    atomic_store(&counted, 0);
    atomic_store(&counted_frees, 0);
    atomic_store(&counted_bytes, 0);
    counting = 1;
}

uint64_t malloc_counter_stop(void) {
    counting = 0;
    return atomic_load(&counted);
}

uint64_t malloc_counter_frees(void) { return atomic_load(&counted_frees); }
uint64_t malloc_counter_bytes(void) { return atomic_load(&counted_bytes); }
void malloc_counter_set_trap(int on) { atomic_store(&trap_requested, on != 0); }
int malloc_counter_ready(void) { return real_malloc && real_free && real_calloc && real_realloc; }
