// libFuzzer's documented entry point for programs that own main() (LLVM >= 12, "Using libFuzzer as
// a library"). SwiftPM on Linux links every executable with `--defsym main=<Target>_main`, which
// replaces libFuzzer's own main(); the fuzz targets define <Target>_main and hand over to this.
#ifndef MERIDIAN_CFUZZERDRIVER_H
#define MERIDIAN_CFUZZERDRIVER_H
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
