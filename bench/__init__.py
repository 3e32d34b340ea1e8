"""`voting bench`: how fast the mesh path is, measured against the functions called directly.

    load.py     the load generators: wrk at saturation, an open-loop client at a fixed rate
    procs.py    processes the bench starts (functions, private Redis, `voting up`), CPU and RSS
    cases/      the six benchmarks, one module each: mesh cost, read cost, local system and observer, durability, overload
    report.py   rows with their goals, the table and the JSON file
    cli.py      `voting bench [--quick]`

Every load targets 127.0.0.1 only, is bounded in count and time, and every process the
bench starts is stopped again, also on failure or Ctrl-C.
"""
