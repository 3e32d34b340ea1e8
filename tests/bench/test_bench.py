"""The bench's own parts: reading wrk, percentiles, the report; and a --quick smoke run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.load import LoadResult, parse_wrk, percentile
from bench.report import Report, Row, at_least, at_most

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:46003/
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    65.28ms   20.12ms 301.55ms   80.01%
    Req/Sec   386.10     60.07   505.00     71.00%
  Latency Distribution
     50%   61.90ms
     75%   71.23ms
     90%   86.10ms
     99%    1.21s
  7712 requests in 10.04s, 32.86MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:    768.12
Transfer/sec:      3.27MB
"""


def test_wrk_output_is_read_with_units_and_errors() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result == LoadResult(
        requests=7712, seconds=10.04, rps=768.12, p50_ms=61.9, p99_ms=1210.0, errors=9
    )


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0


def test_goals_pass_fail_and_unmeasured_rows_show_as_such() -> None:
    report = Report(quick=True, command="voting bench --quick")
    report.add(Row("c", "fast", 800.0, "req/s", ">= 690", at_least(800.0, 690)))
    report.add(Row("c", "slow", 2.0, "ms", "<= 1 ms", at_most(2.0, 1.0)))
    report.add(Row("c", "later", None, "%", "<= 10%", note="not measured yet"))
    table = report.table()
    assert "PASS" in table and "FAIL" in table and "not measured" in table
    assert report.summary() == "1 of 2 goals met, 1 not measured"
    assert [r["verdict"] for r in report.to_json()["rows"]] == ["PASS", "FAIL", "not measured"]
    assert report.markdown().count("\n") == 4


@pytest.mark.e2e
def test_voting_bench_quick_runs_every_case_and_writes_json(tmp_path: Path) -> None:
    """The CI smoke run: every case runs and yields figures (goals are reported, not enforced)."""
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "voting",
            "bench",
            "--quick",
            "--json",
            str(out),
            "--port-base",
            "17000",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    cases = {row["case"] for row in rows}
    assert {"1 mesh cost", "2 read cost", "3 local system", "4 observer"} <= cases
    measured = [row for row in rows if row["case"] != "4 observer"]
    assert all(row["value"] is not None for row in measured)
