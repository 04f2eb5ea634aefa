/* What free-threaded CPython (PEP 703, 3.13t) needs of the binding: a mutex
 * for its module state, and dict lookups that hand over a reference.
 *
 * On the GIL build the binding's module state (the pool pointer, the count
 * of calls inside the pool, the trace's state) is only touched with the
 * GIL held, and the GIL alone keeps it consistent: there these compile to
 * nothing, so the GIL build's hot paths cost what they did.  With no GIL,
 * two threads can be in the same function at once, and the state needs a
 * lock of its own: a PyMutex (one byte; uncontended, one atomic exchange
 * each way; a thread blocked on it detaches from the interpreter, so a
 * stop-the-world pause is never held up by it).
 */
#ifndef RT_FREETHREADING_H
#define RT_FREETHREADING_H

#include <Python.h>
#include <string.h>

#ifdef Py_GIL_DISABLED
typedef PyMutex rt_ft_mutex;
static inline void rt_ft_lock(rt_ft_mutex *m) { PyMutex_Lock(m); }
static inline void rt_ft_unlock(rt_ft_mutex *m) { PyMutex_Unlock(m); }
#else
typedef struct { char unused; } rt_ft_mutex;
static inline void rt_ft_lock(rt_ft_mutex *m) { (void)m; }
static inline void rt_ft_unlock(rt_ft_mutex *m) { (void)m; }
#endif

/* After fork() in the child: the thread that held it may be gone. */
static inline void rt_ft_reset(rt_ft_mutex *m) { memset(m, 0, sizeof *m); }

/* Whether this extension was built for a free-threaded interpreter. */
static inline int rt_ft_build(void)
{
#ifdef Py_GIL_DISABLED
    return 1;
#else
    return 0;
#endif
}

/* A dict lookup that returns a new reference: the value, or None when
 * the key is missing or cannot be hashed (no error set).  PyDict_GetItem's
 * borrowed reference is safe under the GIL; with no GIL another thread may
 * remove the entry and free the value before the caller takes its own
 * reference, so there PyDict_GetItemRef (3.13) hands one over. */
static inline PyObject *rt_dict_get_or_none(PyObject *dict, PyObject *key)
{
    PyObject *value;
#ifdef Py_GIL_DISABLED
    if (PyDict_GetItemRef(dict, key, &value) < 0) {
        PyErr_Clear();
        value = NULL;
    }
#else
    value = PyDict_GetItem(dict, key);
    Py_XINCREF(value);
#endif
    if (value == NULL) {
        value = Py_None;
        Py_INCREF(value);
    }
    return value;
}

#endif /* RT_FREETHREADING_H */
