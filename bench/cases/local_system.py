"""Cases 3 and 4, local system and observer: `voting up`'s time to ready and the memory
(RSS, PSS) of every process it runs at steps 1 and 4, and the CPU of the dashboard
(`voting observe`) over a minute of refreshes. The observer runs inside case 3's `voting up`,
so both cases live here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from bench import load
from bench.cases.common import Context, drop_databases
from bench.procs import LocalUp, cpu_seconds, pss_bytes, rss_bytes
from bench.report import Report, Row, at_most


def local_system(ctx: Context) -> None:
    """Time to ready and memory at steps 1 and 4; a full run also measures the previous
    design (one exec'd interpreter per function) in the same run, for the ratio."""
    designs = ["forked"] if ctx.report.quick else ["forked", "exec"]
    for design in designs:
        _local_system_with(ctx, design, with_observer=design == "forked")


_DESIGN_NOTE = {
    "forked": "functions forked from one pre-imported host",
    "exec": "previous design: one exec'd interpreter per function",
}


def _local_system_with(ctx: Context, design: str, with_observer: bool) -> None:
    report = ctx.report
    case = "3 local system"
    label = "" if design == "forked" else f" [{design}]"
    redis_port = ctx.ports.take()
    ctx.children.redis(redis_port)
    telemetry = shutil.which("prometheus") is not None
    up = LocalUp(ctx.children, ctx.workdir / f"up-state-{design}", ctx.ports.take())
    database = f"voting_bench_{uuid.uuid4().hex[:8]}"
    ctx.log(f"local system: voting up --function-processes {design}")
    try:
        up.start(
            step="deploy",
            redis_url=f"redis://127.0.0.1:{redis_port}/0",
            database=database,
            telemetry=telemetry,
            ports=ctx.ports,
            function_processes=design,
        )
        note = "with Prometheus" if telemetry else "Prometheus not installed: without telemetry"
        report.add(
            Row(
                case,
                f"voting up: time to ready (step 1){label}",
                up.ready_seconds,
                "s",
                "<= 10 s",
                at_most(up.ready_seconds, 10),
                note=f"{note}; {_DESIGN_NOTE[design]}",
            )
        )
        up.wait_settled()
        _memory_rows(report, case, up, f"step 1{label}")
        if with_observer:
            observer(ctx, up)
        ctx.log("local system: step 4 (canary), the step with the most processes")
        up.step("canary")
        up.wait_settled()
        _memory_rows(report, case, up, f"step 4 (most pods){label}")
    finally:
        up.stop()
        drop_databases([database])


def _memory_rows(report: Report, case: str, up: LocalUp, when: str) -> None:
    """Summed RSS (the goal's measure) and PSS (shared pages split between their users)."""
    pids = up.pids()
    rss = sum(rss_bytes(pid) for pid in pids) / 1e6
    pss = sum(pss_bytes(pid) for pid in pids) / 1e6
    envoys = sum(1 for name in up.process_names() if "istio" in name or "ingress" in name)
    report.add(
        Row(
            case,
            f"RSS of all processes, {when}",
            rss,
            "MB",
            "<= 600 MB",
            at_most(rss, 600),
            note=f"{len(pids)} processes incl. the supervisor ({envoys} Envoys); shared pages "
            "(the Envoy binary, Python) counted once per process; Redis/MariaDB not included",
        )
    )
    report.add(
        Row(
            case,
            f"PSS of all processes, {when}",
            pss,
            "MB",
            "<= 600 MB",
            at_most(pss, 600),
            note="proportional set size: what the processes really occupy together",
        )
    )


def observer(ctx: Context, up: LocalUp) -> None:
    """CPU of `voting observe` (in tmux, a real terminal) while pages are served."""
    case = "4 observer"
    metric = "dashboard CPU over refreshes"
    why_not = (
        "not measured yet: observer.app does not exist"
        if importlib.util.find_spec("observer.app") is None
        else "not measured: tmux is not installed"
        if shutil.which("tmux") is None
        else None
    )
    if why_not:
        ctx.report.add(Row(case, metric, None, "%", "<= 10% of a core", note=why_not))
        return
    session = f"voting-bench-{uuid.uuid4().hex[:6]}"
    # The dashboard dies with the tmux server, the server with the bench (see bench.procs).
    guard = "setpriv --pdeathsig TERM " if shutil.which("setpriv") else ""
    command = f"exec {guard}{sys.executable} -m voting observe --state-dir {up.state_dir}"
    server = ctx.children.tmux_server()
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}  # also from inside a tmux
    tmux = ["tmux", "-S", str(server)]
    new_session = [*tmux, "new-session", "-d", "-s", session, "-x", "160", "-y", "50", command]
    subprocess.run(new_session, check=True, env=env)
    halt = threading.Event()
    traffic = threading.Thread(target=_light_traffic, args=(up.url, halt), daemon=True)
    traffic.start()
    try:
        pane = subprocess.run(
            [*tmux, "list-panes", "-t", session, "-F", "#{pane_pid}"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        pid = int(pane.stdout.split()[0])
        time.sleep(5)  # start-up (imports, first layout) is not what we measure
        before, started = cpu_seconds(pid), time.monotonic()
        time.sleep(ctx.durations.observe)
        used, elapsed = cpu_seconds(pid) - before, time.monotonic() - started
        alive = Path(f"/proc/{pid}").exists()
        screen = subprocess.run(
            [*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True, env=env
        ).stdout
    finally:
        halt.set()
        traffic.join(10)
        subprocess.run([*tmux, "kill-server"], capture_output=True, env=env)
    share = used / elapsed * 100
    note = f"{elapsed:.0f} s of refreshes with 10 req/s of traffic"
    if not alive or not screen.strip():
        note += "; WARNING: the dashboard was not running at the end"
        share_row = Row(case, metric, None, "%", "<= 10% of a core", note=note)
    else:
        share_row = Row(case, metric, share, "% of a core", "<= 10%", at_most(share, 10), note=note)
    ctx.report.add(share_row)


def _light_traffic(url: str, halt: threading.Event) -> None:
    while not halt.is_set():
        with contextlib.suppress(Exception):
            load.open_loop(url, rate=10, duration=2)
