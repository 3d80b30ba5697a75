"""Input the database or a JSON answer could not carry, refused at the door with 422.

- JSON strings with lone surrogates (``"\\ud800"``): valid JSON, but not Unicode. Stored, they
  make every answer that shows them fail to encode. ``refuse_lone_surrogates`` runs before
  every route that reads a JSON body.
- Datetimes that leave the years 1 to 9999 once converted to UTC (``0001-01-01T00:00+14:00``):
  ``UtcDatetime`` converts and refuses them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AfterValidator

Location = tuple[str | int, ...]
_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_TYPE = re.compile(r"^application/([^;\s]+\+)?json\b", re.I)


def lone_surrogate_at(value: Any, where: Location = ()) -> Location | None:
    """Where the first string (or key) holding a surrogate code point is, else None.

    ``json.loads`` joins escaped surrogate pairs into one character, so any surrogate left in
    a decoded string is a lone one."""
    if isinstance(value, str):
        return where if not value.isascii() and _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if lone_surrogate_at(key) is not None:
                return (*where, "(key)")
            found = lone_surrogate_at(item, (*where, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = lone_surrogate_at(item, (*where, index))
            if found is not None:
                return found
    return None


def without_surrogates(value: Any) -> Any:
    """``value`` with every surrogate code point in its strings replaced by U+FFFD (for
    showing what was stored before such input was refused)."""
    if isinstance(value, str):
        return value if value.isascii() else _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {without_surrogates(k): without_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_surrogates(v) for v in value]
    return value


async def refuse_lone_surrogates(request: Request) -> None:
    """An app-wide dependency: a route's JSON body with a lone surrogate in any string
    answers 422. Routes that read their body themselves are left alone."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return
    content_type = request.headers.get("content-type")
    if content_type is not None and not _JSON_TYPE.match(content_type):
        return
    if not await request.body():
        return
    try:
        data = await request.json()  # parsed already for the route: cached, not parsed again
    except ValueError:
        return  # not JSON: the route's own validation says so
    where = lone_surrogate_at(data)
    if where is not None:
        raise RequestValidationError(
            [
                {
                    "type": "string_unicode",
                    "loc": ("body", *where),
                    "msg": "not valid Unicode: a lone surrogate escape (\\ud800-\\udfff)",
                }
            ]
        )


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # as stored: naive times are UTC
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range: in UTC it falls outside the years 1 to 9999") from None


UtcDatetime = Annotated[datetime, AfterValidator(_to_utc)]
"""A datetime converted to UTC (naive ones are taken as UTC); out of range in UTC: 422."""
