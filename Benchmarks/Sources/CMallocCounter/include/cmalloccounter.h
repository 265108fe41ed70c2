#ifndef CMALLOCCOUNTER_H
#define CMALLOCCOUNTER_H
/* Counts heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) made by
 * the calling thread between malloc_counter_start() and malloc_counter_stop(). The allocator functions
 * are interposed in the executable that links this target and forward to the C library's through
 * dlsym(RTLD_NEXT, ...). Other threads' allocations are not counted (a per-thread switch), so the
 * runtime's background threads cannot make the gate flaky.
 *
 * For investigation: after malloc_counter_set_trap(1) every counted allocation raises SIGTRAP (run
 * under gdb: `bt` shows the allocating Swift frame). */
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Resets the count and starts counting the calling thread's allocations. */
void malloc_counter_start(void);
/* Stops counting; returns the number of allocations since malloc_counter_start(). */
uint64_t malloc_counter_stop(void);
/* Frees seen while counting (informational). */
uint64_t malloc_counter_frees(void);
/* Bytes requested by the counted allocations. */
uint64_t malloc_counter_bytes(void);
/* 1: raise SIGTRAP on every counted allocation (for gdb); 0: just count. */
void malloc_counter_set_trap(int on);
/* 1 when the real allocator functions were found (dlsym worked). */
int malloc_counter_ready(void);

#ifdef __cplusplus
}
#endif
#endif
