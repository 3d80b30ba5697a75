"""Built-in checks. Adding one is a new module (or package) plus one line in
``BUILTIN_CHECKS``: its class names the check and points at the module's ``RULES``, and the
rule catalogue, SARIF rule metadata and the documentation tables follow.

The registry names each class by ``"module:Class"`` and imports it on first use: running
one check (``mailqa check --checks html``) loads that check's module and what it needs,
not every check's clients and data. Iterating the classes (``values()``, ``items()``, the
rule catalogue) imports them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, MutableMapping
from functools import lru_cache

from mailqa.core.check import Check
from mailqa.core.errors import ConfigError
from mailqa.core.rules import CheckRules, RuleCatalog


class CheckRegistry(MutableMapping[str, type[Check]]):
    """Check name -> check class; a class given as ``"module:Class"`` is imported when it is
    first looked up. Entries keep their order; setting one takes a class (or a path)."""

    def __init__(self, entries: dict[str, type[Check] | str]) -> None:
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> type[Check]:
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attribute = entry.partition(":")
            entry = getattr(importlib.import_module(module), attribute)
            self._entries[name] = entry
        return entry

    def __setitem__(self, name: str, check: type[Check] | str) -> None:
        self._entries[name] = check

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __repr__(self) -> str:
        return f"CheckRegistry({self._entries!r})"


BUILTIN_CHECKS = CheckRegistry(
    {
        "headers": "mailqa.checks.headers:HeadersCheck",
        "links": "mailqa.checks.links.check:LinksCheck",
        "spam": "mailqa.checks.spam:SpamCheck",
        "auth": "mailqa.checks.auth.check:AuthCheck",
        "blacklist": "mailqa.checks.blacklist:BlacklistCheck",
        "html": "mailqa.checks.html:HtmlCheck",
        "hygiene": "mailqa.checks.hygiene:HygieneCheck",
        "accessibility": "mailqa.checks.accessibility.check:AccessibilityCheck",
        "merge_tags": "mailqa.checks.merge_tags:MergeTagsCheck",
    }
)


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


def rule_catalog(
    extra: Iterable[CheckRules] = (), *, checks: Iterable[str] | None = None
) -> RuleCatalog:
    """Every rule the registered checks can emit, plus the ``extra`` sets (the CI gate's);
    with ``checks``, only the rules of those registered checks (and ``extra``): what the
    findings of those checks can name, without importing the others."""
    if checks is None:
        classes = tuple(BUILTIN_CHECKS.values())
    else:
        classes = tuple(BUILTIN_CHECKS[n] for n in dict.fromkeys(checks) if n in BUILTIN_CHECKS)
    return _catalog(classes, tuple(extra))


def _rule_sets(classes: tuple[type[Check], ...]) -> list[CheckRules]:
    sets = (getattr(cls, "rules", None) for cls in classes)
    return [s for s in sets if isinstance(s, CheckRules)]


@lru_cache(maxsize=32)
def _catalog(classes: tuple[type[Check], ...], extra: tuple[CheckRules, ...]) -> RuleCatalog:
    # Keyed by the registry's contents: registering a check gives a new catalogue.
    return RuleCatalog([*_rule_sets(classes), *extra])
