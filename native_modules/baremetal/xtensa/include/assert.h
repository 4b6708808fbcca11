// Freestanding stand-ins for the few libc headers MicroPython's py/*.h include
// (Debian's clang has no Xtensa libc headers). Declarations only.
#define assert(x) ((void)0)
