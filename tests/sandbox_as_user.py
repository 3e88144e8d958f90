"""Run one sandboxed program from JSON on stdin and print its outcome as JSON.

The attack tests start this script as another user (``nobody``), with a Python that user can
run, so it loads ``agent/sandbox.py`` by its path: that module needs the standard library only.
"""

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path


def main() -> None:
    """Load the sandbox module by its path, run the request, print the outcome."""
    spec = importlib.util.spec_from_file_location(
        "sandbox", Path(__file__).resolve().parents[1] / "agent" / "sandbox.py"
    )
    assert spec and spec.loader
    sandbox = importlib.util.module_from_spec(spec)
    sys.modules["sandbox"] = sandbox
    spec.loader.exec_module(sandbox)
    request = json.loads(sys.stdin.read())
    outcome = sandbox.run_python(request.pop("source"), **request)
    print(json.dumps(dataclasses.asdict(outcome)))


if __name__ == "__main__":
    main()
