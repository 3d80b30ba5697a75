"""Which target clients keep an accessibility fix: the caniemail data the html check loads
(``html-lang``, ``html-dir``, ``html-role``, ``html-aria-*``, ``prefers-reduced-motion``),
read for the html check's target clients (``MAILQA_HTML_TARGETS``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mailqa.rules.caniemail import ClientInfo, ClientsData, RulesData, load_clients, load_rules

WEBMAIL_DROPS_HTML = frozenset({"gmail", "outlook", "yahoo", "aol"})
"""Families whose webmail renders the body inside its own page: the ``<html>`` element and
its attributes (``lang``, ``dir``) are gone; only what is inside ``<body>`` arrives."""


@dataclass(frozen=True, slots=True)
class Loss:
    """A target client that does not (fully) keep a fix."""

    client: str
    name: str
    support: str
    """``n`` (stripped) or ``a`` (partly: see the notes)."""
    notes: tuple[str, ...]
    market_share: float

    def as_dict(self) -> dict[str, object]:
        return {
            "client": self.client,
            "name": self.name,
            "support": self.support,
            "notes": list(self.notes),
        }


class ClientOverlay:
    """The support of fix features over the target clients."""

    def __init__(
        self,
        targets: Sequence[str] = ("*",),
        rules: RulesData | None = None,
        clients: ClientsData | None = None,
    ) -> None:
        self.rules = rules or load_rules()
        data = clients or load_clients()
        self.targets: list[ClientInfo] = data.match([t for t in targets if t.strip()] or ["*"])

    def losses(self, slug: str) -> list[Loss]:
        """Target clients that strip (``n``) or partly keep (``a``) ``slug``, by share."""
        feature = self.rules.features.get(slug)
        if feature is None:
            return []
        out = []
        for client in self.targets:
            support = feature.support.get(client.family, {}).get(client.platform)
            if support is not None and support.value in ("n", "a"):
                out.append(
                    Loss(
                        client.id,
                        client.name,
                        support.value,
                        tuple(support.notes),
                        client.market_share,
                    )
                )
        return sorted(out, key=lambda loss: (-loss.market_share, loss.client))

    def html_element_dropped(self) -> list[ClientInfo]:
        """Target webmail clients that drop ``<html>`` and its attributes."""
        return [c for c in self.targets if c.category == "web" and c.family in WEBMAIL_DROPS_HTML]

    def say(self, slugs: Iterable[str], what: str) -> tuple[str, list[dict[str, object]]]:
        """A sentence on which target clients strip ``what`` (the fix), and the losses."""
        losses: dict[str, Loss] = {}
        for slug in slugs:
            for loss in self.losses(slug):
                losses.setdefault(loss.client, loss)
        if not losses:
            return f"Every target client keeps {what}.", []
        ordered = sorted(losses.values(), key=lambda loss: (-loss.market_share, loss.client))
        stripped = [loss.name for loss in ordered if loss.support == "n"]
        partial = [loss.name for loss in ordered if loss.support == "a"]
        parts = []
        if stripped:
            parts.append(f"{_names(stripped)} strip {what}")
        if partial:
            notes = "; ".join(dict.fromkeys(n.rstrip(". ") for loss in ordered for n in loss.notes))
            parts.append(f"{_names(partial)} keep it in part" + (f" ({notes})" if notes else ""))
        return "; ".join(parts) + ".", [loss.as_dict() for loss in ordered]


def _names(names: list[str], limit: int = 4) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
