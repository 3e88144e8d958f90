"""What isolation costs: milliseconds added per sandboxed run, per backend.

Command: .venv/bin/python benchmarks/sandbox_cost.py [--runs 30]

Each run starts the interpreter on a one-line program. "bare" is the same interpreter started
with ``python -I -S`` and nothing else; the difference is what the sandbox adds (its setup,
namespaces, mounts, filter, hook and the folder it makes and removes).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from _common import machine

from agent import sandbox


def timed(run: object, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    python = sandbox._interpreter()
    bare = timed(lambda: subprocess.run([python, "-I", "-S", "-c", "pass"], check=True), runs)
    print(f"{machine()}; {runs} runs each; median (p90) ms")
    print(f"| bare interpreter | {statistics.median(bare):.0f} | – |")
    for backend in ("bubblewrap", "namespaces"):
        try:
            sandbox.run_python("pass", backend=backend)  # type: ignore[arg-type]
        except sandbox.SandboxUnavailable as exc:
            print(f"| {backend} | unavailable: {exc} |")
            continue
        got = timed(lambda b=backend: sandbox.run_python("pass", backend=b), runs)
        added = statistics.median(got) - statistics.median(bare)
        p90 = statistics.quantiles(got, n=10)[-1]
        print(f"| {backend} | {statistics.median(got):.0f} ({p90:.0f}) | +{added:.0f} |")


if __name__ == "__main__":
    main()
