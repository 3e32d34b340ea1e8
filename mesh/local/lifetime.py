"""Children of the local system live no longer than their parent.

Run in a child before it execs (or, when forked from the function host, before it runs its
command): PR_SET_PDEATHSIG sends it SIGTERM when its parent dies, even by SIGKILL, and its
own process group keeps a Ctrl-C in the terminal for the supervisor alone.
"""

from __future__ import annotations

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setpgrp()
