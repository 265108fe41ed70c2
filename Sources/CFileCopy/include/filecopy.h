#ifndef MERIDIAN_FILECOPY_H
#define MERIDIAN_FILECOPY_H

/// Copies the regular file at `path` into a new anonymous memory file (memfd) and seals it against
/// shrinking, growing and writing (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL): a
/// mapping of the copy can never fault on a page past its end, whatever happens to the file on disk.
/// Returns the copy's descriptor (close-on-exec; "/proc/self/fd/N" opens it by name), or -errno:
/// EISDIR / ENODEV for a directory or device, EFBIG beyond `max_size` octets.
int meridian_sealed_copy(const char *path, long long max_size);

#endif
