import CSocket

/// Hands heap memory freed after loading back to the kernel (glibc `malloc_trim`): loading builds
/// large temporary tables, and without this the process keeps their pages resident.
public func releaseFreedMemory() { msock_release_free_memory() }
