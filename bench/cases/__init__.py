"""The benchmarks, one module per case. Each adds its rows (figure, goal, pass/fail) to the report.

    common.py        what several cases share: the original's figures, rates, the run's
                     Durations and Context, the measure of one path, dropping databases
1. mesh_cost.py    the same three functions called directly, then through the ingress and
                   STRICT-mTLS sidecars (step 3): saturation (wrk) and a held 200 req/s
2. read_cost.py    results latency with 10^3 vs 10^6 recorded votes, Redis and MySQL
3. local_system.py `voting up`: time to ready, RSS of every process it runs
4.                 observer: CPU of the dashboard process over a minute of refreshes (in
                   local_system.py, it runs inside case 3's `voting up`)
5. durability.py   vote throughput with Redis `appendfsync everysec` (what `voting up` runs)
                   vs `no` (and `always`), on one Redis switched with CONFIG SET
6. overload.py     votes offered at 1x, 2x, 3x saturation: goodput, shed share, admitted p99
                   (the load offering itself is bench/overload.py)
"""
