// The bare-metal ISA harness's contract with the host (host_tools/upyflow_tools/isa):
// the host writes one uf_isa_desc at UF_DESC_ADDR (fixed per target, given by the
// build with -DUF_DESC_ADDR=...) before starting the core at its reset entry; the
// harness runs the model once and writes status/pos/done back into it.
#ifndef UF_HARNESS_H
#define UF_HARNESS_H

#include <stdint.h>

#define UF_ISA_MAGIC 0x53494655u   // "UFIS" little-endian
#define UF_ISA_UNKNOWN_KERNEL (-100) // stopped at an op whose kernel this build lacks
#define UF_ISA_BAD_DESC (-101)       // magic or a length out of range

// Every field is a 32-bit word: the targets are 32-bit and the host packs "<I" each.
typedef struct {
    uint32_t magic;
    uint32_t tensors, tensors_len;   // TENSORS
    uint32_t ops, ops_len;           // OPS
    uint32_t formats, formats_len;   // per OP_FORMATS: [n_tensors][n_params][kinds 'i'/'f'...]
    uint32_t names, names_len;       // OP_KERNELS: per name [len u8][bytes]
    uint32_t n_kernels;              // number of OP_KERNELS names
    uint32_t arena, arena_len;
    uint32_t weights, weights_len;   // inline WEIGHTS, any alignment
    uint32_t wbuf, wbuf_len;         // file-mode weight buffer (0/0 here)
    uint32_t start;                  // byte offset in OPS of the first op to run
    uint32_t n_ops;                  // ops to run (0xFFFFFFFF: all)
    // written by the target
    int32_t status;                  // uf_run's result, or UF_ISA_* above
    uint32_t pos;                    // byte offset in OPS where the run stopped
    uint32_t done;                   // 1 once main finished
} uf_isa_desc;

#endif
