// STAND-IN declarations of the walker API (/work/notes/walker_api.md), force-included
// (-include) only while native_modules/src/walker.c is absent; the real ones are
// appended to kernels.h with walker.c. Drop this file and walker_standin.c then.
#if !defined(UF_WALKER_STANDIN_H) && !defined(__ASSEMBLER__)
#define UF_WALKER_STANDIN_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *tensors;    size_t tensors_len;
    const uint8_t *ops;        size_t ops_len;
    const uint8_t *formats;    size_t formats_len;
    const uint8_t *kernel_map; size_t kernel_map_len;
    uint8_t *arena;            size_t arena_len;
    const uint8_t *weights;    size_t weights_len;
    uint8_t *wbuf;             size_t wbuf_len;
} uf_model;

int uf_kernel_index(const char *name, size_t len);
int uf_run(const uf_model *m, size_t *pos, int n_ops);
#endif
