"""The target clients an ``html`` finding lacks support in, in a few words for a report line."""

from __future__ import annotations

from mailqa.cli.gate import GateFinding

SHOWN_CLIENTS = 4
_GROUPS = (("n", "not supported in"), ("a", "partial in"))


def lacking_support(finding: GateFinding, shown: int = SHOWN_CLIENTS) -> str:
    """``not supported in A, B; partial in C +2 more`` for an html-check finding whose data
    lists ``clients``: the first ``shown`` names, unsupported before partial ('' otherwise)."""
    clients = finding.finding.data.get("clients") if finding.check == "html" else None
    if not isinstance(clients, list):
        return ""
    names: dict[str, list[str]] = {support: [] for support, _ in _GROUPS}
    for client in clients:
        if isinstance(client, dict):
            name, support = client.get("name"), client.get("support")
            if isinstance(name, str) and support in names:
                names[support].append(name)
    parts = []
    left = shown
    for support, words in _GROUPS:
        group = names[support][: max(left, 0)]
        left -= len(group)
        if group:
            parts.append(f"{words} {', '.join(group)}")
    more = sum(map(len, names.values())) - (shown - left)
    return "; ".join(parts) + (f" +{more} more" if more else "")
