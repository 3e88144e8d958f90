"""Prompt and generation speed of whichever llama-cpp-python build this Python has.

Command (once per build, each in its own virtual environment):
    PYTHON benchmarks/runtime_speed.py MODEL.gguf --threads 2 --tokens 128 --runs 3

Standard library and llama_cpp only, so it runs in a bare venv that holds just a runtime
build. Prints one JSON line: the build's compiled features, the CPU, and tok/s per run.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from llama_cpp import Llama, llama_print_system_info

PROMPT = (
    "A farmer has 3 pens with 12 chickens in each pen. He sells 7 chickens and buys twice as "
    "many ducks as he has pens. Each duck lays 5 eggs a week and each chicken 4. "
) * 6


def cpu() -> tuple[str, bool]:
    text = Path("/proc/cpuinfo").read_text()
    name = next(
        (
            line.split(":", 1)[1].strip()
            for line in text.splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return name, " amx_tile" in text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    llm = Llama(model_path=args.model, n_ctx=1024, n_threads=args.threads, verbose=False)
    tokens = llm.tokenize(PROMPT.encode())
    prompt_speeds, gen_speeds = [], []
    for _ in range(args.runs):
        llm.reset()
        started = time.perf_counter()
        llm.eval(tokens)
        prompt_speeds.append(len(tokens) / (time.perf_counter() - started))
        started, made = time.perf_counter(), 0
        for _token in llm.generate([], temp=0.0, reset=False):
            made += 1
            if made == args.tokens:
                break
        gen_speeds.append(made / (time.perf_counter() - started))
    name, amx = cpu()
    print(
        json.dumps(
            {
                "build": llama_print_system_info().decode().strip(),
                "cpu": name,
                "amx_tile_listed": amx,
                "threads": args.threads,
                "prompt_tokens": len(tokens),
                "prompt_tok_s": [round(x, 1) for x in prompt_speeds],
                "generation_tok_s": [round(x, 1) for x in gen_speeds],
            }
        )
    )


if __name__ == "__main__":
    main()
