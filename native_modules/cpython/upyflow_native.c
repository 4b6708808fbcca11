// CPython binding of the native kernel tier: module upyflow_native with the
// op-table walker (Program, run, check, kernel_index), KERNELS and one callable per kernel, fn(args) with args = (tensor byte
// memoryviews..., int and float params) in the pure kernel's order. Every
// callable shares one dispatcher; its self is the kernel's index in uf_kernels.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "kernels.h"

static PyObject *dispatch(PyObject *self, PyObject *args) {
    const uf_kernel_def *k = &uf_kernels[PyLong_AsLong(self)];
    if (!PyTuple_Check(args)) {
        return PyErr_Format(PyExc_TypeError, "%s takes one tuple of arguments", k->name);
    }
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n != (Py_ssize_t)strlen(k->sig)) {
        return PyErr_Format(PyExc_TypeError, "%s takes %d arguments in its tuple, got %zd",
                            k->name, (int)strlen(k->sig), n);
    }
    Py_buffer views[UF_MAX_TENSORS];
    int nt = 0, ni = 0, nf = 0, err = UF_OK;
    uf_call c;
    for (Py_ssize_t a = 0; a < n; a++) {
        PyObject *item = PyTuple_GET_ITEM(args, a);
        char kind = k->sig[a];
        if (kind == 'r' || kind == 'w') {
            if (PyObject_GetBuffer(item, &views[nt], kind == 'w' ? PyBUF_WRITABLE : PyBUF_SIMPLE) < 0) {
                goto fail;
            }
            c.t[nt] = views[nt].buf;
            c.len[nt] = (size_t)views[nt].len;
            nt++;
        } else if (kind == 'i') {
            long v = PyLong_AsLong(item);
            if (v == -1 && PyErr_Occurred()) {
                goto fail;
            }
            if (v < -2147483647L - 1 || v > 2147483647L) {
                PyErr_Format(PyExc_OverflowError, "%s: argument %zd does not fit int32", k->name, a);
                goto fail;
            }
            c.i[ni++] = (int32_t)v;
        } else {
            double v = PyFloat_AsDouble(item);
            if (v == -1.0 && PyErr_Occurred()) {
                goto fail;
            }
            c.f[nf++] = (float)v;
        }
    }
    // The buffers stay exported (so cannot be resized) while other threads run.
    Py_BEGIN_ALLOW_THREADS
    err = uf_table_run(k, &c, UF_ALL);
    Py_END_ALLOW_THREADS
    while (nt > 0) {
        PyBuffer_Release(&views[--nt]);
    }
    if (err) {
        return PyErr_Format(PyExc_ValueError, "%s: %s", k->name, uf_error_text(err));
    }
    Py_RETURN_NONE;
fail:
    while (nt > 0) {
        PyBuffer_Release(&views[--nt]);
    }
    return NULL;
}

// --- the op-table walker: Program(tensors, ops, formats, kernel_map, arena,
// weights, wbuf[, read]) holds a model's buffers exported (so the arena cannot be
// resized under it); calling it runs every op (file mode: read(offset, n) first for
// each record that reads weights); run(program, pos, n) runs n
// ops (n < 0: all) from byte offset pos of ops in one call, reading nothing;
// check(program, pos, n) validates them only. The first of these checks every record
// (the kernels' static checks too) once for the Program (walker.c uf_prepare).
#define N_BUFS 7   // the buffers, wbuf the last

typedef struct {
    PyObject_HEAD
    uf_model m;
    Py_buffer views[N_BUFS];
    int held;   // how many of views are exported
    PyObject *read;   // file mode: read(offset, n), else NULL
} program_obj;

static void program_dealloc(program_obj *self) {
    while (self->held > 0) {
        PyBuffer_Release(&self->views[--self->held]);
    }
    Py_XDECREF(self->read);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

// uf_model's read: calls read(offset, n) with the GIL (the walker runs without it).
static int read_weights(void *ctx, uint32_t offset, uint32_t n) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *r = PyObject_CallFunction((PyObject *)ctx, "kk", (unsigned long)offset, (unsigned long)n);
    Py_XDECREF(r);
    PyGILState_Release(gil);
    return r == NULL;   // the exception stays set for the binding to raise
}

// Can the bytes behind buffer view v never change (a bytes object, or a memoryview of
// one)? Only then may the walker check what depends on them once (walker.c uf_prepare).
static int immutable(const Py_buffer *v) {
    PyObject *o = v->obj;
    if (o != NULL && PyMemoryView_Check(o)) {
        o = PyMemoryView_GET_BASE(o);
    }
    return v->readonly && o != NULL && PyBytes_Check(o);
}

static PyObject *program_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static const char *names[N_BUFS] = {"tensors", "ops", "formats", "kernel_map", "arena",
                                        "weights", "wbuf"};
    Py_ssize_t n_args = PyTuple_GET_SIZE(args);
    if ((kwds && PyDict_GET_SIZE(kwds)) || (n_args != N_BUFS && n_args != N_BUFS + 1)) {
        return PyErr_Format(PyExc_TypeError, "Program takes 7 or 8 positional arguments: tensors, ops, "
                            "formats, kernel_map, arena, weights, wbuf[, read]");
    }
    program_obj *self = (program_obj *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    const uint8_t *ptr[N_BUFS] = {0};
    size_t len[N_BUFS] = {0};
    unsigned fixed = 0;
    for (int k = 0; k < N_BUFS && k < n_args; k++) {
        PyObject *item = PyTuple_GET_ITEM(args, k);
        if (item == Py_None && k >= 5) {   // weights (file mode), wbuf (inline mode)
            continue;
        }
        int writable = k == 4 || k == 6;
        if (PyObject_GetBuffer(item, &self->views[self->held], writable ? PyBUF_WRITABLE : PyBUF_SIMPLE) < 0) {
            PyErr_Format(PyExc_TypeError, "Program: %s must be a%s buffer", names[k],
                         writable ? " writable" : "");
            Py_DECREF(self);
            return NULL;
        }
        ptr[k] = self->views[self->held].buf;
        len[k] = (size_t)self->views[self->held].len;
        fixed |= (unsigned)immutable(&self->views[self->held]) << k;
        self->held++;
    }
    uf_model *m = &self->m;
    uf_model_set(m, ptr, len, fixed);
    if (n_args == N_BUFS + 1 && PyTuple_GET_ITEM(args, N_BUFS) != Py_None) {
        self->read = PyTuple_GET_ITEM(args, N_BUFS);
        if (!PyCallable_Check(self->read)) {
            self->read = NULL;
            Py_DECREF(self);
            return PyErr_Format(PyExc_TypeError, "Program: read must be callable");
        }
        Py_INCREF(self->read);
        m->read = read_weights;
        m->read_ctx = self->read;
    }
    return (PyObject *)self;
}

static PyObject *raise_op_error(const uf_model *m, size_t pos, int err) {
    const char *name = uf_op_kernel_name(m, pos);
    return PyErr_Format(PyExc_ValueError, "%s (op record at byte %zu): %s",
                        name ? name : "op", pos, uf_error_text(err));
}

// program(): every op, as run(program, 0, -1); Model makes it its invoke.
static PyObject *program_call(PyObject *self, PyObject *args, PyObject *kwds) {
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "a Program takes no arguments");
        return NULL;
    }
    uf_model *m = &((program_obj *)self)->m;
    size_t pos = 0;
    int err;
    uf_prepare(m);   // with the GIL: the one write to the model
    Py_BEGIN_ALLOW_THREADS
    err = uf_invoke(m, &pos);
    Py_END_ALLOW_THREADS
    if (err == UF_EREAD) {
        return NULL;   // read() raised
    }
    if (err) {
        return raise_op_error(m, pos, err);
    }
    Py_RETURN_NONE;
}

static PyTypeObject program_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "upyflow_native.Program",
    .tp_basicsize = sizeof(program_obj),
    .tp_dealloc = (destructor)program_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A baked model's buffers for run(): Program(tensors, ops, formats, kernel_map, "
              "arena, weights, wbuf)",
    .tp_new = program_new,
    .tp_call = program_call,
};

static PyObject *walk(PyObject *const *args, Py_ssize_t nargs, int run) {
    if (nargs != 3 || !PyObject_TypeCheck(args[0], &program_type)) {
        PyErr_SetString(PyExc_TypeError, "expected (Program, pos, n)");
        return NULL;
    }
    uf_model *m = &((program_obj *)args[0])->m;
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    long n = PyLong_AsLong(args[2]);
    if ((start == -1 || n == -1) && PyErr_Occurred()) {
        return NULL;
    }
    if (start < 0 || n > 0x7FFFFFFFL || n < -1) {
        PyErr_SetString(PyExc_ValueError, "pos must be >= 0 and n in -1..2**31-1");
        return NULL;
    }
    size_t pos = (size_t)start;
    int err;
    uf_prepare(m);   // with the GIL: the one write to the model (uf_check's is then none)
    Py_BEGIN_ALLOW_THREADS
    err = run ? uf_run(m, &pos, (int)n) : uf_check(m, &pos, (int)n);
    Py_END_ALLOW_THREADS
    if (err) {
        return raise_op_error(m, pos, err);
    }
    Py_RETURN_NONE;
}

static PyObject *run_ops(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    return walk(args, nargs, 1);
}

static PyObject *check_ops(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    return walk(args, nargs, 0);
}

static PyObject *kernel_index(PyObject *mod, PyObject *name) {
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(name, &len);
    return s ? PyLong_FromLong(uf_kernel_index(s, (size_t)len)) : NULL;
}

static PyMethodDef walker_defs[] = {
    {"run", (PyCFunction)(void (*)(void))run_ops, METH_FASTCALL,
     "run(program, pos, n): run n ops (n < 0: to the end) from byte offset pos of its ops"},
    {"check", (PyCFunction)(void (*)(void))check_ops, METH_FASTCALL,
     "check(program, pos, n): validate those ops as run() would, running no kernel"},
    {"kernel_index", kernel_index, METH_O, "kernel_index(name): its index in the kernel table, or -1"},
    {NULL, NULL, 0, NULL},
};

// Filled once at import: one method definition per kernel, named after it.
static PyMethodDef kernel_defs[UF_N_KERNELS];

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "upyflow_native",
    "upyflow's native C kernel tier: KERNELS names the kernels; each is called fn(args).",
    -1, walker_defs, NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC PyInit_upyflow_native(void) {
    PyObject *mod = PyModule_Create(&module_def);
    if (mod == NULL) {
        return NULL;
    }
    if (PyType_Ready(&program_type) < 0) {
        goto fail;
    }
    Py_INCREF(&program_type);
    if (PyModule_AddObject(mod, "Program", (PyObject *)&program_type) < 0) {
        Py_DECREF(&program_type);
        goto fail;
    }
    Py_INCREF(&program_type);   // program(...): the name the MicroPython binding has
    if (PyModule_AddObject(mod, "program", (PyObject *)&program_type) < 0) {
        Py_DECREF(&program_type);
        goto fail;
    }
    PyObject *names = PyTuple_New(UF_N_KERNELS);
    if (names == NULL || PyModule_AddObject(mod, "KERNELS", names) < 0) {
        Py_XDECREF(names);
        goto fail;
    }
    PyObject *modname = PyModule_GetNameObject(mod);
    if (modname == NULL) {
        goto fail;
    }
    for (int i = 0; i < UF_N_KERNELS; i++) {
        kernel_defs[i].ml_name = uf_kernels[i].name;
        kernel_defs[i].ml_meth = dispatch;
        kernel_defs[i].ml_flags = METH_O;
        kernel_defs[i].ml_doc = uf_kernels[i].sig;
        PyObject *index = PyLong_FromLong(i);
        PyObject *fn = index ? PyCFunction_NewEx(&kernel_defs[i], index, modname) : NULL;
        Py_XDECREF(index);
        PyObject *name = PyUnicode_FromString(uf_kernels[i].name);
        if (fn == NULL || name == NULL || PyModule_AddObject(mod, uf_kernels[i].name, fn) < 0) {
            Py_XDECREF(fn);
            Py_XDECREF(name);
            Py_DECREF(modname);
            goto fail;
        }
        PyTuple_SET_ITEM(names, i, name);   // steals; names is still alive in mod
    }
    Py_DECREF(modname);
    return mod;
fail:
    Py_DECREF(mod);
    return NULL;
}
