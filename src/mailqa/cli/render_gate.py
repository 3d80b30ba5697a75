"""``mailqa check --render DIR`` and the visual baseline: renders of the checked files as PNGs,
compared with a baseline folder of earlier renders.

Layout of ``DIR``: one folder per checked file, named by its path (``templates/welcome.html/``),
holding ``VARIANT.png`` (full length) and ``VARIANT.fold.png`` (above the fold) for each
variant, and ``diff/…/VARIANT.png`` for each render that differs from its baseline. The
baseline folder holds the full-length PNGs in the same layout. Two names made the same by
the folder's safe spelling (``a b.eml``, ``a_b.eml``) get distinct folders: ``a_b.eml/`` and
``a_b.eml-2/`` (in the order rendered).
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mailqa.core.errors import ConfigError
from mailqa.render.variants import Variant, pick_variants
from mailqa.render.visual import DEFAULT_THRESHOLD, VisualResult, compare

DEFAULT_RENDER_DIR = "mailqa-renders"
DEFAULT_VISUAL_BASELINE = "mailqa-visual-baseline"
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


@dataclass
class RenderPlan:
    directory: Path
    variants: tuple[Variant, ...]
    baseline: Path | None = None
    write_baseline: bool = False
    threshold: float = DEFAULT_THRESHOLD
    allow_remote_images: bool = False
    chromium: str | None = None
    """The Chromium executable (None: the renderer's default)."""


@dataclass
class FileRenders:
    """What one file's renders gave: PNG paths relative to the plan's directory, by variant
    (full length, above the fold), its render warnings and errored variants."""

    folder: PurePosixPath
    pngs: dict[str, tuple[PurePosixPath, PurePosixPath]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errored: list[str] = field(default_factory=list)


@dataclass
class RenderOutcome:
    written: int = 0
    files: int = 0
    errored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    visual: list[VisualResult] = field(default_factory=list)
    by_file: dict[str, FileRenders] = field(default_factory=dict)
    """The files with an HTML part, by name (a file without one renders nothing)."""

    @property
    def failed(self) -> bool:
        return bool(self.errored) or any(v.failed for v in self.visual)


def plan_renders(
    *,
    render_dir: Path | None,
    baseline: Path | None,
    write_baseline: bool,
    variants: list[str],
    threshold: float | None,
    allow_remote_images: bool,
) -> RenderPlan | None:
    """The render work the options ask for, or None when they ask for none."""
    if render_dir is None and baseline is None and not write_baseline:
        if variants or threshold is not None:
            raise ConfigError("--render-variants and --visual-threshold need --render DIR")
        return None
    if threshold is not None and not 0 <= threshold <= 1:
        raise ConfigError("--visual-threshold must be between 0 and 1")
    try:
        chosen = pick_variants(variants)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if write_baseline and baseline is None:
        baseline = Path(DEFAULT_VISUAL_BASELINE)
    return RenderPlan(
        directory=render_dir or Path(DEFAULT_RENDER_DIR),
        variants=chosen,
        baseline=baseline,
        write_baseline=write_baseline,
        threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
        allow_remote_images=allow_remote_images,
    )


def folder_for(name: str) -> PurePosixPath:
    """A relative folder for a checked file's renders: its path, made safe."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("/", "..", ".")]
    safe = [_UNSAFE.sub("_", p).strip("_") or "_" for p in parts]
    return PurePosixPath(*safe) if safe else PurePosixPath("stdin")


def _distinct(folder: PurePosixPath, used: set[PurePosixPath]) -> PurePosixPath:
    """``folder``, or ``folder-2``, ``folder-3``… when an earlier file took it."""
    candidate, n = folder, 2
    while candidate in used:
        candidate = folder.with_name(f"{folder.name}-{n}")
        n += 1
    used.add(candidate)
    return candidate


def run_renders(plan: RenderPlan, files: Sequence[tuple[str, bytes]]) -> RenderOutcome:
    """Render ``files`` ((name, raw message) pairs) as ``plan`` says."""
    return asyncio.run(_run(plan, files))


async def _run(plan: RenderPlan, files: Sequence[tuple[str, bytes]]) -> RenderOutcome:
    from mailqa.core.message import ParsedMessage
    from mailqa.render import RenderConfig, Renderer

    outcome = RenderOutcome()
    config = RenderConfig(allow_remote_images=plan.allow_remote_images)
    if plan.chromium is not None:
        config.executable = plan.chromium
    try:
        renderer = Renderer(config)
        await renderer.start()
    except Exception as exc:
        raise ConfigError(f"cannot start Chromium ({config.executable}) to render: {exc}") from exc
    used: set[PurePosixPath] = set()
    try:
        for name, raw in files:
            msg = ParsedMessage(raw)
            if not msg.html:
                continue
            outcome.files += 1
            relative = _distinct(folder_for(name), used)
            mine = outcome.by_file[name] = FileRenders(relative)
            folder = plan.directory / relative
            folder.mkdir(parents=True, exist_ok=True)
            rendered = await renderer.render_message(msg, plan.variants)
            mine.warnings.extend(rendered.warnings)
            outcome.warnings.extend(f"{name}: {w}" for w in rendered.warnings)
            for render in rendered.renders:
                variant = render.variant.name
                if render.status != "ok" or render.full_png is None or render.fold_png is None:
                    mine.errored.append(f"{variant}: {render.error}")
                    outcome.errored.append(f"{name}: {variant}: {render.error}")
                    continue
                full = folder / f"{variant}.png"
                full.write_bytes(render.full_png)
                (folder / f"{variant}.fold.png").write_bytes(render.fold_png)
                mine.pngs[variant] = (relative / full.name, relative / f"{variant}.fold.png")
                outcome.written += 2
                if plan.baseline is None:
                    continue
                target = plan.baseline / relative / f"{variant}.png"
                if plan.write_baseline:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(full, target)
                    continue
                diff = plan.directory / "diff" / relative / f"{variant}.png"
                result = await asyncio.to_thread(
                    compare,
                    f"{name}: {variant}",
                    full,
                    target,
                    diff,
                    threshold=plan.threshold,
                )
                outcome.visual.append(result)
    finally:
        await renderer.close()
    return outcome


def report_lines(plan: RenderPlan, outcome: RenderOutcome) -> list[str]:
    """What the run says about the renders (on standard error)."""
    lines = [
        f"mailqa: rendered {len(plan.variants)} variant(s) of {outcome.files} file(s) to "
        f"{plan.directory} ({outcome.written} PNGs; emulated, not real client screenshots)"
    ]
    lines += [f"render warning: {w}" for w in outcome.warnings]
    lines += [f"render errored: {e}" for e in outcome.errored]
    if plan.baseline is not None and plan.write_baseline:
        lines.append(f"mailqa: wrote the visual baseline to {plan.baseline}")
    for result in outcome.visual:
        if result.status == "new":
            lines.append(
                f"visual new: {result.name}: {result.detail} (run --write-visual-baseline)"
            )
        elif result.status == "changed":
            lines.append(
                f"visual change: {result.name}: {result.detail} (diff: {result.diff_path})"
            )
    if outcome.visual:
        changed = sum(1 for v in outcome.visual if v.failed)
        lines.append(
            f"mailqa: visual baseline {plan.baseline}: {len(outcome.visual) - changed} same, "
            f"{changed} changed or new"
        )
    return lines
