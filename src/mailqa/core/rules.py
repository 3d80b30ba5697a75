"""Rules as objects: what each finding a check emits means, declared once next to its emitter.

A ``Rule`` has a stable id (``headers.from-missing``, kebab-case), the check that emits it, a
title that fits every finding, a default severity, a line of help and the documentation page
that lists it. A check module declares its rules in one ``CheckRules`` (its ``RULES``) and
makes its findings with ``Rule.finding``; its result comes from ``CheckResult.from_findings``
with the set's penalty table. A ``RuleCatalog`` collects the sets of the registered checks:
SARIF's rule metadata, the documentation tables and the CI gate's aliases read it.

Two checks have open families instead of a rule per id, because their ids come from data:
``html`` (one rule per caniemail feature, ``css-display-flex``) and ``spam``
(``spam.<SpamAssassin rule>``). A ``RuleFamily`` describes all of them at once; the finding
brings its own title.

Ids that were renamed keep working: a rule lists its former ids in ``aliases``, and the gate
matches ignore patterns and baseline entries against them too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mailqa.core.report import Finding, Location, Severity

DEFAULT_DOCS_URL = "https://github.com/mailqa/mailqa/blob/main/docs/"
"""Where help URIs point when ``MAILQA_DOCS_URL`` is unset."""


def docs_url(page: str, base: str = DEFAULT_DOCS_URL) -> str:
    """``page`` (``headers.md#rules``) under the documentation folder ``base``."""
    base = base.strip() or DEFAULT_DOCS_URL
    return (base if base.endswith("/") else base + "/") + page


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of finding. ``impact`` is left for data that judges a finding's consequence
    (what a client or receiver does with it); no rule carries any yet."""

    id: str
    check: str
    title: str
    severity: Severity
    help: str
    page: str
    category: str | None = None
    aliases: tuple[str, ...] = ()
    impact: Mapping[str, Any] | None = None
    in_template: Severity | None = None
    """The severity when the file checked is a template (``mailqa check page.html``), whose
    merge tags and sample content are filled in when it is sent; None: the same."""

    def help_uri(self, base: str = DEFAULT_DOCS_URL) -> str:
        return docs_url(self.page, base)

    def finding(
        self,
        message: str = "",
        *,
        title: str | None = None,
        severity: Severity | None = None,
        locations: Sequence[Location] = (),
        data: Mapping[str, Any] | None = None,
        url: str | None = None,
    ) -> Finding:
        """A finding of this rule; ``title`` names the instance when it says more than the
        rule's own (``Subject is 97 characters``)."""
        return Finding(
            rule=self.id,
            title=self.title if title is None else title,
            severity=self.severity if severity is None else severity,
            message=message,
            category=self.category,
            url=url,
            locations=list(locations),
            data=dict(data or {}),
        )


@dataclass(frozen=True, slots=True)
class RuleFamily:
    """Rules whose ids come from data: ``prefix`` + a member name from that data."""

    check: str
    prefix: str
    help: str
    page: str

    def help_uri(self, base: str = DEFAULT_DOCS_URL) -> str:
        return docs_url(self.page, base)

    def finding(
        self,
        member: str,
        *,
        title: str,
        severity: Severity,
        message: str = "",
        category: str | None = None,
        locations: Sequence[Location] = (),
        data: Mapping[str, Any] | None = None,
        url: str | None = None,
    ) -> Finding:
        return Finding(
            rule=self.prefix + member,
            title=title,
            severity=severity,
            message=message,
            category=category,
            url=url,
            locations=list(locations),
            data=dict(data or {}),
        )


@dataclass(eq=False)
class CheckRules:
    """The rules one check declares, its documentation page and its score penalties.
    Compared (and hashed) by identity: it is one check's declaration."""

    check: str
    page: str
    category: str | None = None
    penalties: Mapping[Severity, float] = field(default_factory=dict)
    family: RuleFamily | None = None
    rules: dict[str, Rule] = field(default_factory=dict)

    def rule(
        self,
        name: str,
        title: str,
        severity: Severity,
        help: str,
        *,
        aliases: Iterable[str] = (),
        in_template: Severity | None = None,
    ) -> Rule:
        """Declare ``<check>.<name>``; ``aliases`` are former names, prefixed the same way
        (or whole ids of a rule another check had: ``hygiene.missing-lang``);
        ``in_template``: the severity in a template (``Rule.in_template``)."""
        rule = Rule(
            id=f"{self.check}.{name}",
            check=self.check,
            title=title,
            severity=severity,
            help=help,
            page=self.page,
            category=self.category,
            aliases=tuple(a if "." in a else f"{self.check}.{a}" for a in aliases),
            in_template=in_template,
        )
        if rule.id in self.rules:
            raise ValueError(f"rule {rule.id} declared twice")
        self.rules[rule.id] = rule
        return rule

    def open_family(self, prefix: str, help: str) -> RuleFamily:
        """Declare the check's open family (one per check)."""
        self.family = RuleFamily(check=self.check, prefix=prefix, help=help, page=self.page)
        return self.family

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules.values())


class RuleCatalog:
    """Every declared rule, by id (and by former id), and the open families by check."""

    def __init__(self, sets: Iterable[CheckRules]) -> None:
        self.sets: dict[str, CheckRules] = {}
        self.rules: dict[str, Rule] = {}
        self.aliases: dict[str, str] = {}
        for rule_set in sets:
            if rule_set.check in self.sets:
                raise ValueError(f"two rule sets for check {rule_set.check!r}")
            self.sets[rule_set.check] = rule_set
            for rule in rule_set:
                if rule.id in self.rules or rule.id in self.aliases:
                    raise ValueError(f"rule id {rule.id} declared twice")
                self.rules[rule.id] = rule
                for alias in rule.aliases:
                    self.aliases[alias] = rule.id

    @property
    def families(self) -> dict[str, RuleFamily]:
        return {c: s.family for c, s in self.sets.items() if s.family is not None}

    def get(self, rule_id: str) -> Rule | None:
        """The rule ``rule_id`` names, under its id or a former one."""
        return self.rules.get(self.aliases.get(rule_id, rule_id))

    def describe(self, rule_id: str, check: str) -> Rule | RuleFamily | None:
        """The rule ``rule_id`` (reported by ``check``), or its check's family; None when
        unknown (a rule of a check outside the catalogue)."""
        return self.get(rule_id) or self.families.get(check)

    def former_ids(self, rule_id: str) -> tuple[str, ...]:
        rule = self.rules.get(rule_id)
        return rule.aliases if rule is not None else ()

    def page(self, check: str) -> str | None:
        rule_set = self.sets.get(check)
        return rule_set.page if rule_set is not None else None

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules.values())

    def __len__(self) -> int:
        return len(self.rules)
