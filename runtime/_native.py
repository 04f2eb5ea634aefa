"""Native kernels for runtime.parallel_for: turning a cffi, ctypes or numba
function (or a plain address) into a C function pointer of the right type,
and a context object into a pointer.

The contract is ``void kernel(int64_t begin, int64_t end, void *ctx)``.
Kernels run on the pool with no GIL, so they must not touch Python objects
(a ctypes callback made from a Python function takes the GIL itself:
correct, but it serializes)."""

from __future__ import annotations

import ctypes
from typing import Any

SIGNATURE = "void(*)(int64_t, int64_t, void *)"
ADDRESS_BITS = 8 * ctypes.sizeof(ctypes.c_void_p)
MAX_ADDRESS = 2**ADDRESS_BITS - 1  # the binding takes addresses as uintptr_t
_EXPECTED = (f"a native kernel {SIGNATURE} (cffi function pointer, ctypes function, "
             "numba cfunc or int address) or a Python callable body(start, stop)")

_ffi: Any = None


def _cffi() -> Any:
    global _ffi
    if _ffi is None:
        import cffi

        _ffi = cffi.FFI()
    return _ffi


def _is_cffi(obj: object) -> bool:
    return type(obj).__module__ == "_cffi_backend"


def _cffi_kernel(kernel: Any) -> int:
    ffi = _cffi()
    ctype = ffi.typeof(kernel)
    if ctype.kind == "pointer" and ctype.item.kind == "function":
        ctype = ctype.item
    ok = (
        ctype.kind == "function"
        and not ctype.ellipsis
        and ctype.result.cname == "void"
        and len(ctype.args) == 3
        and all(a.kind == "primitive" and ffi.sizeof(a) == 8 and a.cname.startswith(("int", "long"))
                for a in ctype.args[:2])
        and ctype.args[2].kind == "pointer"
    )
    if not ok:
        raise TypeError(f"runtime.parallel_for: kernel has C type {ctype.cname}; "
                        f"expected {SIGNATURE}")
    address = int(ffi.cast("uintptr_t", kernel))
    if address == 0:
        raise ValueError("runtime.parallel_for: kernel is a NULL function pointer")
    return address


def _is_int64(t: Any) -> bool:
    """A signed 64-bit ctypes integer (c_int64 is c_long or c_longlong)."""
    return (isinstance(t, type) and issubclass(t, ctypes._SimpleCData)
            and ctypes.sizeof(t) == 8 and t._type_ in ("q", "l"))


def _ctypes_kernel(kernel: Any, what: str = "kernel") -> int:
    argtypes = getattr(kernel, "argtypes", None)
    restype = getattr(kernel, "restype", None)
    if argtypes is None:
        raise TypeError(
            f"runtime.parallel_for: the ctypes {what} has no argtypes, so its signature "
            f"cannot be checked; set {what}.argtypes = [ctypes.c_int64, ctypes.c_int64, "
            f"ctypes.c_void_p] and {what}.restype = None")
    ok = (
        len(argtypes) == 3
        and _is_int64(argtypes[0]) and _is_int64(argtypes[1])
        and (argtypes[2] is ctypes.c_void_p or issubclass(argtypes[2], ctypes._Pointer))
        and restype is None
    )
    if not ok:
        names = ", ".join(getattr(t, "__name__", str(t)) for t in argtypes)
        raise TypeError(
            f"runtime.parallel_for: the ctypes {what} takes ({names}) and returns "
            f"{getattr(restype, '__name__', restype)}; expected {SIGNATURE}, i.e. argtypes "
            f"[c_int64, c_int64, c_void_p] and restype None")
    address = ctypes.cast(kernel, ctypes.c_void_p).value
    if not address:
        raise ValueError("runtime.parallel_for: kernel is a NULL function pointer")
    return address


def kernel_address(kernel: object) -> int | None:
    """The address of a native kernel; None for a Python callable."""
    if isinstance(kernel, bool):
        raise TypeError(f"runtime.parallel_for: body must be {_EXPECTED}, got bool")
    if isinstance(kernel, int):
        # Only the range can be checked: an int that is not the address of
        # such a kernel crashes the process when called (documented).
        if not 0 < kernel <= MAX_ADDRESS:
            raise ValueError(f"runtime.parallel_for: a kernel address must be 1 to "
                             f"2**{ADDRESS_BITS} - 1, "
                             f"got {kernel}")
        return kernel
    if _is_cffi(kernel):
        return _cffi_kernel(kernel)
    if isinstance(kernel, ctypes._CFuncPtr):
        return _ctypes_kernel(kernel)
    # numba's CFunc: .address plus .ctypes, a ctypes function of its signature.
    address = getattr(kernel, "address", None)
    as_ctypes = getattr(kernel, "ctypes", None)
    if isinstance(address, int) and isinstance(as_ctypes, ctypes._CFuncPtr):
        _ctypes_kernel(as_ctypes, what="cfunc")
        return address
    if callable(kernel):
        return None
    raise TypeError(f"runtime.parallel_for: body must be {_EXPECTED}, "
                    f"got {type(kernel).__name__}")


def context_address(ctx: object) -> int:
    """The pointer a kernel receives as ctx."""
    if ctx is None:
        return 0
    if isinstance(ctx, bool):
        raise TypeError("runtime.parallel_for: ctx must be a pointer, got bool")
    if isinstance(ctx, int):
        if not 0 <= ctx <= MAX_ADDRESS:
            raise ValueError(f"runtime.parallel_for: ctx address must be 0 to "
                             f"2**{ADDRESS_BITS} - 1, "
                             f"got {ctx}")
        return ctx
    if _is_cffi(ctx):
        ffi = _cffi()
        if ffi.typeof(ctx).kind not in ("pointer", "array"):
            raise TypeError(f"runtime.parallel_for: ctx must be a cffi pointer or array, "
                            f"got {ffi.typeof(ctx).cname}")
        return int(ffi.cast("uintptr_t", ffi.cast("void *", ctx)))
    if isinstance(ctx, ctypes.c_void_p):
        return ctx.value or 0
    if isinstance(ctx, ctypes._Pointer):
        return ctypes.cast(ctx, ctypes.c_void_p).value or 0
    if isinstance(ctx, (ctypes._SimpleCData, ctypes.Structure, ctypes.Union, ctypes.Array)):
        return ctypes.addressof(ctx)
    data = getattr(getattr(ctx, "ctypes", None), "data", None)  # a NumPy array
    if isinstance(data, int):
        return data
    raise TypeError(
        "runtime.parallel_for: ctx must be None, an int address, a cffi pointer, a ctypes "
        f"pointer or object, or a NumPy array (its data pointer); got {type(ctx).__name__}")
