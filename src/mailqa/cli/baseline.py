"""Baselines: record today's findings once, then fail only on new ones.

A baseline is a JSON file mapping each file (relative to the baseline's folder, ``/``
separators) to finding fingerprints with counts. Fingerprints are made from what a finding
is (rule and the source text at it), not where, so edits elsewhere in a template don't turn
old findings into new ones; counts make a second copy of an old problem count as new.

Version 2 fingerprints take the source text from the finding's position on; version 1 took
the snippet around it (which re-indenting changed). A version 1 baseline is still read and
matched by its fingerprints; ``--write-baseline`` rewrites it as version 2.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from mailqa import __version__
from mailqa.cli.gate import FindingState, GateRun
from mailqa.core.errors import ConfigError

BASELINE_VERSION = 2
READABLE_VERSIONS = (1, BASELINE_VERSION)


class BaselineEntry(BaseModel):
    fingerprint: str
    rule: str
    check: str
    count: int = Field(1, ge=1)
    title: str = ""
    line: int | None = Field(None, description="Where it was first seen (informative).")


class BaselineFile(BaseModel):
    version: int = BASELINE_VERSION
    tool: str = "mailqa"
    tool_version: str = __version__
    files: dict[str, list[BaselineEntry]] = Field(default_factory=dict)

    def counts_for(self, key: str) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for entry in self.files.get(key, []):
            counts[entry.fingerprint] += entry.count
        return dict(counts)


def baseline_key(file_path: str, baseline_path: Path) -> str:
    """How a checked file is named in the baseline: relative to the baseline's folder."""
    if file_path == "<stdin>":
        return file_path
    folder = Path(os.path.abspath(baseline_path)).parent
    absolute = Path(os.path.abspath(file_path))
    try:
        return absolute.relative_to(folder).as_posix()
    except ValueError:
        return absolute.as_posix()


def load_baseline(path: Path) -> BaselineFile:
    if not path.is_file():
        raise ConfigError(f"baseline file not found: {path} (create it with --write-baseline)")
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"baseline {path} is not readable JSON: {exc}") from exc
    try:
        baseline = BaselineFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"baseline {path} is invalid at '{where}': {first['msg']}") from exc
    if baseline.version not in READABLE_VERSIONS:
        readable = " and ".join(str(v) for v in READABLE_VERSIONS)
        raise ConfigError(
            f"baseline {path} has version {baseline.version}; this mailqa reads versions "
            f"{readable}: re-create it with --write-baseline"
        )
    return baseline


def build_baseline(run: GateRun, path: Path) -> BaselineFile:
    """Every finding not ignored (whatever its severity) becomes part of the baseline."""
    baseline = BaselineFile()
    for file in run.files:
        entries: dict[str, BaselineEntry] = {}
        for f in file.findings:
            if f.state == FindingState.IGNORED:
                continue
            entry = entries.get(f.fingerprint)
            if entry is None:
                entries[f.fingerprint] = BaselineEntry(
                    fingerprint=f.fingerprint,
                    rule=f.rule,
                    check=f.check,
                    title=f.finding.title,
                    line=f.line,
                )
            else:
                entry.count += 1
        if entries:
            baseline.files[baseline_key(file.path, path)] = sorted(
                entries.values(), key=lambda e: (e.line is None, e.line or 0, e.rule, e.fingerprint)
            )
    baseline.files = dict(sorted(baseline.files.items()))
    return baseline


def write_baseline(baseline: BaselineFile, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(baseline.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
