"""`voting up` and `voting down`: the local system's lifetime, from start to the last child.

`up` runs the system in the foreground (with the dashboard, when `voting/cli.py` has wired
it in) or `--detach`ed; `down` stops one system, or with `--all` every one this user runs,
and cleans up after a supervisor that was killed. Registered by `mesh/local/cli.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mesh.local.errors import MeshError, NotRunning


def fail(message: str) -> int:
    print(f"voting: {message}", file=sys.stderr)
    return 1


def cmd_up(args: argparse.Namespace) -> int:
    from mesh.local.control import ControlClient
    from mesh.local.process import PidRegistry

    if args.mysql_password is not None:
        return fail(
            "--mysql-password would show the password to every user of this machine (ps, "
            "/proc); set MYSQL_PASSWORD or use --mysql-password-file FILE"
        )
    try:
        password = mysql_password(args.mysql_password_file, os.environ)
    except OSError as exc:
        return fail(f"cannot read the MySQL password file: {exc}")
    args.mysql_password = password
    args.state_dir.mkdir(parents=True, exist_ok=True)
    client = ControlClient(args.state_dir)
    with contextlib.suppress(MeshError):
        asyncio.run(client.status())
        return fail(f"already running (state in {args.state_dir}); stop it with `voting down`")
    leftovers = PidRegistry.kill_leftovers(args.state_dir / "pids.json")
    if leftovers:
        print(f"cleaned up {leftovers} process(es) left by a previous run")
    (args.state_dir / "control.json").unlink(missing_ok=True)
    if args.detach:
        return _up_detached(args, client)
    from mesh.local import registry

    entry = registry.register(args.state_dir)  # findable by `voting down --all`
    try:
        return asyncio.run(_run_up(args))
    except MeshError as exc:
        return fail(str(exc))
    finally:
        registry.unregister(entry)


def mysql_password(path: Path | None, environ: Mapping[str, str]) -> str:
    """The MySQL password from a file (first line) or $MYSQL_PASSWORD, never from argv."""
    if path is not None:
        return path.read_text().splitlines()[0] if path.read_text() else ""
    return environ.get("MYSQL_PASSWORD", "")


def _up_detached(args: argparse.Namespace, client: Any) -> int:
    argv = [sys.executable, "-m", "voting", *[a for a in sys.argv[1:] if a != "--detach"]]
    if "--no-ui" not in argv:
        argv.append("--no-ui")
    log_path = args.state_dir / "voting-up.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return fail(f"`voting up` exited with {process.returncode}; see {log_path}")
        with contextlib.suppress(MeshError):
            status = asyncio.run(client.status())
            if status.get("step"):
                _print_ready(status)
                return 0
        time.sleep(0.3)
    return fail(f"not ready after 120 s; see {log_path}")


def _print_ready(status: dict[str, Any]) -> None:
    step = status["step"]
    print(f"ready: step {step['number']} ({step['name']})")
    print(f"  app:        {status['ingress']}")
    print("  status:     voting status   |  next step: voting step <n>  |  stop: voting down")


async def _run_up(args: argparse.Namespace) -> int:
    from aiohttp import web

    from mesh.local.backends import MySQLTarget
    from mesh.local.control import control_app, write_control_file
    from mesh.local.system import LocalMesh, Options
    from mesh.local.topology import port_is_free

    started = time.monotonic()
    quiet = not args.no_ui and sys.stdout.isatty()

    def progress(message: str) -> None:
        if not quiet or not ui_running:
            print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    ui_running = False
    options = Options(
        state_dir=args.state_dir,
        ingress_port=args.port,
        ingress_https_port=args.https_port,
        control_port=args.control_port,
        base_port=args.base_port,
        auto_mtls=not args.no_auto_mtls,
        redis_url=args.redis_url,
        prometheus_port=args.prometheus_port,
        prometheus_bin=args.prometheus_bin,
        telemetry=not args.no_telemetry,
        function_processes=args.function_processes,
        mysql=MySQLTarget(
            args.mysql_host,
            args.mysql_port,
            args.mysql_user,
            args.mysql_password,
            args.mysql_database,
        ),
    )
    # Every process of this system names its state dir in its environment (how `ps`-style
    # tools and the tests find them): the function host and its forks inherit this one's.
    os.environ["VOTING_STATE_DIR"] = str(options.state_dir)
    mesh = LocalMesh(options, on_event=progress)
    stop = asyncio.Event()
    watcher: asyncio.Task[None] | None = None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(control_app(mesh, stop), access_log=None)
    await runner.setup()
    try:
        ports = [(args.control_port, "--control-port"), (args.port, "--port")]
        if args.https_port:
            ports.append((args.https_port, "--https-port"))
        if not args.no_telemetry:
            ports.append((args.prometheus_port, "--prometheus-port"))
        for port, flag in ports:
            if not port_is_free(port):
                raise MeshError(f"port {port} is in use: choose another with {flag}")
        await web.TCPSite(runner, "127.0.0.1", args.control_port).start()
        await mesh.start(args.step)
        write_control_file(args.state_dir, args.control_port)
        if args.watch:
            from mesh.local.watch import watch_sources

            watcher = asyncio.create_task(watch_sources(mesh), name="watch")
        progress(f"ready in {time.monotonic() - started:.1f}s: {mesh.status()['ingress']}")
        if not args.no_ui and sys.stdout.isatty():
            ui_running = True
            await _run_dashboard(args, stop)
        else:
            print("Ctrl-C stops everything.", flush=True)
            await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        (args.state_dir / "control.json").unlink(missing_ok=True)
        await mesh.stop()
        await runner.cleanup()
    return 0


async def _run_dashboard(args: argparse.Namespace, stop: asyncio.Event) -> None:
    """Open the dashboard in this terminal; quitting it stops the system."""
    run_dashboard = getattr(args, "dashboard", None)
    if run_dashboard is None:
        print("the dashboard is not available; Ctrl-C stops everything.", flush=True)
        await stop.wait()
        return
    dashboard = asyncio.create_task(run_dashboard(args.state_dir))
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({dashboard, waiter}, return_when=asyncio.FIRST_COMPLETED)
    for task in (dashboard, waiter):
        task.cancel()


def cmd_down(args: argparse.Namespace) -> int:
    if args.all:
        return _down_all()
    return _down(args.state_dir)


def _down(state_dir: Path, supervisor: int | None = None, prefix: str = "") -> int:
    """Stop the system of `state_dir`: its control API's shutdown, else SIGTERM to its
    registered supervisor (one still starting has no control API yet); then leftovers."""
    from mesh.local import registry
    from mesh.local.control import ControlClient
    from mesh.local.process import PidRegistry

    client = ControlClient(state_dir)
    try:
        supervisor = int(json.loads((state_dir / "control.json").read_text())["pid"])
        asyncio.run(client.shutdown())
    except (NotRunning, OSError, ValueError, KeyError):
        supervisor = supervisor or registry.supervisor_of(state_dir)
        if supervisor is None:
            killed = PidRegistry.kill_leftovers(state_dir / "pids.json")
            print(
                f"{prefix}not running; cleaned up {killed} leftover process(es)"
                if killed
                else f"{prefix}not running"
            )
            return 0
        with contextlib.suppress(ProcessLookupError):
            os.kill(supervisor, signal.SIGTERM)  # stops like Ctrl-C, children first
    deadline = time.monotonic() + 30
    while _alive(supervisor) and time.monotonic() < deadline:  # it exits after its children
        time.sleep(0.1)
    if _alive(supervisor):
        return fail(f"`voting up` (pid {supervisor}) did not stop within 30 s")
    print(f"{prefix}stopped")
    return 0


def _down_all() -> int:
    """Stop every registered system; clean up after those a SIGKILL left behind."""
    from mesh.local import registry
    from mesh.local.process import PidRegistry

    entries = registry.entries()
    live = [e for e in entries if e.running]
    live_dirs = {e.state_dir for e in live}
    failed = 0
    for entry in live:
        if _down(entry.state_dir, entry.pid, prefix=f"{entry.state_dir}: ") != 0:
            failed += 1
        elif not entry.running:
            registry.unregister(entry.path)
    for entry in entries:
        if entry in live:
            continue
        if entry.state_dir not in live_dirs:  # never the children of a live system
            PidRegistry.kill_leftovers(entry.state_dir / "pids.json")
        registry.unregister(entry.path)
    if not live:
        print("no local system running")
    return 1 if failed else 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited, not yet reaped by its parent) counts as stopped
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
