// MicroPython dynamic native module (natmod) of one kernel family, upyflow_native_<family>
// (native_modules/src/<family>.c, its part of table.c compiled with UF_FAMILY; Makefile):
//   table()   bytes naming the family's table (uf_family, kernels.h) for the core
//             module's register(), which checks that both come from one build
// The runtime imports it when a model needs one of its kernels (device_lib/upyflow/dispatch.py).
#include "py/dynruntime.h"

#include "kernels.h"

extern const uf_family uf_family_table;

// The layout upyflow_native.c's register() reads.
typedef struct {
    uint32_t magic, build;
    const uf_family *table;
} family_ref;

static mp_obj_t table(void) {
    family_ref ref;
    ref.magic = UF_FAMILY_MAGIC;
    ref.build = UF_BUILD;
    ref.table = &uf_family_table;
    return mp_obj_new_bytes((const byte *)&ref, sizeof(ref));
}
static MP_DEFINE_CONST_FUN_OBJ_0(table_obj, table);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY

    mp_store_global(MP_QSTR_table, MP_OBJ_FROM_PTR(&table_obj));

    MP_DYNRUNTIME_INIT_EXIT
}
