"""Where a figure comes from: the command that produced it, the code version, the machine and the time."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Settings read from the environment that change what a suite or bench measures.
MEASURING_ENV = ("CONTRACT_EXAMPLES", "FUZZ_LIVE_ARGS", "BENCH_SIZES", "REQUIRE_SERVICES")


def code_version() -> str:
    """`git describe --always --dirty` of the checkout (a dirty tree is marked), or "unknown" outside git."""
    try:
        found = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return found.stdout.strip() or "unknown"


def command() -> str:
    """The command line of this process as someone would type it from the checkout."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    argv0 = Path(sys.argv[0]).name if sys.argv else "python"
    if spec is not None and spec.name:
        words = ["python", "-m", spec.name.removesuffix(".__main__"), *sys.argv[1:]]
    elif argv0 in ("pytest", "py.test"):
        words = ["python", "-m", "pytest", *sys.argv[1:]]
    else:
        words = ["python", *sys.argv]
    env = [f"{name}={os.environ[name]}" for name in MEASURING_ENV if os.environ.get(name)]
    return shlex.join([*env, *words])


def machine() -> dict:
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        models = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
        ]
        cpu = models[0] if models else cpu
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def provenance() -> dict:
    """What a result file records about its run."""
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command(),
        "code_version": code_version(),
        "machine": machine(),
    }
