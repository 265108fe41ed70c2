// libmaxminddb (Debian libmaxminddb-dev), wrapped once: only Sources/Geo imports this module.
// Small helpers read one field by path with MMDB_aget_value (never the allocating varargs
// MMDB_get_value); they run at load time, never on the query path.
#include <stdlib.h>
#include <string.h>
#include <maxminddb.h>

static inline int meridian_mmdb_string(MMDB_entry_s entry, const char *a, const char *b, const char *c,
                                       char *out, size_t cap) {
    const char *path[4] = {a, b, c, NULL};
    MMDB_entry_data_s data;
    if (MMDB_aget_value(&entry, &data, path) != MMDB_SUCCESS || !data.has_data ||
        data.type != MMDB_DATA_TYPE_UTF8_STRING || cap == 0) return 0;
    size_t n = data.data_size < cap - 1 ? data.data_size : cap - 1;
    memcpy(out, data.utf8_string, n);
    out[n] = 0;
    return 1;
}

static inline int meridian_mmdb_double(MMDB_entry_s entry, const char *a, const char *b, double *out) {
    const char *path[3] = {a, b, NULL};
    MMDB_entry_data_s data;
    if (MMDB_aget_value(&entry, &data, path) != MMDB_SUCCESS || !data.has_data) return 0;
    if (data.type == MMDB_DATA_TYPE_DOUBLE) { *out = data.double_value; return 1; }
    if (data.type == MMDB_DATA_TYPE_FLOAT) { *out = data.float_value; return 1; }
    return 0;
}

static inline MMDB_s *meridian_mmdb_open(const char *path, int *status) {
    MMDB_s *mmdb = calloc(1, sizeof *mmdb);
    if (!mmdb) { *status = MMDB_OUT_OF_MEMORY_ERROR; return NULL; }
    *status = MMDB_open(path, MMDB_MODE_MMAP, mmdb);
    if (*status != MMDB_SUCCESS) { free(mmdb); return NULL; }
    return mmdb;
}

static inline void meridian_mmdb_close(MMDB_s *mmdb) {
    if (mmdb) { MMDB_close(mmdb); free(mmdb); }
}

static inline int meridian_mmdb_ip_version(const MMDB_s *mmdb) { return (int)mmdb->metadata.ip_version; }
static inline uint32_t meridian_mmdb_node_count(const MMDB_s *mmdb) { return mmdb->metadata.node_count; }
static inline uint32_t meridian_mmdb_data_section_size(const MMDB_s *mmdb) { return mmdb->data_section_size; }
static inline const char *meridian_mmdb_type(const MMDB_s *mmdb) { return mmdb->metadata.database_type; }
static inline uint64_t meridian_mmdb_build_epoch(const MMDB_s *mmdb) { return mmdb->metadata.build_epoch; }
