"""Benchmark ``mailqa check`` as a CI gate: 200 generated templates, offline.

Prints files/s, the time to first output (from process start to the first byte of the
text output) and the CPU time used, for the default (automatic) job count and for one
process, with the CPU time other processes used meanwhile (Linux): a run is only
representative when that is near zero. Goal: the 200-template library in under 10 s. The
CPU time per file is the figure to compare across machines: wall time depends on free cores
and other load.

    .venv/bin/python bench/gate.py [--files 200] [--runs 1]
    .venv/bin/python bench/gate.py --vs-npm [--templates DIR] [--files 400] [--runs 3]

``--vs-npm``: ``mailqa check --checks html --format json`` over the folder (default jobs: both
cores) against the caniemail npm checker writing one JSON document for the same folder
(``bench/caniemail_dir.mjs``, a whole ``node`` process too), on the clients the npm checker
has data for in every feature, alternating per round; prints files/s of each, the ratio, and
the JSON size per template. ``--templates DIR``: real templates (``*.html``, copied round-robin
up to ``--files``) instead of generated ones. Needs ``npm install`` in bench/.

Python compiles the sources on each start when bytecode caching is off
(PYTHONDONTWRITEBYTECODE); the figures are given with a bytecode cache (a normal install)
kept in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
MAILQA = [sys.executable, "-m", "mailqa.cli.main", "check"]

HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  body {{ margin: 0; padding: 0; background: #f4f4f4; font-family: Helvetica, Arial, sans-serif; }}
  .wrapper {{ width: 100%; max-width: 600px; margin: 0 auto; }}
  .button {{ display: inline-block; border-radius: 4px; padding: 12px 24px; }}
  @media (max-width: 600px) {{ .column {{ display: block !important; width: 100% !important; }} }}
  @media (prefers-color-scheme: dark) {{ body {{ background: #111; color: #eee; }} }}
</style>
</head>
<body>
<div style="display:none;max-height:0;overflow:hidden">{preheader}</div>
<table role="presentation" class="wrapper" width="600" cellpadding="0" cellspacing="0">
"""
ROW = """<tr>
  <td class="column" style="padding: 16px; font-size: 16px; line-height: 24px; color: #333333;">
    <h2 style="margin: 0 0 8px 0;">{heading}</h2>
    <p style="margin: 0 0 12px 0;">{text}</p>
    <img src="https://cdn.shop.com/img/{n}.png" width="560" height="200" alt="{heading}"
      style="display:block;border:0">
    <a class="button" href="https://shop.com/p/{n}?utm_source=mail"
      style="background:#0a7;color:#fff;text-decoration:none">Shop now</a>
  </td>
</tr>
"""
FOOT = """<tr><td style="padding: 16px; font-size: 12px; color: #888;">
  <a href="https://shop.com/unsubscribe">Unsubscribe</a> · <a href="https://shop.com/prefs">Preferences</a>
</td></tr>
</table>
</body>
</html>
"""
WORDS = [
    *[
        "offer",
        "spring",
        "collection",
        "shipping",
        "free",
        "order",
        "account",
        "update",
        "discover",
        "new",
        "arrivals",
    ],
    *[
        "season",
        "limited",
        "members",
        "rewards",
        "points",
        "exclusive",
        "weekend",
        "style",
        "classic",
        "fresh",
    ],
]


def template(rng: random.Random, n: int) -> str:
    """A newsletter of 5-100 KB."""
    target = rng.choice([5, 10, 20, 40, 70, 100]) * 1024
    parts = [HEAD.format(title=f"Newsletter {n}", preheader="Our picks for you this week")]
    size = len(parts[0])
    row = 0
    while size < target:
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60)))
        chunk = ROW.format(heading=f"Section {row}", text=text, n=n * 1000 + row)
        parts.append(chunk)
        size += len(chunk)
        row += 1
    parts.append(FOOT)
    return "".join(parts)


def _machine_busy() -> float | None:
    """CPU seconds the whole machine has been busy (Linux ``/proc/stat``), or None."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(f) for f in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_gate(
    folder: Path, env: dict[str, str], extra: list[str]
) -> tuple[float, float, float, int, float | None]:
    """(seconds to first output, total seconds, CPU seconds, exit code, CPU seconds used by
    other work on the machine meanwhile) of one gate run."""
    cpu = _children_cpu()
    busy = _machine_busy()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*MAILQA, str(folder), "--color", "never", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=folder,
    )
    assert proc.stdout is not None
    proc.stdout.read(1)
    first = time.perf_counter() - started
    proc.stdout.read()
    code = proc.wait()
    total = time.perf_counter() - started
    used = _children_cpu() - cpu
    busy_after = _machine_busy()
    other = None if busy is None or busy_after is None else max(0.0, busy_after - busy - used)
    return first, total, used, code, other


# The clients the npm checker has data for in every feature (it throws on a gap).
NPM_CLIENTS = ",".join(
    [
        "apple-mail.ios",
        "apple-mail.macos",
        "gmail.desktop-webmail",
        "gmail.android",
        "outlook.windows",
        "outlook.outlook-com",
        "yahoo.desktop-webmail",
    ]
)


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, bytes written to stdout) of one whole process."""
    cpu = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{command[0]} failed ({proc.returncode}): {proc.stderr[-500:]!r}")
    return wall, _children_cpu() - cpu, len(proc.stdout)


def versus_npm(folder: Path, files: int, runs: int, env: dict[str, str]) -> None:
    node = ["node", str(BENCH / "caniemail_dir.mjs"), str(folder), NPM_CLIENTS]
    ours = [*MAILQA, ".", "--checks", "html", "--format", "json", "--clients", NPM_CLIENTS]
    timed(ours, folder, env)  # warm the bytecode cache
    walls: dict[str, list[float]] = {"mailqa": [], "npm": []}
    cpus: dict[str, list[float]] = {"mailqa": [], "npm": []}
    sizes: dict[str, int] = {}
    for n in range(runs):
        order = [("mailqa", ours), ("npm", node)]
        for name, command in order if n % 2 == 0 else order[::-1]:
            wall, cpu, size = timed(command, folder, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
            sizes[name] = size
    for name in ("mailqa", "npm"):
        wall = statistics.median(walls[name])
        print(
            f"{name:7s}: {files / wall:6.1f} files/s ({wall:.2f} s median of {runs}), "
            f"{statistics.median(cpus[name]) / files * 1000:5.1f} CPU ms/file, "
            f"JSON {sizes[name] / files / 1024:.0f} KB/file"
        )
    ratio = statistics.median(walls["npm"]) / statistics.median(walls["mailqa"])
    print(f"mailqa / npm: {ratio:.2f}x the files per second (goal: 3x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=None, help="200; 400 with --vs-npm")
    parser.add_argument("--runs", type=int, default=None, help="1; 3 with --vs-npm")
    parser.add_argument("--templates", type=Path, help="a folder of real *.html templates")
    parser.add_argument("--vs-npm", action="store_true")
    args = parser.parse_args()
    files = args.files or (400 if args.vs_npm else 200)
    runs = args.runs or (3 if args.vs_npm else 1)
    rng = random.Random(8)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "templates"
        folder.mkdir()
        total_bytes = 0
        real = sorted(args.templates.glob("*.html")) if args.templates else []
        if args.templates and not real:
            raise SystemExit(f"no *.html in {args.templates}")
        for n in range(files):
            html = real[n % len(real)].read_bytes() if real else template(rng, n).encode()
            total_bytes += len(html)
            (folder / f"t{n:03d}.html").write_bytes(html)
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        env["PYTHONPATH"] = str(ROOT / "src")
        kind = f"real (from {args.templates})" if real else "generated"
        print(
            f"{files} {kind} templates, {total_bytes / 1024 / 1024:.1f} MB "
            f"(avg {total_bytes / files / 1024:.0f} KB), offline, {os.cpu_count()} CPUs, "
            f"load average before: {os.getloadavg()[0]:.1f}"
        )
        if args.vs_npm:
            versus_npm(folder, files, runs, env)
            print(f"load average after: {os.getloadavg()[0]:.1f}")
            return
        run_gate(folder, env, ["--jobs", "1"])  # warm the bytecode cache
        for label, extra in (("auto jobs", []), ("1 process", ["--jobs", "1"])):
            for _ in range(runs):
                first, total, cpu, code, other = run_gate(folder, env, extra)
                meanwhile = "" if other is None else f", other work {other:.1f} CPU s"
                print(
                    f"{label:10s}: {total:6.2f} s total, {files / total:6.1f} files/s, "
                    f"first output after {first:.2f} s, {cpu:6.2f} CPU s "
                    f"({cpu / files * 1000:.0f} ms/file) (exit {code}){meanwhile}"
                )
        print(f"load average after: {os.getloadavg()[0]:.1f} (the runs themselves included)")


if __name__ == "__main__":
    main()
