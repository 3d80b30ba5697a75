"""Render previews of stored messages: their own job after capture, stored content-addressed.

``Previews`` takes render jobs (message id and identity) in a queue drained in the serving
process, apart from the analysis executor: a capture only queues the id, never waits for a
browser. Each job renders the message's HTML in every variant (``mailqa.render``) and writes:

- ``DATA_DIR/renders/objects/KK/KEY.full.png`` and ``KEY.fold.png``, where ``KEY`` is the
  SHA-256 of what decides the pixels (the renderer's version, the variant, whether remote
  images load, the HTML and the message's inline parts): the same HTML in the same variant
  is the same file, rendered once whichever message holds it;
- ``DATA_DIR/renders/messages/ID.json``, the message's manifest: its renders, their status,
  labels (all emulated) and warnings, and axe-core's audit of the desktop render
  (``mailqa.render.axe``).

The audit is merged into the stored report's accessibility section (``with_axe``) by
whichever finishes last, the render job or the analysis: each stores its own part before
reading the other's.

Manifests of messages that are gone (deleted, pruned by retention, or a new message under an
old id) are removed by ``sweep``, and then the objects no manifest names.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from mailqa.checks.accessibility.axe import AxeAudit, merge_axe
from mailqa.core.errors import NotFound
from mailqa.core.message import ParsedMessage, parse_stored
from mailqa.core.report import Report
from mailqa.render.axe import audit
from mailqa.render.browser import (
    GMAIL_CLIP_BYTES,
    RENDERER_VERSION,
    Render,
    RenderConfig,
    Renderer,
)
from mailqa.render.variants import DEFAULT_VARIANTS, Variant
from mailqa.settings import Settings
from mailqa.store.repository import Store

log = logging.getLogger(__name__)

PreviewState = Literal["on", "off", "unavailable"]
Dispatch = Callable[[int, str, bool], Awaitable[None]]
"""Queues a render job elsewhere: (message id, its identity, render again)."""
ManifestStatus = Literal["pending", "done", "no-html", "errored"]
Crop = Literal["full", "fold"]
CHROMIUM_NOT_FOUND = "unavailable: chromium not found"


class RenderEntry(BaseModel):
    variant: str
    label: str
    emulated: bool = True
    status: Literal["ok", "errored"]
    error: str | None = None
    key: str | None = Field(None, description="Content address of the PNGs (None: errored).")
    width: int = 0
    height: int = 0
    page_height: int = 0
    truncated: bool = False
    dropped_css: int = 0
    warnings: list[str] = Field(default_factory=list)
    duration_ms: float = 0.0


class Manifest(BaseModel):
    message_id: int
    uid: str
    status: ManifestStatus
    renders: list[RenderEntry] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    error: str | None = None
    rendered_at: datetime | None = None
    axe: AxeAudit | None = Field(
        None, description="axe-core's violations in the desktop render (merged into the report)."
    )
    axe_error: str | None = Field(None, description="Why axe-core gave no audit.")


def with_axe(report: Report, manifest: Manifest | None) -> Report | None:
    """``report`` with the manifest's axe-core audit merged into its accessibility section;
    None when there is nothing to merge (no audit, no section, or merged already)."""
    section = report.checks.get("accessibility")
    if manifest is None or manifest.axe is None or section is None:
        return None
    merged = merge_axe(section, manifest.axe)
    return None if merged is section else report.merged([merged])


def render_key(msg: ParsedMessage, variant: Variant, remote_images: bool) -> str:
    """What decides a render's pixels, hashed."""
    h = hashlib.sha256()
    for part in (RENDERER_VERSION, variant.key(), str(int(remote_images))):
        h.update(part.encode())
        h.update(b"\0")
    h.update((msg.html or "").encode("utf-8", errors="replace"))
    for attachment in sorted(
        (a for a in msg.attachments if a.content_id), key=lambda a: a.content_id or ""
    ):
        h.update(b"\0cid:" + (attachment.content_id or "").lower().encode())
        h.update(hashlib.sha256(attachment.payload).digest())
    return h.hexdigest()


class PreviewStore:
    """The files: content-addressed PNGs and one manifest per message."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.messages = root / "messages"

    def png_path(self, key: str, crop: Crop) -> Path:
        return self.objects / key[:2] / f"{key}.{crop}.png"

    def meta_path(self, key: str) -> Path:
        return self.objects / key[:2] / f"{key}.json"

    def get(self, key: str) -> RenderEntry | None:
        """The stored render under ``key`` (its PNGs exist), or None."""
        if not self.png_path(key, "full").is_file() or not self.png_path(key, "fold").is_file():
            return None
        try:
            return RenderEntry.model_validate_json(self.meta_path(key).read_bytes())
        except (OSError, ValidationError):
            return None

    def put(self, key: str, entry: RenderEntry, full: bytes, fold: bytes) -> None:
        _write_atomic(self.png_path(key, "fold"), fold)
        _write_atomic(self.png_path(key, "full"), full)
        _write_atomic(self.meta_path(key), entry.model_dump_json().encode())  # last: ``get``

    def manifest_path(self, message_id: int) -> Path:
        return self.messages / f"{message_id}.json"

    def read(self, message_id: int) -> Manifest | None:
        try:
            return Manifest.model_validate_json(self.manifest_path(message_id).read_bytes())
        except (OSError, ValidationError):
            return None

    def write(self, manifest: Manifest) -> None:
        _write_atomic(self.manifest_path(manifest.message_id), manifest.model_dump_json().encode())

    def forget(self, message_id: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.manifest_path(message_id).unlink()

    def manifest_ids(self) -> list[int]:
        if not self.messages.is_dir():
            return []
        return [int(p.stem) for p in self.messages.glob("*.json") if p.stem.isdigit()]

    def collect_garbage(self, keep: frozenset[str] = frozenset()) -> int:
        """Delete the PNGs no manifest names (nor ``keep``); returns how many files went."""
        wanted: set[str] = set(keep)
        for message_id in self.manifest_ids():
            manifest = self.read(message_id)
            if manifest is not None:
                wanted.update(r.key for r in manifest.renders if r.key)
        removed = 0
        if not self.objects.is_dir():
            return 0
        for path in self.objects.glob("*/*"):
            if path.name.split(".", 1)[0] not in wanted:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        return removed

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def preview_state(settings: Settings) -> tuple[PreviewState, str]:
    """Whether renders run, and why not when they do not."""
    if settings.render is False:
        return "off", "off (MAILQA_RENDER=false)"
    if not os.access(settings.render_chromium, os.X_OK):
        return "unavailable", CHROMIUM_NOT_FOUND
    return "on", "on"


class Previews:
    """Render jobs of one serving process (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        variants: tuple[Variant, ...] = DEFAULT_VARIANTS,
    ) -> None:
        self.settings = settings
        self.store = store
        self.variants = variants
        self.files = PreviewStore(settings.data_dir / "renders")
        self.state, self.reason = preview_state(settings)
        self._queue: asyncio.Queue[tuple[int, str, bool]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._renderer: Renderer | None = None
        self._busy: set[str] = set()
        """Keys being rendered: their manifest does not name them yet."""
        self.dispatch: Dispatch | None = None
        """Sends render jobs elsewhere (to Celery workers); None: this process renders."""
        self._config = RenderConfig(
            executable=settings.render_chromium,
            pool_size=settings.render_concurrency,
            timeout=settings.render_timeout,
            allow_remote_images=settings.render_remote_images,
        )

    @property
    def enabled(self) -> bool:
        return self.state == "on"

    @property
    def browser_started(self) -> bool:
        """This process has started Chromium for renders."""
        return self._renderer is not None

    async def start(self) -> None:
        if self.enabled and self.dispatch is None and self._task is None:
            self._task = asyncio.create_task(self._work())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._renderer is not None:
            await self._renderer.close()
            self._renderer = None

    async def submit(self, message_id: int, uid: str, *, force: bool = False) -> bool:
        """Queue a render of the message (``force``: render again what is stored); False
        when renders are off or unavailable."""
        if not self.enabled:
            return False
        self.files.write(Manifest(message_id=message_id, uid=uid, status="pending"))
        if self.dispatch is not None:
            await self.dispatch(message_id, uid, force)
        else:
            self._queue.put_nowait((message_id, uid, force))
        return True

    async def join(self) -> None:
        """Wait until every queued render has finished (tests)."""
        await self._queue.join()

    def manifest(self, message_id: int, uid: str) -> Manifest | None:
        manifest = self.files.read(message_id)
        return manifest if manifest is not None and manifest.uid == uid else None

    def png(self, manifest: Manifest, variant: str, crop: Crop) -> bytes | None:
        for entry in manifest.renders:
            if entry.variant == variant and entry.key:
                try:
                    return self.files.png_path(entry.key, crop).read_bytes()
                except OSError:
                    return None
        return None

    async def sweep(self) -> int:
        """Remove the manifests of messages that are gone, then unreferenced PNGs."""
        ids = self.files.manifest_ids()
        existing = await self.store.message_uids(ids) if ids else {}
        removed = 0
        for message_id in ids:
            manifest = self.files.read(message_id)
            if manifest is None or existing.get(message_id) != manifest.uid:
                self.files.forget(message_id)
                removed += 1
        # Deleted messages forgot their manifests already: collect whatever nothing names.
        await asyncio.to_thread(self.files.collect_garbage, frozenset(self._busy))
        return removed

    async def forget(self, message_id: int) -> None:
        """A message was deleted: its manifest goes now, its PNGs at the next sweep."""
        self.files.forget(message_id)

    async def _work(self) -> None:
        while True:
            message_id, uid, force = await self._queue.get()
            try:
                await self.render_message(message_id, uid, force=force)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("rendering message %d failed", message_id)
            finally:
                self._queue.task_done()

    async def _ensure_renderer(self) -> Renderer:
        if self._renderer is None:
            renderer = Renderer(self._config)
            await renderer.start()
            self._renderer = renderer
        return self._renderer

    async def render_message(self, message_id: int, uid: str, *, force: bool = False) -> None:
        """Render the message's variants not stored yet (all with ``force``)."""
        try:
            row = await self.store.get_message(message_id)
            if row.uid != uid:
                return
            raw = await self.store.get_raw(message_id)
        except NotFound:
            return
        msg = await parse_stored(raw)
        manifest = Manifest(message_id=message_id, uid=uid, status="done")
        keys: dict[str, str] = {}
        try:
            if msg.html:
                remote = self._config.allow_remote_images
                keys = {v.name: render_key(msg, v, remote) for v in self.variants}
                self._busy.update(keys.values())
                await self._render_into(manifest, msg, keys, force)
                await self._audit(manifest, msg)
            else:
                manifest.status = "no-html"
            manifest.rendered_at = datetime.now(UTC)
            if self.manifest_current(message_id, uid):
                self.files.write(manifest)
                if manifest.axe is not None:
                    await self.merge_into_report(message_id, uid)
        finally:
            self._busy.difference_update(keys.values())

    async def merge_into_report(self, message_id: int, uid: str) -> Report | None:
        """Merge the stored axe-core audit into the stored report, when both are there."""
        report = await self.store.get_report(message_id)
        merged = None if report is None else with_axe(report, self.manifest(message_id, uid))
        if merged is not None:
            await self.store.save_report(message_id, uid, merged)
        return merged

    async def _audit(self, manifest: Manifest, msg: ParsedMessage) -> None:
        """axe-core in the desktop render; a failure is said in the manifest, not raised."""
        try:
            renderer = await self._ensure_renderer()
            manifest.axe = await audit(renderer, msg)
        except TimeoutError:
            manifest.axe_error = f"axe-core timed out after {self._config.timeout:g} s"
        except Exception as exc:
            manifest.axe_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"

    async def _render_into(
        self, manifest: Manifest, msg: ParsedMessage, keys: dict[str, str], force: bool
    ) -> None:
        stored = {} if force else {n: self.files.get(k) for n, k in keys.items()}
        todo = [v for v in self.variants if stored.get(v.name) is None]
        rendered: dict[str, Render] = {}
        if todo:
            renderer = await self._ensure_renderer()
            result = await renderer.render_message(msg, todo)
            rendered = {r.variant.name: r for r in result.renders}
        for variant in self.variants:
            # Rendered now, or stored before (by this message or another with its HTML).
            entry = stored.get(variant.name) or self._entry(
                variant, keys[variant.name], rendered[variant.name]
            )
            manifest.renders.append(entry)
            manifest.warnings.extend(f"{variant.name}: {w}" for w in entry.warnings)
        size = len((msg.html or "").encode("utf-8", errors="replace"))
        if size > GMAIL_CLIP_BYTES:
            manifest.warnings.insert(
                0, f"Gmail clips this message: its HTML is {size / 1024:.0f} KB, over 102 KB"
            )

    def manifest_current(self, message_id: int, uid: str) -> bool:
        """The manifest on disk still belongs to this message (not forgotten meanwhile)."""
        existing = self.files.read(message_id)
        return existing is not None and existing.uid == uid

    def _entry(self, variant: Variant, key: str, render: Render) -> RenderEntry:
        entry = RenderEntry(
            variant=variant.name,
            label=variant.label,
            status=render.status,
            error=render.error,
            width=render.width,
            height=render.height,
            page_height=render.page_height,
            truncated=render.truncated,
            dropped_css=render.dropped_css,
            warnings=list(render.warnings),
            duration_ms=render.duration_ms,
        )
        if render.status == "ok" and render.full_png is not None and render.fold_png is not None:
            entry.key = key
            self.files.put(key, entry, render.full_png, render.fold_png)
        return entry
