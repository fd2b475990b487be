"""A guard against a reference-counting bug of PySide6 6.12 on Python 3.10 and 3.11.

With PySide6/shiboken6 6.12.0, every call of a Qt method that returns ``void`` (``setText``,
``processEvents``, ``addWidget``...) gives back ``None`` without taking a reference to it. On Python 3.12
and later ``None`` is immortal and nothing happens; on 3.10/3.11 its reference count falls by one per
call until, a few thousand calls later, the interpreter aborts with "Fatal Python error: none_dealloc".
PySide6 6.11 does not have the bug (measured: ``sys.getrefcount(None)`` is stable across such calls).

The proper fix is to avoid that combination (``PySide6-Essentials != 6.12.0`` on Python < 3.12). Until
then :func:`install` does on these versions what 3.12 does everywhere: it gives ``None``, ``True`` and
``False`` a reference count so large that no process can bring it to zero.
"""

from __future__ import annotations

import ctypes
import sys

import PySide6

_AFFECTED = (6, 12)
_MARGIN = 1 << 40
_installed = False


def affected() -> bool:
    return sys.version_info < (3, 12) and tuple(PySide6.__version_info__[:2]) == _AFFECTED


def install() -> bool:
    """Apply the guard once if this interpreter and PySide6 need it; True if it was applied."""
    global _installed
    if _installed or not affected() or sys.implementation.name != "cpython":
        return _installed
    for singleton in (None, True, False):
        # ob_refcnt is the first field of every CPython object, at the address id() returns.
        ctypes.c_ssize_t.from_address(id(singleton)).value += _MARGIN
    _installed = True
    return True
