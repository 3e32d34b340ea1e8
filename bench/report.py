"""Benchmark figures next to their goals: the printed table, Markdown, and the JSON file."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One measured figure; `passed` is None when the figure has no goal (context only)."""

    case: str
    metric: str
    value: float | None
    unit: str = ""
    goal: str = ""
    passed: bool | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "not measured"
        if self.passed is None:
            return ""
        return "PASS" if self.passed else "FAIL"

    def shown(self) -> str:
        if self.value is None:
            return "-"
        value = self.value
        if abs(value) >= 100:
            text = f"{value:,.0f}"
        elif abs(value) >= 10:
            text = f"{value:.1f}"
        else:
            text = f"{value:.2f}"
        return f"{text} {self.unit}".strip()


def at_least(value: float | None, goal: float) -> bool | None:
    return None if value is None else value >= goal


def at_most(value: float | None, goal: float) -> bool | None:
    return None if value is None else value <= goal


@dataclass
class Report:
    """All rows of one run plus the machine it ran on."""

    quick: bool
    command: str
    rows: list[Row] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    machine: dict[str, Any] = field(default_factory=dict)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def describe_machine(self) -> None:
        self.machine = machine_info()

    def to_json(self) -> dict[str, Any]:
        return {
            "quick": self.quick,
            "command": self.command,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "seconds": round(time.time() - self.started, 1),
            "machine": self.machine,
            "rows": [asdict(r) | {"verdict": r.verdict} for r in self.rows],
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2))
        os.replace(tmp, path)

    def table(self) -> str:
        headers = ("case", "metric", "measured", "goal", "result")
        cells = [(r.case, r.metric, r.shown(), r.goal, r.verdict) for r in self.rows]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        out = [line, "  ".join("-" * w for w in widths)]
        out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
        notes = [
            f"  [{i}] {r.case} / {r.metric}: {r.note}" for i, r in enumerate(self.rows) if r.note
        ]
        if notes:
            out += ["", "notes:", *notes]
        return "\n".join(out)

    def markdown(self) -> str:
        out = [
            "| case | metric | measured | goal | result | note |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for r in self.rows:
            note = r.note.replace("|", "\\|")
            out.append(f"| {r.case} | {r.metric} | {r.shown()} | {r.goal} | {r.verdict} | {note} |")
        return "\n".join(out)

    def summary(self) -> str:
        judged = [r for r in self.rows if r.passed is not None]
        passed = sum(1 for r in judged if r.passed)
        unmeasured = sum(1 for r in self.rows if r.value is None)
        return f"{passed} of {len(judged)} goals met, {unmeasured} not measured"


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, kernel, load: enough to compare runs honestly."""
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().split()
        info["memory_gib"] = round(int(mem[1]) / 1024 / 1024, 1)
        info["load_average_at_start"] = os.getloadavg()
    except (OSError, IndexError, ValueError):
        pass
    return info
