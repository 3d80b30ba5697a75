"""Built-in checks. Adding one is a new module plus one line in ``BUILTIN_CHECKS``."""

from __future__ import annotations

from collections.abc import Iterable

from mailqa.checks.auth import AuthCheck
from mailqa.checks.blacklist import BlacklistCheck
from mailqa.checks.headers import HeadersCheck
from mailqa.checks.html import HtmlCheck
from mailqa.checks.hygiene import HygieneCheck
from mailqa.checks.links import LinksCheck
from mailqa.checks.spam import SpamCheck
from mailqa.core.check import Check
from mailqa.core.errors import ConfigError

BUILTIN_CHECKS: dict[str, type[Check]] = {
    "headers": HeadersCheck,
    "links": LinksCheck,
    "spam": SpamCheck,
    "auth": AuthCheck,
    "blacklist": BlacklistCheck,
    "html": HtmlCheck,
    "hygiene": HygieneCheck,
}


def build_checks(names: Iterable[str] | None = None) -> list[Check]:
    """Instantiate the named checks, or every default-on check when ``names`` is empty."""
    wanted = [n for n in (names or []) if n]
    if not wanted:
        return [cls() for cls in BUILTIN_CHECKS.values() if cls.default_enabled]
    unknown = [n for n in wanted if n not in BUILTIN_CHECKS]
    if unknown:
        raise ConfigError(
            f"unknown check(s): {', '.join(unknown)}; available: {', '.join(BUILTIN_CHECKS)}"
        )
    return [BUILTIN_CHECKS[n]() for n in dict.fromkeys(wanted)]
