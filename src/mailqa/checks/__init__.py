"""Built-in checks. Adding one is a new module (or package) plus one line in
``BUILTIN_CHECKS``: its class names the check and points at the module's ``RULES``, and the
rule catalogue, SARIF rule metadata and the documentation tables follow."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from mailqa.checks.auth.check import AuthCheck
from mailqa.checks.blacklist import BlacklistCheck
from mailqa.checks.headers import HeadersCheck
from mailqa.checks.html import HtmlCheck
from mailqa.checks.hygiene import HygieneCheck
from mailqa.checks.links.check import LinksCheck
from mailqa.checks.spam import SpamCheck
from mailqa.core.check import Check
from mailqa.core.errors import ConfigError
from mailqa.core.rules import CheckRules, RuleCatalog

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


def check_rule_sets() -> list[CheckRules]:
    """The declared rules of every registered check (a check without any has no set)."""
    return _rule_sets(tuple(BUILTIN_CHECKS.values()))


def rule_catalog(extra: Iterable[CheckRules] = ()) -> RuleCatalog:
    """Every rule the registered checks can emit, plus the ``extra`` sets (the CI gate's)."""
    return _catalog(tuple(BUILTIN_CHECKS.values()), tuple(extra))


def _rule_sets(classes: tuple[type[Check], ...]) -> list[CheckRules]:
    sets = (getattr(cls, "rules", None) for cls in classes)
    return [s for s in sets if isinstance(s, CheckRules)]


@lru_cache(maxsize=8)
def _catalog(classes: tuple[type[Check], ...], extra: tuple[CheckRules, ...]) -> RuleCatalog:
    # Keyed by the registry's contents: registering a check gives a new catalogue.
    return RuleCatalog([*_rule_sets(classes), *extra])
