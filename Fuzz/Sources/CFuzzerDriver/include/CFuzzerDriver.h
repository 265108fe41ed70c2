// libFuzzer's documented entry point for programs that own main() (LLVM >= 12, "Using libFuzzer as
// a library"). SwiftPM on Linux links every executable with `--defsym main=<Target>_main`, which
// replaces libFuzzer's own main(); the fuzz targets define <Target>_main and hand over to this
// (through FuzzSupport's runFuzzer).
#ifndef MERIDIAN_CFUZZERDRIVER_H
#define MERIDIAN_CFUZZERDRIVER_H
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

/* Defined once, in Sources/FuzzSupport (@_cdecl("LLVMFuzzerTestOneInput")), for every target. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What every target's <Target>_main does: run libFuzzer on the target's LLVMFuzzerTestOneInput with
   the process's own command line (flags, corpus directories, files). */
static inline int meridian_fuzzer_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}

#endif
