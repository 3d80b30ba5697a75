"""Benchmark the one-template gate: ``mailqa check --checks html FILE`` as a whole process
against the caniemail npm checker on the same file (``bench/caniemail_one.mjs``), in the
same run.

    .venv/bin/python bench/one_template.py [FILE] [--runs 20]

Each round starts both commands once, in alternating order, so that load from other work on
the machine falls on both alike; the figures are the medians (and the fastest run) of the
wall time and of the CPU time (user + system) of each process, and the ratio of the medians.
The load average is printed before and after: on a loaded machine wall times grow, CPU times
much less. ``mailqa`` is started the way its console script starts it (the entry point in
pyproject.toml), with a bytecode cache (a normal install) kept in a temporary folder. Needs
``npm install`` in bench/ (caniemail is pinned in bench/package.json).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEFAULT_FILE = ROOT / "tests" / "html" / "verdicts" / "clean-hybrid-vml-buttons.html"


def mailqa_command() -> list[str]:
    """What the ``mailqa`` console script runs: its entry point, from pyproject.toml."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
    module, _, function = scripts["mailqa"].partition(":")
    code = f"import sys; from {module} import {function}; sys.exit({function}())"
    return [sys.executable, "-c", code]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit code) of one run, its output discarded."""
    cpu = _children_cpu()
    started = time.perf_counter()
    code = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd
    ).returncode
    return time.perf_counter() - started, _children_cpu() - cpu, code


def _ms(values: list[float]) -> str:
    median, fastest = statistics.median(values) * 1000, min(values) * 1000
    return f"median {median:6.0f} ms, fastest {fastest:6.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--runs", type=int, default=20, help="Runs of each command.")
    parser.add_argument(
        "--clients",
        default="apple-mail.*,gmail.*,outlook.*,yahoo.*,samsung-email.*",
        help="Target clients of the npm checker (mailqa's default targets).",
    )
    args = parser.parse_args()
    file = args.file.resolve()
    if not (BENCH / "node_modules" / "caniemail").is_dir():
        sys.exit("bench/node_modules lacks caniemail: run npm install in bench/")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        env["PYTHONPATH"] = str(ROOT / "src")
        commands = {
            "mailqa": [*mailqa_command(), "check", "--checks", "html", str(file)],
            "npm": ["node", str(BENCH / "caniemail_one.mjs"), str(file), args.clients],
        }
        print(f"{file.name} ({file.stat().st_size / 1024:.1f} KB), {args.runs} runs each")
        print(f"  mailqa: mailqa check --checks html {file.name}")
        print(f"  npm:    node caniemail_one.mjs {file.name} {args.clients}")
        codes: dict[str, set[int]] = {name: set() for name in commands}
        for name, command in commands.items():  # warm up: bytecode cache, file cache
            codes[name].add(timed(command, env, ROOT)[2])
        load_before = os.getloadavg()
        wall: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        order = list(commands)
        for _ in range(args.runs):
            for name in order:
                seconds, used, code = timed(commands[name], env, ROOT)
                wall[name].append(seconds)
                cpu[name].append(used)
                codes[name].add(code)
            order.reverse()
        load_after = os.getloadavg()
    print(
        f"load average (1, 5, 15 min): before {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after {', '.join(f'{x:.2f}' for x in load_after)}; {os.cpu_count()} CPUs"
    )
    for name in commands:
        print(
            f"{name:7s} wall {_ms(wall[name])}; CPU {_ms(cpu[name])} "
            f"(exit {', '.join(map(str, sorted(codes[name])))})"
        )
    wall_ratio = statistics.median(wall["mailqa"]) / statistics.median(wall["npm"])
    cpu_ratio = statistics.median(cpu["mailqa"]) / statistics.median(cpu["npm"])
    print(f"ratio mailqa/npm (medians): wall {wall_ratio:.2f}x, CPU {cpu_ratio:.2f}x")


if __name__ == "__main__":
    main()
