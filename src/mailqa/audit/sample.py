"""The render sample of an audit: the messages that scored worst, kept while the audit runs
(a heap of at most N entries), read again from their sources once it ends, and rendered
under ``--out``'s ``renders/`` as ``mailqa check --render`` renders files.

Ties in score go to the message that came first in the input (with ``--resume``, the
messages of the earlier run come first; on Celery, results in the order they arrive).
Messages without a score (unreadable, missing) are never sampled.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from mailqa.audit.record import AuditRecord

if TYPE_CHECKING:
    from mailqa.audit.sources import Source

RENDERS = "renders"
"""The folder under ``--out`` the sample's PNGs go to."""
DEFAULT_SAMPLE_VARIANTS = ("desktop-600", "mobile-375", "dark-600", "outlook-windows-600")
"""A wide and a narrow layout, dark mode, and the client that breaks layouts most."""


@dataclass(frozen=True)
class Sampled:
    key: str
    score: float
    position: int
    message_id: int | None = None
    subject: str | None = None


class WorstSample:
    """The ``size`` records of lowest (score, position) offered so far."""

    def __init__(self, size: int) -> None:
        self.size = max(0, size)
        self._heap: list[tuple[float, int, int, Sampled]] = []  # a max-heap, by negation
        self._offered = 0

    def offer(self, record: AuditRecord, position: int) -> None:
        if self.size == 0 or record.score is None:
            return
        self._offered += 1
        sampled = Sampled(record.key, record.score, position, record.message_id, record.subject)
        entry = (-record.score, -position, -self._offered, sampled)
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, entry)
        elif entry[:3] > self._heap[0][:3]:
            heapq.heapreplace(self._heap, entry)

    def picked(self) -> list[Sampled]:
        """Worst first; ties in input order."""
        return sorted((e[3] for e in self._heap), key=lambda s: (s.score, s.position))


@dataclass
class SampleMessage:
    sampled: Sampled
    raw: bytes | None = None
    note: str | None = None
    """Why it has no renders: it could not be read again, or it has no HTML part."""


async def read_sample(sources: Sequence[Source], picked: Sequence[Sampled]) -> list[SampleMessage]:
    """The sampled messages' raw bytes, read again from the audit's sources (only these)."""
    out: list[SampleMessage] = []
    for sampled in picked:
        message = SampleMessage(sampled)
        for source in sources:
            try:
                raw = await source.read_again(sampled.key, sampled.message_id)
            except Exception as exc:  # gone since the audit read it, or the server refused
                message.note = f"could not be read again: {type(exc).__name__}: {exc}"
                break
            if raw is not None:
                message.raw = raw
                break
        else:
            message.note = "could not be read again: no source has it"
        out.append(message)
    return out


class RenderedFile(Protocol):
    """One message's renders (``mailqa.cli.render_gate.FileRenders``)."""

    @property
    def folder(self) -> PurePosixPath: ...
    @property
    def pngs(self) -> Mapping[str, tuple[PurePosixPath, PurePosixPath]]: ...
    @property
    def warnings(self) -> Sequence[str]: ...
    @property
    def errored(self) -> Sequence[str]: ...


@dataclass
class SamplePlan:
    size: int
    variants: tuple[str, ...]
    directory: Path
    """``--out``'s ``renders/``."""
    messages: list[SampleMessage] = field(default_factory=list)


def sample_summary(
    plan: SamplePlan,
    rendered: Mapping[str, RenderedFile] | None,
    error: str | None = None,
) -> dict[str, Any]:
    """The ``render_sample`` section of summary.json: paths relative to ``--out``.
    ``rendered``: the renders by message key (None when nothing could be rendered)."""
    rows: list[dict[str, Any]] = []
    for message in plan.messages:
        s = message.sampled
        renders = rendered.get(s.key) if rendered is not None else None
        note = message.note
        if note is None and rendered is not None and renders is None:
            note = "no HTML part: nothing to render"
        pngs: dict[str, dict[str, str]] = {}
        if renders is not None:
            pngs = {
                variant: {"full": f"{RENDERS}/{full}", "fold": f"{RENDERS}/{fold}"}
                for variant, (full, fold) in renders.pngs.items()
            }
        rows.append(
            {
                "key": s.key,
                "message_id": s.message_id,
                "subject": s.subject,
                "score": s.score,
                "folder": f"{RENDERS}/{renders.folder}" if renders is not None else None,
                "pngs": pngs,
                "warnings": list(renders.warnings) if renders is not None else [],
                "errored": list(renders.errored) if renders is not None else [],
                "note": note,
            }
        )
    return {
        "requested": plan.size,
        "variants": list(plan.variants),
        "directory": RENDERS,
        "emulated": True,
        "error": error,
        "messages": rows,
    }
