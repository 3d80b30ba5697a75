"""A plain ``local@domain.tld`` shape test that runs in linear time on any input.

Patterns such as ``^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$`` backtrack quadratically: on a long domain
with many dots that fails at its end, the engine retries the part after every dot. Here the
address is split on its one ``@`` with ``str.partition`` and searched once for forbidden
characters with a one-character class, so each character is looked at a bounded number of
times.
"""

from __future__ import annotations

import re


def is_plain_address(value: str, forbidden: re.Pattern[str]) -> bool:
    """``value`` is ``local@domain`` with a non-empty local part, a dot inside the domain
    (with text on both sides) and none of ``forbidden`` (a single character class, which must
    include ``@`` so the address holds exactly one)."""
    local, at, domain = value.partition("@")
    if not local or not at or "." not in domain[1:-1]:
        return False
    return forbidden.search(local) is None and forbidden.search(domain) is None
