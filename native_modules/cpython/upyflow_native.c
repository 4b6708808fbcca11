// CPython binding of the native kernel tier: module upyflow_native with
// KERNELS and one callable per kernel, fn(args) with args = (tensor byte
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
    err = k->run(&c);
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

// Filled once at import: one method definition per kernel, named after it.
static PyMethodDef kernel_defs[UF_N_KERNELS];

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "upyflow_native",
    "upyflow's native C kernel tier: KERNELS names the kernels; each is called fn(args).",
    -1, NULL, NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC PyInit_upyflow_native(void) {
    PyObject *mod = PyModule_Create(&module_def);
    if (mod == NULL) {
        return NULL;
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
