"""Reading a response body within a byte cap that holds while decoding too: gzip and deflate
(any number of layers) are inflated a bounded step at a time and stop at the cap."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from mailqa.net.http.errors import FetchError

_INFLATE_STEP = 64 * 1024  # most bytes one decompression step may produce
# What the fetcher can decode incrementally (and so asks for).
ACCEPT_ENCODING = "gzip, deflate"


class _Inflater:
    """One gzip or deflate layer, inflated a bounded step at a time: each chunk ``feed``
    yields is at most ``_INFLATE_STEP`` bytes, whatever the compression ratio."""

    def __init__(self, encoding: str) -> None:
        self.gzip = encoding in ("gzip", "x-gzip")
        self._fresh = True  # deflate: nothing decoded yet (zlib or raw framing undecided)
        self._inflate = self._new()

    def _new(self) -> Any:
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self.gzip else zlib.MAX_WBITS)

    def _step(self, data: bytes) -> bytes:
        try:
            out: bytes = self._inflate.decompress(data, _INFLATE_STEP)
        except zlib.error:
            if self.gzip or not self._fresh:
                raise
            # "deflate" is often sent as a raw deflate stream, without the zlib wrapper.
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inflate.decompress(data, _INFLATE_STEP)
        self._fresh = False
        return out

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            out = self._step(data)
            if out:
                yield out
            if self._inflate.eof:
                rest: bytes = self._inflate.unused_data
                if not self.gzip or not rest.strip(b"\x00"):
                    return  # the end (trailing padding ignored)
                self._inflate = self._new()  # gzip: another member follows
                data = rest
                continue
            data = self._inflate.unconsumed_tail
            if not data and len(out) < _INFLATE_STEP:
                return


def _decoders(content_encoding: str | None) -> list[_Inflater]:
    """The layers to undo, outermost (last applied) first."""
    layers = []
    for token in (content_encoding or "").split(","):
        encoding = token.strip().lower()
        if encoding in ("", "identity"):
            continue
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise FetchError(f"unsupported Content-Encoding: {encoding}")
        layers.append(_Inflater(encoding))
    return layers[::-1]


def _decoded(chunk: bytes, layers: Sequence[_Inflater]) -> Iterator[bytes]:
    if not layers:
        yield chunk
        return
    first, rest = layers[0], layers[1:]
    for piece in first.feed(chunk):
        yield from _decoded(piece, rest)


@dataclass
class BoundedBody:
    """What was read of a body: ``data`` (when kept), its ``size`` and whether the cap cut it."""

    data: bytes
    size: int
    truncated: bool


async def read_bounded(
    response: httpx.Response, max_bytes: int, *, decode: bool, keep: bool
) -> BoundedBody:
    """Read a streamed response's body up to ``max_bytes``, counting the raw bytes and (with
    ``decode``) the bytes its Content-Encoding inflates to, and stop as soon as either goes
    over: memory stays about ``max_bytes`` plus one step, however the body is compressed."""
    layers = _decoders(response.headers.get("content-encoding")) if decode else []
    body = bytearray()
    raw = size = 0
    try:
        async for chunk in response.aiter_raw():
            raw += len(chunk)
            for piece in _decoded(chunk, layers):
                if keep:
                    body += piece[: max_bytes - size + 1]
                size += len(piece)
                if size > max_bytes:
                    break
            if size > max_bytes or raw > max_bytes:
                del body[max_bytes:]
                return BoundedBody(bytes(body), size, True)
    except zlib.error as exc:
        raise FetchError(
            f"the body is not valid {response.headers['content-encoding']}: {exc}"
        ) from exc
    return BoundedBody(bytes(body), size, False)
