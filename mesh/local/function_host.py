"""Function processes forked from one pre-imported host, instead of each exec'ing Python.

Why: the canary step runs eleven function processes. Each exec'd CPython with aiohttp keeps
about 25 MB of private memory; forked from a host that has imported the libraries and the
functions' code already (`functions/runtime/preload.py`), the children share those pages
copy-on-write. The host is the standard library's fork server (`multiprocessing`'s "forkserver" start method): it is
started by the supervisor and exits when the supervisor does, even after a SIGKILL, and each
child gets PR_SET_PDEATHSIG on the host, so nothing outlives the system.

`voting up --function-processes exec` keeps the previous design (one exec per function),
which the bench measures side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sys
from multiprocessing.process import BaseProcess
from pathlib import Path

from mesh.local.lifetime import die_with_parent

PRELOAD = "functions.runtime.preload"
VOTING = [sys.executable, "-m", "voting"]
FUNCTION = [*VOTING, "function"]  # the one command forked: `voting function NAME ...`
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload([PRELOAD])  # read when the host first starts


class ForkedProcess:
    """A forked function, with the part of asyncio's Process API the supervisor uses."""

    def __init__(self, process: BaseProcess) -> None:
        self._process = process
        assert process.pid is not None, "start the process first"
        self._pid = process.pid  # a closed Process no longer answers .pid
        self._returncode: int | None = None
        self._exited: asyncio.Future[int] | None = None

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def returncode(self) -> int | None:
        """The exit code, negative for a signal (as asyncio reports it); None while running."""
        if self._returncode is None:
            try:
                self._returncode = self._process.exitcode
            except (EOFError, OSError):  # the host itself died, and its children with it
                self._returncode = -signal.SIGKILL
        return self._returncode

    async def wait(self) -> int:
        """Wait for the exit without a thread: the host writes the status to the sentinel."""
        if self.returncode is not None:
            return self.returncode
        if self._exited is None:
            loop = asyncio.get_running_loop()
            exited: asyncio.Future[int] = loop.create_future()
            sentinel = self._process.sentinel

            def readable() -> None:  # the status is written, or the host is gone (EOF)
                loop.remove_reader(sentinel)
                code = self.returncode
                with contextlib.suppress(ValueError, EOFError, OSError):
                    self._process.close()  # frees the sentinel pipe: restarts must not leak fds
                exited.set_result(-signal.SIGKILL if code is None else code)

            loop.add_reader(sentinel, readable)
            self._exited = exited
        return await asyncio.shield(self._exited)

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


async def fork_command(argv: list[str], env: dict[str, str], log_path: Path) -> ForkedProcess:
    """Run `python -m voting function ...` as a child of the host, instead of exec'ing it."""
    if argv[: len(FUNCTION)] != FUNCTION:
        raise ValueError(f"only `voting function` commands can be forked, not {argv!r}")
    process = _CONTEXT.Process(
        target=_run,
        args=(argv[len(FUNCTION) :], env, str(log_path)),
        name=" ".join(argv[len(VOTING) :]),
        daemon=True,  # terminated by multiprocessing at exit if a supervisor forgot one
    )
    await asyncio.to_thread(process.start)  # the first start waits for the host's imports
    return ForkedProcess(process)


def host_pids(child: int) -> list[int]:
    """The host (the child's parent) and multiprocessing's resource tracker beside it."""
    pids: list[int] = []
    host = _parent_of(child)
    if host is not None:
        pids.append(host)
    supervisor = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in pids:
            continue
        if _parent_of(int(entry.name)) == supervisor and _is_resource_tracker(entry):
            pids.append(int(entry.name))
    return pids


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the name in () may hold spaces


def _is_resource_tracker(entry: Path) -> bool:
    with contextlib.suppress(OSError):
        return b"multiprocessing.resource_tracker" in (entry / "cmdline").read_bytes()
    return False


def _run(args: list[str], env: dict[str, str], log_path: str) -> None:
    """In the child: the pod's own environment, its log as stdout/stderr, then the command."""
    die_with_parent()
    # Every child is handed the write end of the host's "alive" pipe, which keeps the host
    # running while any child lives; the children, in turn, die only with the host. Closed
    # here, the host exits when the supervisor does (even on SIGKILL), and then its children.
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.environ.clear()
    os.environ.update(env)
    from functions.runtime.preload import forget_edited_code

    forget_edited_code()
    from functions.cli import main  # the function's parser alone, not every area's CLI

    sys.exit(main(args))
