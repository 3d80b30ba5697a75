"""The accessibility check: WCAG 2.2-mapped findings over the HTML part, offline."""

from __future__ import annotations

from typing import ClassVar

from mailqa.checks.accessibility.analyse import analyse_document, result_from
from mailqa.checks.accessibility.rules import RULES
from mailqa.checks.html import HtmlConfig
from mailqa.core.budget import in_thread
from mailqa.core.check import CheckContext
from mailqa.core.html import HtmlDocument
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult
from mailqa.core.rules import CheckRules


class AccessibilityCheck:
    name: ClassVar[str] = "accessibility"
    rules: ClassVar[CheckRules] = RULES
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = True

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        if msg.html is None:
            return CheckResult.skipped(self.name, "no HTML part")
        try:
            targets: tuple[str, ...] = ctx.config(HtmlConfig).targets
        except LookupError:  # a context built without the html check's settings
            targets = ("*",)
        # CPU-bound: in a thread, so the event loop (SMTP, API) stays live.
        return await in_thread(analyse, msg.html_document, targets, self.name)


def analyse(
    doc: HtmlDocument, targets: tuple[str, ...] = ("*",), name: str = "accessibility"
) -> CheckResult:
    """The check's result for one HTML document (a template, or a message's HTML part)."""
    findings, details = analyse_document(doc, targets)
    return result_from(name, findings, details)
