"""Replay the repairs code makes (``agent.checks.repair``) on plain IFEval answers, offline.

Command (a tuning slice; never the reported one):
    REFLECT_SHARED_DATA=../shared/data .venv/bin/python benchmarks/accuracy.py --task ifeval \
        --offset 100 --limit 50 --modes baseline --name tuning-ifeval-101-150-plain
    REFLECT_SHARED_DATA=../shared/data .venv/bin/python benchmarks/repairs.py \
        benchmarks/results/tuning-ifeval-101-150-plain.jsonl

Each plain answer is scored by IFEval's own checkers as the model wrote it and as repaired,
and checked against the instructions the agent reads from the prompt. An answer that passes
every one of them after its repair is one the default returns alone (``checked``), so the
count of those that IFEval scores wrong is the cost of that stop.
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tasks import ifeval  # noqa: E402

from agent.checks import check, extract, repair  # noqa: E402


def main(path: Path) -> None:
    config, *lines = [json.loads(line) for line in path.read_text().splitlines()]
    rows = [r for r in lines if r.get("type") == "run"]
    ids = [r["id"] for r in rows]
    records, strict = ifeval(0, 10_000)
    by_id = {r.id: r for r in records if r.id in ids}
    right = fixed_right = repaired = alone = alone_right = 0
    flips = collections.Counter()
    met_count: collections.Counter[str] = collections.Counter()
    left: collections.Counter[str] = collections.Counter()
    for row in rows:
        record = by_id[row["id"]]
        asked = extract(record.question)
        fixed, met = repair(row["output"], asked)
        before, after = strict(row["output"], record), strict(fixed, record)
        right += before
        fixed_right += after
        repaired += bool(met)
        met_count.update(met)
        flips[(before, after)] += 1
        failed = [c["name"] for c in check(fixed, asked) if not c["passed"]]
        left.update(failed)
        if asked and not failed:
            alone += 1
            alone_right += after
    n = len(rows)
    print(f"{path.name}: {n} plain answers ({config['models'][0]})")
    print(f"right as written: {right}/{n}; repaired: {fixed_right}/{n}")
    print(f"  right→wrong {flips[(True, False)]}, wrong→right {flips[(False, True)]}")
    print(f"answers repaired: {repaired}; instructions met: {dict(met_count.most_common())}")
    print(f"pass every instruction the agent reads, after repair: {alone} (right {alone_right})")
    print(f"still failing: {dict(left.most_common())}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
