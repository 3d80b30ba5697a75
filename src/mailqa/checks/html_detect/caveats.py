"""caniemail's notes on a partial support, read against one use.

A partial (``a``) support comes with notes that say what part is missing: "Not supported on
`<div>`, `<p>` or `<img>` elements", "Only works on `<table>` elements", "`rem` values are not
supported", "Not supported inside the `<body>`", "Not supported with non Google accounts".
Most name what they are about between backticks, so a use can be checked against them: a
`width` on a `<td>` is not hit by a caveat about `<div>`, a `text-align: center` not by one
about `start` and `end`. ``caveat(notes, use)`` says whether the partial support bites this
use (``applies``), only a minority of its readers (``minor``: non-Google accounts in the
Gmail apps, or a bug, "Buggy. …", in a corner case), or not at all (``none``).

Unknown notes, and uses whose element or declaration cannot be known, count as applying.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Caveat = Literal["applies", "minor", "none"]

_TICKED = re.compile(r"`([^`]{1,60})`")
_TAG = re.compile(r"^<([a-z][a-z0-9]*)>$", re.I)
_ONLY = re.compile(r"\bonly\b", re.I)
_MINORITY = ("non google accounts", "non-google accounts")
_NEGATIVE = re.compile(r"(?:^|[\s,(])-(?:\d|\.\d)")


@dataclass(frozen=True)
class UseContext:
    """What is known of one use: the element it is on (None: in a stylesheet), the
    declarations around it (lower-cased; None: not CSS), whether it is inside ``<body>``."""

    element: str | None
    css: str | None
    in_body: bool | None
    value: str | None = None
    """The value of the declaration or attribute the use is in (lower-cased)."""


@lru_cache(maxsize=8192)
def caveat(notes: tuple[str, ...], use: UseContext) -> Caveat:
    """The worst of what the notes of one client's partial support mean for ``use``."""
    if not notes:
        return "applies"
    worst: Caveat = "none"
    for note in notes:
        found = _one(note, use)
        if found == "applies":
            return "applies"
        if found == "minor":
            worst = "minor"
    return worst


def _one(note: str, use: UseContext) -> Caveat:
    lowered = note.lower()
    if any(m in lowered for m in _MINORITY) or lowered.startswith("buggy."):
        return "minor"
    if "inside the `<body>`" in lowered:
        return "applies" if use.in_body is not False else "none"
    if "limited to 16 kb" in lowered or "limited to 16kb" in lowered:
        return "applies" if use.css is None or len(use.css) > 16 * 1024 else "none"
    if "multiple values" in lowered:
        return "applies" if use.value is None or "," in use.value else "none"
    if "negative values" in lowered:
        return "applies" if use.value is None or _NEGATIVE.search(use.value) else "none"
    tags, tokens = _ticked(note)
    only = bool(_ONLY.search(note))
    text = use.value if use.value is not None else use.css
    if tags and tokens and not only:  # "`left` and `right` do not work on `<table>`"
        if use.element is None or text is None:
            return "applies"
        hit = use.element in tags and any(t in text for t in tokens)
        return "applies" if hit else "none"
    if tags and not (only and tokens):
        if use.element is None:
            return "applies"
        inside = use.element in tags
        return "applies" if inside != only else "none"  # only-on-X: applies off X
    if tokens:
        if text is None:
            return "applies"
        present = any(t in x for t in tokens for x in (use.value, use.css) if x)
        if only and tags and use.element in tags:  # "only supports `x` (but not on `<img>`)"
            return "applies"
        return "applies" if present != only else "none"  # "only supports `x`": applies off x
    return "applies"


@lru_cache(maxsize=2048)
def _ticked(note: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The element names and the other tokens a note puts between backticks."""
    tags: set[str] = set()
    tokens: list[str] = []
    for raw in _TICKED.findall(note):
        match = _TAG.match(raw.strip())
        if match:
            tags.add(match.group(1).lower())
        elif raw.strip():
            tokens.append(raw.strip().lower())
    return frozenset(tags), tuple(tokens)
