/*
 * peerkit._cbor_floats: peerkit's float rule applied to DAG-CBOR bytes, at C speed.
 *
 * peerkit writes a float with an integral value that is a safe integer (|x| <= 2^53 - 1; -0.0
 * included) as that integer, as JavaScript's @ipld/dag-cbor does (peerkit/blocks.py says why).
 * cbrrr writes every float as float64 (0xfb + 8 bytes). This module rewrites such floats in
 * bytes cbrrr has just encoded. It gives the bytes encoding the normalised value would give:
 *
 * - an array or map head counts items, not bytes, so a shorter item leaves every head valid;
 * - DAG-CBOR orders map keys by their own bytes, and keys are text: values never move them;
 * - the integer is written in its shortest form, as cbrrr writes integers.
 *
 * Definite-length CBOR is a sequence of heads: after a head (and a string's content) comes the
 * next head, whatever nests in what. So one pass over the heads, with no stack, visits every
 * float. Input that is not well-formed (which cbrrr never writes) raises ValueError; every read
 * is bounds-checked first, whatever the input (tests/unit/storage/test_blocks.py feeds it
 * arbitrary bytes).
 *
 * Built when a C compiler is present (pyproject.toml: an optional extension); without it
 * peerkit/blocks.py walks the value in Python instead, with the same result, slower.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_SAFE 9007199254740991.0 /* 2^53 - 1 */

/* The number of argument bytes after a head byte whose low five bits are `info`; -1 if CBOR
 * reserves it or it is an indefinite length (neither is DAG-CBOR). */
static int argument_size(unsigned info) {
    if (info < 24) return 0;
    switch (info) {
    case 24: return 1;
    case 25: return 2;
    case 26: return 4;
    case 27: return 8;
    default: return -1;
    }
}

static uint64_t read_be(const unsigned char *p, int size) {
    uint64_t value = 0;
    for (int i = 0; i < size; i++) value = (value << 8) | p[i];
    return value;
}

/* Writes the shortest CBOR head of major type `major` with argument `value` at `out`; returns
 * its length (at most 9). */
static Py_ssize_t write_head(unsigned char *out, unsigned major, uint64_t value) {
    unsigned char top = (unsigned char)(major << 5);
    int size;
    if (value < 24) {
        out[0] = top | (unsigned char)value;
        return 1;
    }
    if (value <= 0xff) {
        out[0] = top | 24;
        size = 1;
    } else if (value <= 0xffff) {
        out[0] = top | 25;
        size = 2;
    } else if (value <= 0xffffffffULL) {
        out[0] = top | 26;
        size = 4;
    } else {
        out[0] = top | 27;
        size = 8;
    }
    for (int i = 0; i < size; i++) out[1 + i] = (unsigned char)(value >> (8 * (size - 1 - i)));
    return 1 + size;
}

static PyObject *malformed(Py_ssize_t at, const char *what) {
    PyErr_Format(PyExc_ValueError, "not well-formed DAG-CBOR at byte %zd: %s", at, what);
    return NULL;
}

static PyObject *integral_floats_as_integers(PyObject *module, PyObject *arg) {
    (void)module;
    if (!PyBytes_CheckExact(arg)) {
        PyErr_SetString(PyExc_TypeError, "integral_floats_as_integers() takes bytes");
        return NULL;
    }
    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(arg);
    Py_ssize_t size = PyBytes_GET_SIZE(arg);
    /* The output is never longer than the input (an integer head is at most 9 bytes, the float
     * it replaces 9): allocated on the first float that changes, filled up to `written`. */
    PyObject *result = NULL;
    unsigned char *out = NULL;
    Py_ssize_t written = 0, copied_up_to = 0, pos = 0;

    while (pos < size) {
        unsigned head = data[pos];
        unsigned major = head >> 5;
        int arg_size = argument_size(head & 31);
        if (arg_size < 0) {
            Py_XDECREF(result);
            return malformed(pos, "reserved or indefinite-length head");
        }
        if (size - pos - 1 < arg_size) {
            Py_XDECREF(result);
            return malformed(pos, "head runs past the end");
        }
        uint64_t argument = arg_size ? read_be(data + pos + 1, arg_size) : (head & 31);
        Py_ssize_t next = pos + 1 + arg_size;
        if (major == 2 || major == 3) { /* a byte or text string: its content follows */
            if ((uint64_t)(size - next) < argument) {
                Py_XDECREF(result);
                return malformed(pos, "string runs past the end");
            }
            next += (Py_ssize_t)argument;
        } else if (head == 0xfb) {
            double value;
            uint64_t bits = argument;
            memcpy(&value, &bits, sizeof value);
            if (isfinite(value) && value == floor(value) && fabs(value) <= MAX_SAFE) {
                if (result == NULL) {
                    result = PyBytes_FromStringAndSize(NULL, size);
                    if (result == NULL) return NULL;
                    out = (unsigned char *)PyBytes_AS_STRING(result);
                }
                memcpy(out + written, data + copied_up_to, (size_t)(pos - copied_up_to));
                written += pos - copied_up_to;
                if (value >= 0) /* -0.0 too: it is the integer 0 */
                    written += write_head(out + written, 0, (uint64_t)value);
                else
                    written += write_head(out + written, 1, (uint64_t)(-value) - 1);
                copied_up_to = next;
            }
        }
        pos = next;
    }
    if (result == NULL) {
        Py_INCREF(arg);
        return arg;
    }
    memcpy(out + written, data + copied_up_to, (size_t)(size - copied_up_to));
    written += size - copied_up_to;
    if (_PyBytes_Resize(&result, written) < 0) return NULL;
    return result;
}

static PyMethodDef methods[] = {
    {"integral_floats_as_integers", integral_floats_as_integers, METH_O,
     "The DAG-CBOR bytes with every float64 whose value is a safe integer written as that\n"
     "integer; the same object when there is none. ValueError if the bytes are not\n"
     "well-formed definite-length CBOR."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "peerkit._cbor_floats",
    "peerkit's float rule applied to DAG-CBOR bytes (see peerkit/blocks.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__cbor_floats(void) { return PyModule_Create(&module_def); }
