"""Where audited mail comes from: .eml files (a directory or a glob), an mbox, a Maildir, or
an inbox stored by mailqa (read from the database, or from a running server over HTTP).

Every source streams: one message is read at a time, so an audit of a large mailbox never
holds it all. Each message gets a stable ``key`` (path, mbox#index, maildir key,
message:id), which ``--resume`` uses to skip messages already audited.
"""

from __future__ import annotations

import asyncio
import dataclasses
import glob
import mailbox
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from mailqa.audit.record import MISSING, missing_record
from mailqa.core.errors import ConfigError, NotFound

if TYPE_CHECKING:
    from mailqa.store.messages import MessageFilter
    from mailqa.store.repository import Store

PAGE = 200
GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class SourceItem:
    key: str
    raw: bytes
    message_id: int | None = None
    error: str | None = None  # could not be read: audited as unreadable (or ``status``)
    status: str | None = None


def missing_item(message_id: int) -> SourceItem:
    """A stored message that went away (deleted, pruned, source expired) before its turn."""
    record = missing_record(message_id)
    return SourceItem(record.key, b"", message_id, error=record.error, status=MISSING)


class Source:
    """A stream of messages. ``count`` is a cheap estimate for the progress bar, or None."""

    name: str = "source"

    def count(self) -> int | None:
        return None

    def items(self) -> AsyncIterator[SourceItem]:
        raise NotImplementedError

    async def read_again(self, key: str, message_id: int | None) -> bytes | None:
        """The raw bytes of the message ``items`` gave under ``key``, read again (the render
        sample); None when the message is not this source's."""
        return None


class FileSource(Source):
    """Files read one at a time, from a directory (recursively, ``*.eml``) or a glob."""

    def __init__(self, paths: Iterator[Path] | list[Path], name: str) -> None:
        self._paths = sorted(paths)
        self.name = name

    def count(self) -> int:
        return len(self._paths)

    async def items(self) -> AsyncIterator[SourceItem]:
        for path in self._paths:
            try:
                raw = path.read_bytes()
            except OSError as exc:
                yield SourceItem(str(path), b"", error=f"cannot read: {exc}")
                continue
            yield SourceItem(str(path), raw)

    async def read_again(self, key: str, message_id: int | None) -> bytes | None:
        path = Path(key)
        if path not in self._paths:
            return None
        return await asyncio.to_thread(path.read_bytes)


class MboxSource(Source):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"mbox {path}"
        self._box = mailbox.mbox(path, create=False)

    def count(self) -> int:
        return len(self._box)  # one scan for "From " lines; offsets only, not messages

    async def items(self) -> AsyncIterator[SourceItem]:
        for index, key in enumerate(self._box.iterkeys()):
            yield SourceItem(f"{self.path}#{index}", self._box.get_bytes(key))

    async def read_again(self, key: str, message_id: int | None) -> bytes | None:
        prefix, _, index = key.rpartition("#")
        if prefix != str(self.path) or not index.isdigit():
            return None
        for i, box_key in enumerate(self._box.iterkeys()):
            if i == int(index):
                return self._box.get_bytes(box_key)
        raise KeyError(f"{key}: no longer in the mbox")


class MaildirSource(Source):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"Maildir {path}"
        self._box = mailbox.Maildir(path, factory=None, create=False)

    def count(self) -> int:
        return len(self._box)

    async def items(self) -> AsyncIterator[SourceItem]:
        for key in sorted(self._box.iterkeys()):
            try:
                raw = self._box.get_bytes(key)
            except KeyError:  # removed since listed
                continue
            yield SourceItem(f"{self.path}:{key}", raw)

    async def read_again(self, key: str, message_id: int | None) -> bytes | None:
        prefix = f"{self.path}:"
        if not key.startswith(prefix):
            return None
        return self._box.get_bytes(key[len(prefix) :])


def filters_to_dict(f: MessageFilter) -> dict[str, Any]:
    """The filters an audit records (and the API shows)."""
    return {
        "since": f.since.isoformat() if f.since else None,
        "until": f.until.isoformat() if f.until else None,
        "subject": f.subject,
        "from": f.from_,
        "to": f.to,
    }


def filters_from_dict(values: dict[str, Any]) -> MessageFilter:
    from mailqa.store.messages import MessageFilter

    def when(key: str) -> datetime | None:
        value = values.get(key)
        return datetime.fromisoformat(value) if value else None

    return MessageFilter(
        subject=values.get("subject"),
        from_=values.get("from"),
        to=values.get("to"),
        since=when("since"),
        until=when("until"),
    )


class StoredInboxSource(Source):
    """Messages of a stored inbox matching ``filters``, newest first, read page by page."""

    def __init__(self, store: Store, inbox_id: int, filters: MessageFilter | None = None) -> None:
        from mailqa.store.messages import MessageFilter

        self.store = store
        self.inbox_id = inbox_id
        self.filters = filters or MessageFilter()
        self.name = f"inbox {inbox_id}"
        self._count: int | None = None

    def count(self) -> int | None:
        return self._count

    async def prepare(self) -> None:
        await self.store.get_inbox(self.inbox_id)
        _, self._count = await self.store.list_messages(
            self.inbox_id, limit=1, filters=self.filters
        )

    async def message_ids(self) -> AsyncIterator[int]:
        before: int | None = None
        while True:
            rows, _ = await self.store.list_messages(
                self.inbox_id,
                limit=PAGE,
                filters=dataclasses.replace(self.filters, before_id=before),
            )
            if not rows:
                return
            for row in rows:
                yield row.id
            before = rows[-1].id

    async def items(self) -> AsyncIterator[SourceItem]:
        async for message_id in self.message_ids():
            try:
                raw = await self.store.get_raw(message_id)
            except NotFound:  # deleted meanwhile, or its source expired
                yield missing_item(message_id)
                continue
            yield SourceItem(f"message:{message_id}", raw, message_id)

    async def read_again(self, key: str, message_id: int | None) -> bytes | None:
        if message_id is None or key != f"message:{message_id}":
            return None
        return await self.store.get_raw(message_id)


class ServerInboxSource(Source):
    """Messages of an inbox on a running mailqa server, over its API."""

    def __init__(self, base_url: str, inbox_id: int, token: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.inbox_id = inbox_id
        self.name = f"{self.base_url} inbox {inbox_id}"
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = self._new_client()
        self._count: int | None = None

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, headers=self._headers, timeout=30)

    def count(self) -> int | None:
        return self._count

    async def _get(self, path: str, **params: Any) -> httpx.Response:
        response = await self._client.get(path, params=params)
        if response.status_code in (401, 403):
            raise ConfigError(f"{self.base_url}: the API token was refused")
        if response.status_code == 404:
            raise ConfigError(f"{self.base_url}: inbox {self.inbox_id} not found")
        response.raise_for_status()
        return response

    async def prepare(self) -> None:
        page = await self._get(f"/api/v1/inboxes/{self.inbox_id}/messages", per_page=1)
        self._count = int(page.json().get("total", 0))

    async def items(self) -> AsyncIterator[SourceItem]:
        seen: set[int] = set()
        page = 1
        try:
            while True:
                listing = await self._get(
                    f"/api/v1/inboxes/{self.inbox_id}/messages", page=page, per_page=PAGE
                )
                messages = listing.json().get("messages", [])
                if not messages:
                    return
                for m in messages:
                    message_id = int(m["id"])
                    if message_id in seen:  # new mail shifted the pages
                        continue
                    seen.add(message_id)
                    raw = await self._client.get(f"/api/v1/messages/{message_id}/raw")
                    if raw.status_code in (404, 410):  # deleted meanwhile, or source expired
                        yield missing_item(message_id)
                        continue
                    if raw.status_code in (401, 403):
                        raise ConfigError(f"{self.base_url}: the API token was refused")
                    raw.raise_for_status()
                    yield SourceItem(f"message:{message_id}", raw.content, message_id)
                page += 1
        finally:
            await self._client.aclose()

    async def read_again(self, key: str, message_id: int | None) -> bytes | None:
        if message_id is None or key != f"message:{message_id}":
            return None
        async with self._new_client() as client:
            raw = await client.get(f"/api/v1/messages/{message_id}/raw")
            if raw.status_code in (401, 403):
                raise ConfigError(f"{self.base_url}: the API token was refused")
            raw.raise_for_status()
            return raw.content


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(5) == b"From "


def open_path_source(spec: str) -> Source:
    """A source for a path or a glob given on the command line."""
    if GLOB_CHARS & set(spec) and not Path(spec).exists():
        paths = [Path(p) for p in glob.iglob(spec, recursive=True) if Path(p).is_file()]
        if not paths:
            raise ConfigError(f"{spec}: no files match")
        return FileSource(paths, f"glob {spec}")
    path = Path(spec)
    if not path.exists():
        raise ConfigError(f"{spec}: no such file or directory")
    if path.is_dir():
        if all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            return MaildirSource(path)
        return FileSource((p for p in path.rglob("*.eml") if p.is_file()), f"directory {path}")
    if _is_mbox(path):
        return MboxSource(path)
    return FileSource([path], f"file {path}")


async def prepare(source: Source) -> None:
    """Anything a source must fetch before streaming (totals for the progress bar)."""
    ready = getattr(source, "prepare", None)
    if ready is not None:
        await ready()
    else:
        await asyncio.sleep(0)
