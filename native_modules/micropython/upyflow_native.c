// MicroPython dynamic native module (natmod) binding of the native kernel
// tier, the core of the split natmods: the op-table walker and the check interpreter;
// the kernels come in one module per family (upyflow_family.c), each registered here
// by the runtime (device_lib/upyflow/dispatch.py) when a model needs one of its kernels:
//   kernel_index(name)    the kernel's index in the table, or -1 (also while its family
//                         is not registered)
//   kernel_family(name)   the family (module upyflow_native_<family>) of a native
//                         kernel, or None
//   register(table)       register a family: table is its module's table()
//   program(tensors, ops, formats, kernel_map, arena, weights, wbuf[, read])
//                         a Program holding the model's buffers (weights or wbuf None);
//                         calling it, program(), runs every op, first calling
//                         read(offset, n) for each record that reads weights (file
//                         mode; read None otherwise)
//   run(program, pos, n)  run n ops (n < 0: to the end) from byte offset pos of ops
//   check(program, pos, n) validate those ops as run() would, running no kernel
// The kernels' own checks run once per Program (its first check of every op, run or
// call; walker.c uf_prepare) when the tables are read-only (bytes).
//   call(index, args)     run one kernel directly: args a list or tuple in its table
//                         signature's order (device code outside a model, e.g.
//                         upyflow.image; a list lets the caller swap a buffer in place)
// A malformed record raises ValueError naming the op's kernel.
#include "py/dynruntime.h"

#include "kernels.h"

#define N_BUFS 7
#define N_ARGS 8   // the buffers, then read

typedef struct {
    mp_obj_base_t base;
    uf_model m;
    mp_obj_t keep[N_ARGS];   // the buffers' objects and read, kept alive with the program
} program_obj_t;

// Natmods cannot have initialised data: set up in mpy_init.
mp_obj_full_type_t program_type;

static size_t put(char *msg, size_t n, size_t cap, const char *s) {
    while (*s && n < cap) {
        msg[n++] = *s++;
    }
    return n;
}

// ValueError("<kernel> (op record at byte <pos>): <reason>") without printf.
static MP_NORETURN void raise_op_error(const uf_model *m, size_t pos, int err) {
    char msg[160], digits[24];
    const char *name = uf_op_kernel_name(m, pos);
    size_t n = put(msg, 0, sizeof(msg), name ? name : "op");
    n = put(msg, n, sizeof(msg), " (op record at byte ");
    int d = sizeof(digits) - 1;
    digits[d] = 0;
    do {
        digits[--d] = (char)('0' + pos % 10);
        pos /= 10;
    } while (pos && d > 0);
    n = put(msg, n, sizeof(msg), digits + d);
    n = put(msg, n, sizeof(msg), "): ");
    n = put(msg, n, sizeof(msg), uf_error_text(err));
    mp_raise_type_arg(&mp_type_ValueError, mp_obj_new_str(msg, n));
    for (;;) {
    }
}

// uf_model's read: read(offset, n) in Python; an exception propagates from here.
static int read_weights(void *ctx, uint32_t offset, uint32_t n) {
    mp_obj_t args[2] = {mp_obj_new_int_from_uint(offset), mp_obj_new_int_from_uint(n)};
    mp_call_function_n_kw(MP_OBJ_FROM_PTR(ctx), 2, 0, args);
    return 0;
}

static mp_obj_t program(size_t n_args, const mp_obj_t *args) {
    program_obj_t *self = mp_obj_malloc(program_obj_t, (const mp_obj_type_t *)&program_type);
    const uint8_t *ptr[N_ARGS - 1];
    size_t len[N_ARGS - 1];
    unsigned fixed = 0;   // the read-only buffers (bytes): nothing can change them
    for (int k = 0; k < N_ARGS; k++) {
        self->keep[k] = k < (int)n_args ? args[k] : mp_const_none;
    }
    for (int k = 0; k < N_ARGS - 1; k++) {
        ptr[k] = NULL;
        len[k] = 0;
        if (self->keep[k] != mp_const_none || k < 5) {   // weights, wbuf may be None
            mp_buffer_info_t bi;
            int writable = k == 4 || k == 6;
            if (!writable && !mp_get_buffer(self->keep[k], &bi, MP_BUFFER_WRITE)) {
                fixed |= 1u << k;
            }
            mp_get_buffer_raise(self->keep[k], &bi, writable ? MP_BUFFER_WRITE : MP_BUFFER_READ);
            ptr[k] = bi.buf;
            len[k] = bi.len;
        }
    }
    uf_model *m = &self->m;
    uf_model_set(m, ptr, len, fixed);
    if (self->keep[7] != mp_const_none) {
        m->read = read_weights;
        m->read_ctx = MP_OBJ_TO_PTR(self->keep[7]);
    }
    return MP_OBJ_FROM_PTR(self);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(program_obj, N_BUFS, N_ARGS, program);

static mp_obj_t walk(mp_obj_t prog, mp_obj_t pos_in, mp_obj_t n_in, int run) {
    if (mp_obj_get_type(prog) != (const mp_obj_type_t *)&program_type) {
        mp_raise_TypeError("expected a Program");
    }
    uf_model *m = &((program_obj_t *)MP_OBJ_TO_PTR(prog))->m;
    mp_int_t start = mp_obj_get_int(pos_in), n = mp_obj_get_int(n_in);
    if (start < 0 || n < -1 || n > 0x7FFFFFFF) {
        mp_raise_ValueError("pos must be >= 0 and n in -1..2**31-1");
    }
    size_t pos = (size_t)start;
    int err = run ? uf_run(m, &pos, (int)n) : uf_check(m, &pos, (int)n);
    if (err) {
        raise_op_error(m, pos, err);
    }
    return mp_const_none;
}

// program(): every op, as run(program, 0, -1); Model makes it its invoke.
static mp_obj_t program_call(mp_obj_t self_in, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    if (n_args || n_kw) {
        mp_raise_TypeError("a Program takes no arguments");
    }
    uf_model *m = &((program_obj_t *)MP_OBJ_TO_PTR(self_in))->m;
    size_t pos = 0;
    int err = uf_invoke(m, &pos);
    if (err) {
        raise_op_error(m, pos, err);
    }
    return mp_const_none;
}

static mp_obj_t run_ops(mp_obj_t prog, mp_obj_t pos, mp_obj_t n) {
    return walk(prog, pos, n, 1);
}
static MP_DEFINE_CONST_FUN_OBJ_3(run_obj, run_ops);

static mp_obj_t check_ops(mp_obj_t prog, mp_obj_t pos, mp_obj_t n) {
    return walk(prog, pos, n, 0);
}
static MP_DEFINE_CONST_FUN_OBJ_3(check_obj, check_ops);

static mp_obj_t kernel_index(mp_obj_t name) {
    size_t len;
    const char *s = mp_obj_str_get_data(name, &len);
    return mp_obj_new_int(uf_kernel_index(s, len));
}
static MP_DEFINE_CONST_FUN_OBJ_1(kernel_index_obj, kernel_index);

static mp_obj_t call_kernel(mp_obj_t index_in, mp_obj_t args_in) {
    mp_int_t index = mp_obj_get_int(index_in);
    if (index < 0 || index >= UF_N_KERNELS || UF_KERNEL(index) == NULL) {
        mp_raise_ValueError("no such kernel index");
    }
    const uf_kernel_def *k = UF_KERNEL(index);
    size_t n;
    mp_obj_t *items;
    mp_obj_get_array(args_in, &n, &items);
    size_t want = 0;
    while (k->sig[want]) {
        want++;
    }
    if (n != want) {
        mp_raise_TypeError("call: wrong number of arguments for the kernel");
    }
    uf_call c;
    int nt = 0, ni = 0, nf = 0;
    for (size_t a = 0; a < n; a++) {
        char kind = k->sig[a];
        if (kind == 'r' || kind == 'w') {
            mp_buffer_info_t bi;
            mp_get_buffer_raise(items[a], &bi, kind == 'w' ? MP_BUFFER_WRITE : MP_BUFFER_READ);
            c.t[nt] = bi.buf;
            c.len[nt++] = bi.len;
        } else if (kind == 'i') {
            c.i[ni++] = (int32_t)mp_obj_get_int(items[a]);
        } else {
            c.f[nf++] = mp_obj_get_float_to_f(items[a]);
        }
    }
    int err = uf_table_run(k, &c, UF_ALL);
    if (err) {
        // ValueError("<kernel>: <reason>")
        char msg[120];
        size_t len = put(msg, 0, sizeof(msg), k->name);
        len = put(msg, len, sizeof(msg), ": ");
        len = put(msg, len, sizeof(msg), uf_error_text(err));
        mp_raise_type_arg(&mp_type_ValueError, mp_obj_new_str(msg, len));
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(call_obj, call_kernel);

// What a family module's table() returns (upyflow_family.c builds the same struct).
typedef struct {
    uint32_t magic, build;
    const uf_family *table;
} family_ref;

static mp_obj_t register_family(mp_obj_t ref_in) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(ref_in, &bi, MP_BUFFER_READ);
    family_ref ref;
    if (bi.len != sizeof(ref)) {
        mp_raise_ValueError("register: not a kernel family's table()");
    }
    for (size_t i = 0; i < sizeof(ref); i++) {   // no memcpy in a natmod; any alignment
        ((uint8_t *)&ref)[i] = ((const uint8_t *)bi.buf)[i];
    }
    if (ref.magic != UF_FAMILY_MAGIC || ref.table == NULL || ref.table->magic != UF_FAMILY_MAGIC) {
        mp_raise_ValueError("register: not a kernel family's table()");
    }
    if (ref.build != UF_BUILD || ref.table->build != UF_BUILD) {
        mp_raise_ValueError("a kernel family module (upyflow_native_*.mpy) from another build than "
                            "upyflow_native.mpy: copy them from one upyflow (upyflow deploy)");
    }
    for (uint32_t i = 0; i < ref.table->n; i++) {
        unsigned k = ref.table->index[i];
        if (k < UF_N_KERNELS) {
            uf_slots[k] = &ref.table->kernels[i];
        }
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(register_obj, register_family);

static mp_obj_t kernel_family(mp_obj_t name) {
    size_t len;
    const char *s = mp_obj_str_get_data(name, &len);
    const char *p = uf_kernel_names;
    for (int k = 0; k < UF_N_KERNELS; k++) {
        size_t i = 0;
        while (i < len && p[i] && p[i] == s[i]) {
            i++;
        }
        if (i == len && p[i] == 0) {
            const char *f = uf_packed_at(uf_family_names, uf_kernel_families[k]);
            size_t n = 0;
            while (f[n]) {
                n++;
            }
            return mp_obj_new_str(f, n);
        }
        p = uf_packed_at(p, 1);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(kernel_family_obj, kernel_family);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY

    program_type.base.type = (void *)&mp_type_type;
    program_type.flags = MP_TYPE_FLAG_NONE;
    program_type.name = MP_QSTR_Program;
    MP_OBJ_TYPE_SET_SLOT(&program_type, call, program_call, 0);

    mp_store_global(MP_QSTR_program, MP_OBJ_FROM_PTR(&program_obj));
    mp_store_global(MP_QSTR_run, MP_OBJ_FROM_PTR(&run_obj));
    mp_store_global(MP_QSTR_check, MP_OBJ_FROM_PTR(&check_obj));
    mp_store_global(MP_QSTR_kernel_index, MP_OBJ_FROM_PTR(&kernel_index_obj));
    mp_store_global(MP_QSTR_call, MP_OBJ_FROM_PTR(&call_obj));
    mp_store_global(MP_QSTR_register, MP_OBJ_FROM_PTR(&register_obj));
    mp_store_global(MP_QSTR_kernel_family, MP_OBJ_FROM_PTR(&kernel_family_obj));

    MP_DYNRUNTIME_INIT_EXIT
}
