"""`careloop bench`: the engine's benchmarks, each measured beside the ceiling it is compared with.

One module per workload (core, connectors, throughput, rebuild, latency, timers, memory), each with a
``run(ctx) -> list[Result]``; runner.py runs them, report.py prints the table and writes bench/results/*.json.
Numbers live only in that output and in BENCHMARKS.md: no test asserts them.
"""
