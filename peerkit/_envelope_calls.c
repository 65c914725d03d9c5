/*
 * peerkit._envelope_calls: the envelope's three calls per message, without a Python frame each.
 *
 * Every message a peer sends or receives passes encode_envelope, decode_envelope and
 * decode_payload (peerkit/wire.py). Each is a few lines around one msgspec call, and in time a
 * Python function call weighs more than those lines: the three frames were ~220 ns of an
 * envelope round trip of ~850 ns, where bare msgspec takes ~500 (docs/performance.md). Here
 * the same three calls do their common case in C and hand everything else to the Python code
 * in peerkit/wire.py, so there is one set of rules:
 *
 * - encode_envelope: the message class's wire tag read as wire.py reads it; a class without
 *   one (None), or a call with keywords, goes to the Python function, which names the class.
 * - decode_envelope: wire.py's current one-pass decoder (read from the module each call: it
 *   is rebuilt whenever the registry changes); when it fails, wire.py's precise path. Both
 *   under a recursion limit the C stack survives, as peerkit.bounds.decode_within_c_stack.
 * - decode_payload: a payload already of the asked type, whose nesting its type fixes, is
 *   returned as is; anything else goes to the Python function.
 *
 * Optional, as peerkit/_cbor_floats.c: built where a C compiler is present; without it wire.py
 * uses its Python functions, with the same results (tests/unit/test_wire.py runs both).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* What bind() was given: the Python side of each call and the objects the fast paths read.
 * One peerkit.wire per process, so plain statics (the module is not for subinterpreters). */
static PyObject *encode;          /* msgspec encoder's bound encode */
static PyObject *wire_globals;    /* peerkit.wire's namespace, where _fast_decode is rebound */
static PyObject *decode_error;    /* msgspec.DecodeError */
static PyObject *closed_types;    /* the set of message types whose nesting is fixed */
static PyObject *encode_in_python;
static PyObject *decode_precisely; /* wire._decode_precisely: the two-pass decode */
static PyObject *too_deep_error;   /* wire._too_deep: builds the MalformedMessage */
static PyObject *payload_in_python;

static int c_stack_safe_limit;    /* peerkit.bounds.C_STACK_SAFE_LIMIT */

static PyObject *str_wire_tag;    /* "__peerkit_wire_tag__" */
static PyObject *str_fast_decode; /* "_fast_decode" */
static PyObject *str_payload;     /* "payload" */

static PyObject *not_bound(void) {
    PyErr_SetString(PyExc_RuntimeError, "peerkit._envelope_calls is used before bind()");
    return NULL;
}

static PyObject *encode_envelope(PyObject *self, PyObject *const *args, Py_ssize_t nargsf,
                                 PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (encode == NULL) return not_bound();
    if (kwnames != NULL || nargs < 3 || nargs > 4)
        return PyObject_Vectorcall(encode_in_python, args, nargs, kwnames);
    PyObject *tag = PyObject_GetAttr(args[2], str_wire_tag); /* as wire.py: its error, if any */
    if (tag == NULL) return NULL;
    if (tag == Py_None) {
        Py_DECREF(tag);
        return PyObject_Vectorcall(encode_in_python, args, nargs, NULL);
    }
    int with_auth = 0;
    if (nargs == 4) {
        with_auth = PyObject_IsTrue(args[3]);
        if (with_auth < 0) {
            Py_DECREF(tag);
            return NULL;
        }
    }
    PyObject *envelope = PyTuple_New(with_auth ? 5 : 4);
    if (envelope == NULL) {
        Py_DECREF(tag);
        return NULL;
    }
    Py_INCREF(args[0]);
    PyTuple_SET_ITEM(envelope, 0, args[0]);
    Py_INCREF(args[1]);
    PyTuple_SET_ITEM(envelope, 1, args[1]);
    PyTuple_SET_ITEM(envelope, 2, tag); /* the reference GetAttr gave */
    Py_INCREF(args[2]);
    PyTuple_SET_ITEM(envelope, 3, args[2]);
    if (with_auth) {
        Py_INCREF(args[3]);
        PyTuple_SET_ITEM(envelope, 4, args[3]);
    }
    PyObject *body = PyObject_Vectorcall(encode, &envelope, 1, NULL);
    Py_DECREF(envelope);
    return body;
}

static PyObject *decode_envelope_within(PyObject *body) {
    PyObject *decode = PyDict_GetItemWithError(wire_globals, str_fast_decode);
    if (decode == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "peerkit.wire has no _fast_decode");
        return NULL;
    }
    Py_INCREF(decode); /* the first call rebinds the global it was read from */
    PyObject *envelope = PyObject_Vectorcall(decode, &body, 1, NULL);
    Py_DECREF(decode);
    if (envelope != NULL) return envelope;
    if (PyErr_ExceptionMatches(decode_error)) {
        PyErr_Clear();
        return PyObject_Vectorcall(decode_precisely, &body, 1, NULL);
    }
    if (PyErr_ExceptionMatches(PyExc_RecursionError)) {
        PyErr_Clear();
        PyObject *error = PyObject_CallNoArgs(too_deep_error);
        if (error != NULL) {
            PyErr_SetObject((PyObject *)Py_TYPE(error), error);
            Py_DECREF(error);
        }
    }
    return NULL;
}

static PyObject *decode_envelope(PyObject *self, PyObject *body) {
    if (encode == NULL) return not_bound();
    /* as peerkit.bounds.decode_within_c_stack: msgspec recurses in C up to the recursion
     * limit, which eth_account raises past what a thread's stack holds */
    int limit = Py_GetRecursionLimit();
    if (limit <= c_stack_safe_limit) return decode_envelope_within(body);
    Py_SetRecursionLimit(c_stack_safe_limit);
    PyObject *envelope = decode_envelope_within(body);
    Py_SetRecursionLimit(limit);
    return envelope;
}

static PyObject *decode_payload(PyObject *self, PyObject *const *args, Py_ssize_t nargsf,
                                PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (encode == NULL) return not_bound();
    if (kwnames != NULL || nargs != 2)
        return PyObject_Vectorcall(payload_in_python, args, nargs, kwnames);
    PyObject *payload = PyObject_GetAttr(args[0], str_payload);
    if (payload == NULL) return NULL;
    if ((PyObject *)Py_TYPE(payload) == args[1]) {
        int closed = PySet_Contains(closed_types, args[1]);
        if (closed == 1) return payload;
        if (closed < 0) {
            Py_DECREF(payload);
            return NULL;
        }
    }
    Py_DECREF(payload);
    return PyObject_Vectorcall(payload_in_python, args, 2, NULL);
}

static PyObject *bind(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"c_stack_safe_limit", "encode",           "wire_globals",
                            "decode_error",       "closed_types",     "encode_in_python",
                            "decode_precisely",   "too_deep_error",   "payload_in_python",
                            NULL};
    PyObject *given[8];
    int safe_limit;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "iOO!OO!OOOO:bind", names, &safe_limit,
                                     &given[0], &PyDict_Type, &given[1], &given[2],
                                     &PySet_Type, &given[3], &given[4], &given[5], &given[6],
                                     &given[7]))
        return NULL;
    if (safe_limit < 100) {
        PyErr_SetString(PyExc_ValueError, "c_stack_safe_limit must be at least 100");
        return NULL;
    }
    c_stack_safe_limit = safe_limit;
    PyObject **slots[] = {&encode,           &wire_globals,     &decode_error,
                          &closed_types,     &encode_in_python, &decode_precisely,
                          &too_deep_error,   &payload_in_python};
    for (int i = 0; i < 8; i++) {
        Py_INCREF(given[i]);
        Py_XSETREF(*slots[i], given[i]);
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"encode_envelope", (PyCFunction)(void (*)(void))encode_envelope,
     METH_FASTCALL | METH_KEYWORDS,
     "encode_envelope(kind, id, msg, auth=b'') -> bytes: peerkit.wire.encode_envelope."},
    {"decode_envelope", decode_envelope, METH_O,
     "decode_envelope(body) -> Envelope: peerkit.wire.decode_envelope."},
    {"decode_payload", (PyCFunction)(void (*)(void))decode_payload,
     METH_FASTCALL | METH_KEYWORDS,
     "decode_payload(env, msg_type): peerkit.wire.decode_payload."},
    {"bind", (PyCFunction)(void (*)(void))bind, METH_VARARGS | METH_KEYWORDS,
     "bind(...): the Python side of each call and what the fast paths read (peerkit.wire)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "peerkit._envelope_calls",
    "peerkit.wire's envelope calls without a Python frame each (see the C source).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__envelope_calls(void) {
    str_wire_tag = PyUnicode_InternFromString("__peerkit_wire_tag__");
    str_fast_decode = PyUnicode_InternFromString("_fast_decode");
    str_payload = PyUnicode_InternFromString("payload");
    if (str_wire_tag == NULL || str_fast_decode == NULL || str_payload == NULL) return NULL;
    return PyModule_Create(&module);
}
