/* Interpreter thread states for pool workers (part of the binding: the
 * only C that knows both the pool and Python).
 *
 * A worker that runs a Python chunk needs a PyThreadState.  Creating one
 * per chunk (what a bare PyGILState_Ensure/Release pair does on a thread
 * Python did not create) costs microseconds, so a worker creates one on
 * its first Python chunk and keeps it, with the GILState counter held at
 * one, until the pool lets it go (rt_pool_config.on_worker_exit).  After
 * that, each chunk's `with gil` is a plain GIL acquire and release.
 */
#ifndef RT_PYTHREAD_H
#define RT_PYTHREAD_H

#include <Python.h>

static _Thread_local int rt_python_attached;

/* Call without the GIL, on any thread, before taking the GIL for a chunk. */
static inline void rt_python_attach_thread(void)
{
    if (rt_python_attached)
        return;
    rt_python_attached = 1;
    if (PyGILState_GetThisThreadState() != NULL)
        return; /* a Python thread (a caller): it has its own state */
    PyGILState_Ensure();
    PyEval_SaveThread();
    rt_python_attached = 2;
}

/* The pool's on_worker_exit hook: drop the state created above. */
static void rt_python_detach_thread(void *unused)
{
    (void)unused;
    if (rt_python_attached == 2) {
        PyEval_RestoreThread(PyGILState_GetThisThreadState());
        PyGILState_Release(PyGILState_UNLOCKED);
    }
    rt_python_attached = 0;
}

#endif /* RT_PYTHREAD_H */
