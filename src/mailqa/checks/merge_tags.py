"""Merge-tag leftovers: template variables that were never replaced, and empty substitutions.

A rendered message should hold no ``{{ first_name }}``, ``*|FNAME|*``, ``%recipient.name%``,
``%%Name%%``, ``[FirstName]``, ``${...}``, ``#{...}``, ``<%= %>``, ``[[ ]]``, ``{$var}`` or
``{% %}`` any more, and no greeting whose name came out empty ("Hi ,", "Dear  Smith"). The
check reads the subject, the text part and, from the shared HTML scan (never re-parsed), the
HTML's text runs (the preheader among them), its attributes, its URLs and the links inside
Outlook conditional comments. ``<style>``, ``<script>`` (JSON-LD too), ``style`` and event
handler attributes are CSS or script: their braces are not merge tags. Bracketed words count
only when they name a recipient field (``[FirstName]``, ``[first_name]``, ``[Company]``), so
footnotes, "[sic]" and "[PDF, 2 MB]" stay text.

A template file (``mailqa check page.html``) is expected to hold its variables: every rule
here is info there (``Rule.in_template``) and the details list the variables it needs.

Every pattern is a bounded literal-led alternative, so hostile input (a megabyte of braces)
costs time linear in its length; occurrences past ``MAX_OCCURRENCES`` are counted, not listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar
from urllib.parse import unquote

from mailqa.checks.inbox_text import PREHEADER_WINDOW
from mailqa.core.budget import checkpoint, in_thread
from mailqa.core.check import CheckContext
from mailqa.core.html import HtmlDocument
from mailqa.core.markup import MarkupScan
from mailqa.core.message import ParsedMessage, header_line
from mailqa.core.report import CheckResult, Finding, Location, Severity
from mailqa.core.rules import CheckRules, Rule

MAX_OCCURRENCES = 500
"""Occurrences listed in the details and findings; the rest are counted."""
MAX_LOCATIONS = 10
"""Locations one finding lists (its ``data.count`` has them all)."""
MAX_VARIABLES = 100

RULES = CheckRules(
    "merge_tags",
    page="merge-tags.md#rules",
    category="content",
    penalties={Severity.ERROR: 25.0, Severity.WARNING: 10.0},
)
UNREPLACED_SUBJECT = RULES.rule(
    "unreplaced-subject",
    "Template variable in the subject",
    Severity.ERROR,
    "The subject holds a merge tag nobody replaced ({{ name }}, *|FNAME|*...) or a greeting "
    "whose name came out empty: every recipient sees it first. In a template file: info.",
    in_template=Severity.INFO,
)
UNREPLACED_LINK = RULES.rule(
    "unreplaced-link",
    "Template variable in a link",
    Severity.ERROR,
    "An href, src or URL in the text holds a merge tag: the link is broken for every "
    "recipient. In a template file: info.",
    in_template=Severity.INFO,
)
UNREPLACED = RULES.rule(
    "unreplaced",
    "Template variable left in the body",
    Severity.WARNING,
    "The text part, the HTML's text (the preheader too) or an attribute such as alt holds a "
    "merge tag nobody replaced. In a template file: info.",
    in_template=Severity.INFO,
)
EMPTY_SUBSTITUTION = RULES.rule(
    "empty-substitution",
    "Greeting with an empty name",
    Severity.WARNING,
    'A greeting followed by nothing ("Hi ,", "Dear  Smith", "Hallo !"): a merge field was '
    "replaced with an empty value; give it a fallback. In a template file: info.",
    in_template=Severity.INFO,
)

_IDENT = r"[A-Za-z_][\w.\-]{0,60}"
# One alternation, each branch led by literals and bounded, so no stretch is rescanned more
# than a branch's bound from any position.
_PLACEHOLDER = re.compile(
    r"(?P<triple>\{\{\{[^{}]{1,120}\}\}\})"
    r"|(?P<double>\{\{[^{}]{1,200}\}\})"
    r"|(?P<tag>\{%-?[^%{}]{1,200}-?%\})"
    r"|(?P<smarty>\{\$" + _IDENT + r"\})"
    r"|(?P<mailchimp>\*\|[A-Za-z0-9_:\-]{1,60}(?:\s[^|*]{0,60})?\|\*)"
    r"|(?P<ampscript>%%(?:\[[^\]%]{1,200}\]|=[^=%]{1,200}=|[A-Za-z_][\w\-]{0,60})%%)"
    r"|(?P<mailgun>%recipient(?:[._][\w.]{1,60})?%)"
    r"|(?P<erb><%[=\-]?[^%<>]{1,200}%>)"
    r"|(?P<dollar>\$\{[^{}]{1,120}\})"
    r"|(?P<hash>#\{[^{}]{1,120}\})"
    r"|(?P<wiki>\[\[[^\[\]]{1,120}\]\])"
    r"|(?P<bracket>\[[A-Za-z][A-Za-z0-9_]{0,40}(?: [A-Za-z][A-Za-z0-9_]{0,40}){0,2}"
    r"(?:,\s?fallback=[^\]]{0,60})?\])"
)
_TRIGGERS = ("{{", "{%", "{$", "*|", "%%", "%recipient", "<%", "${", "#{", "[")
SYNTAX = {
    "triple": "{{{ }}}",
    "double": "{{ }}",
    "tag": "{% %}",
    "smarty": "{$var}",
    "mailchimp": "*|MERGE|*",
    "ampscript": "%%Name%%",
    "mailgun": "%recipient.var%",
    "erb": "<%= %>",
    "dollar": "${ }",
    "hash": "#{ }",
    "wiki": "[[ ]]",
    "bracket": "[Field]",
}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FIELD_WORDS = _words(
    "name firstname lastname fullname fname lname surname givenname middlename nickname "
    "email emailaddress companyname username customername recipient recipientname "
    "subscriber subscribername salutation"
)
"""A bracketed word that is one of these (spaces, ``_`` and case ignored) is a merge field."""
_FIELD_PARTS = _FIELD_WORDS | _words(
    "first last full given middle company organisation organization city country state zip "
    "zipcode postcode postal code address street phone mobile user customer member contact "
    "account order number invoice amount total product unsubscribe link url coupon date "
    "birthday expiry token id job title"
)
"""Words that name a field only together (``[OrderNumber]``, ``[unsubscribe_link]``): alone
("[Date]", "[Update]", "[Order]") they are an editor's note or a subject tag."""
_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")

_GREETINGS = (
    "hi|hello|hey|dear|greetings|welcome|thanks|thank you|"  # en
    "hallo|liebe|lieber|sehr geehrte|sehr geehrter|guten tag|moin|danke|willkommen|"  # de
    "bonjour|bonsoir|salut|cher|chère|chere|merci|bienvenue|"  # fr
    "hola|estimado|estimada|querido|querida|gracias|bienvenido|bienvenida|"  # es
    "ciao|caro|cara|gentile|salve|grazie|benvenuto|benvenuta|"  # it
    "beste|hoi|geachte|dag|bedankt|welkom|"  # nl
    "olá|ola|oi|prezado|prezada|obrigado|obrigada|bem-vindo|bem-vinda"  # pt
)
# "Hi ," / "Hallo !": white space, then the punctuation that followed the name, after a
# greeting. The gap is found first (cheap), then the word before it is matched, in a short
# window: the greeting alternation is never tried at every position of a long text. A gap
# starts only after a non-space, so a long run of spaces is read once, not from each space.
_GAP_BEFORE_PUNCT = re.compile(r"(?<![ \t\u00a0\u202f])[ \t\u00a0\u202f]++[,!]")
_FRENCH = _words("bonjour bonsoir salut cher chère chere merci bienvenue")
"""French sets a space before "!" ("Bonjour !"): there only a comma after a gap is empty."""
# "Dear  Smith": two spaces where a first name was (only where spaces are literal).
_DOUBLE_SPACE = re.compile(r"(?<! ) {2,}+(?=\w)")
_GREETING_BEFORE = re.compile(rf"(?<![\w-])(?:{_GREETINGS})$", re.I)
_SALUTATION_BEFORE = re.compile(
    r"(?<![\w-])(?:dear|liebe|lieber|sehr geehrte|sehr geehrter|cher|chère|estimado|estimada|"
    r"querido|querida|caro|cara|gentile|beste|geachte|prezado|prezada)$",
    re.I,
)
_GREETING_AT_END = _GREETING_BEFORE
_WINDOW = 24
_TEXT_URL = re.compile(r"(?i)\b(?:https?://|mailto:|www\.)[^\s<>\"']++")
_MARKUP_START = re.compile(r"<[A-Za-z!/?]")
_LINK_ATTRIBUTES = frozenset({"href", "src", "srcset", "background", "action", "poster"})
_COMMENT_ATTR = re.compile(r"""\b(href|src)\s*+=\s*+(?:"([^"]*+)"|'([^']*+)')""", re.I)


@dataclass(frozen=True)
class Placeholder:
    start: int
    end: int
    raw: str
    syntax: str
    variable: str


def find_placeholders(text: str) -> Iterator[Placeholder]:
    """Every unreplaced template variable in ``text``, in order (offsets into it)."""
    if not any(trigger in text for trigger in _TRIGGERS):
        return
    for index, match in enumerate(_PLACEHOLDER.finditer(text)):
        if not index & 255:
            checkpoint()
        kind = match.lastgroup or ""
        raw = match.group()
        if kind == "bracket" and not _is_field(raw):
            continue
        yield Placeholder(match.start(), match.end(), raw, SYNTAX[kind], _variable(kind, raw))


def _is_field(raw: str) -> bool:
    """Whether ``[Words]`` names a recipient field rather than being a footnote or a note."""
    inner = raw[1:-1]
    if ",fallback=" in inner.replace(" ", ""):
        return True
    words = [w for part in inner.replace("_", " ").split() for w in _CAMEL.findall(part)]
    if not words or any(w.isdigit() for w in words):
        return False
    if len(words) > 3:
        return False
    lowered = [w.lower() for w in words]
    if "".join(lowered) in _FIELD_WORDS:
        return True
    return len(lowered) > 1 and all(w in _FIELD_PARTS for w in lowered)


_DELIMITERS = re.compile(r"^(?:\{\{\{|\{\{|\{%-?|\{\$|\*\||%%=?|%|<%[=\-]?|\$\{|#\{|\[\[|\[)")
_CLOSERS = re.compile(r"(?:\}\}\}|\}\}|-?%\}|\}|\|\*|=?%%|%|-?%>|\]\]|\])$")


def _variable(kind: str, raw: str) -> str:
    """The variable's name as the template writes it: delimiters, filters and fallbacks off."""
    inner = _CLOSERS.sub("", _DELIMITERS.sub("", raw, count=1), count=1).strip()
    if kind in ("double", "triple", "dollar", "hash", "wiki"):
        inner = inner.split("|", 1)[0].strip()
    if kind == "bracket":
        inner = inner.split(",", 1)[0]
    if kind == "tag":  # {% if vip %}: the tag's keyword, then what it reads
        words = inner.split()
        inner = words[1] if len(words) > 1 else ""
    return " ".join(inner.split())[:100]


def find_empty_greetings(text: str, *, literal_spaces: bool) -> Iterator[tuple[int, int]]:
    """Greetings whose name came out empty: (start, end) of each in ``text``.
    ``literal_spaces``: white space is as written (a text part, HTML source), so a double
    space after "Dear" is a missing name too."""
    gaps = [(_GAP_BEFORE_PUNCT, _GREETING_BEFORE)]
    if literal_spaces:
        gaps.append((_DOUBLE_SPACE, _SALUTATION_BEFORE))
    for gap, before in gaps:
        for index, match in enumerate(gap.finditer(text)):
            if not index & 1023:
                checkpoint()
            start = match.start()
            greeting = before.search(text, max(0, start - _WINDOW), start)
            if greeting is None:
                continue
            french = greeting.group().lower() in _FRENCH
            if french and gap is _GAP_BEFORE_PUNCT and text[match.end() - 1] != ",":
                continue
            yield greeting.start(), match.end()


@dataclass
class _Occurrence:
    rule: Rule
    where: str
    """subject, preheader, text, html text, hidden text, an attribute name, or url."""
    location: Location
    placeholder: Placeholder | None
    """None for an empty substitution."""


T = TypeVar("T")


@dataclass
class _Found:
    occurrences: list[_Occurrence] = field(default_factory=list)
    truncated: bool = False
    """More occurrences than ``MAX_OCCURRENCES``: the rest were not read."""

    def add(self, occurrence: _Occurrence) -> None:
        if len(self.occurrences) < MAX_OCCURRENCES:
            self.occurrences.append(occurrence)
        else:
            self.truncated = True

    def take(self, items: Iterable[T]) -> Iterator[T]:
        """``items`` until the list is full (then reading stops: hostile input is bounded)."""
        for item in items:
            if len(self.occurrences) >= MAX_OCCURRENCES:
                self.truncated = True
                return
            yield item


class MergeTagsCheck:
    name: ClassVar[str] = "merge_tags"
    rules: ClassVar[CheckRules] = RULES
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = True

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        # CPU-bound on a large part: in a thread, so the event loop (SMTP, API) stays live.
        return await in_thread(analyse, msg, self.name)


def analyse(msg: ParsedMessage, name: str = "merge_tags") -> CheckResult:
    """Every merge-tag finding of one message (or of a template wrapped as one)."""
    found = _Found()
    _subject(msg, found)
    if msg.text:
        _text_part(msg.text, found)
    if msg.html:
        _html(msg.html_document, found)
    return _result(name, found)


def _subject(msg: ParsedMessage, found: _Found) -> None:
    subject = msg.subject
    if not subject:
        return
    line = header_line(msg.raw, "Subject")
    prefix = len("Subject: ")
    snippet = f"Subject: {subject[:100]}"
    for placeholder in found.take(find_placeholders(subject)):
        location = Location(
            part="headers", line=line, column=prefix + placeholder.start + 1, snippet=snippet
        )
        found.add(_Occurrence(UNREPLACED_SUBJECT, "subject", location, placeholder))
    for start, _ in found.take(find_empty_greetings(subject, literal_spaces=True)):
        location = Location(part="headers", line=line, column=prefix + start + 1, snippet=snippet)
        found.add(_Occurrence(UNREPLACED_SUBJECT, "subject", location, None))


def _text_part(text: str, found: _Found) -> None:
    for number, line in enumerate(text.split("\n"), 1):
        if not number & 255:
            checkpoint()
        if found.truncated:
            return
        urls = [(m.start(), m.end()) for m in _TEXT_URL.finditer(line)] if "/" in line else []
        snippet = line.strip()[:120]
        for placeholder in found.take(find_placeholders(line)):
            in_url = any(s <= placeholder.start < e for s, e in urls)
            location = Location(
                part="text", line=number, column=placeholder.start + 1, snippet=snippet
            )
            rule = UNREPLACED_LINK if in_url else UNREPLACED
            found.add(_Occurrence(rule, "url" if in_url else "text", location, placeholder))
        for start, _ in found.take(find_empty_greetings(line, literal_spaces=True)):
            location = Location(part="text", line=number, column=start + 1, snippet=snippet)
            found.add(_Occurrence(EMPTY_SUBSTITUTION, "text", location, None))


def _html(doc: HtmlDocument, found: _Found) -> None:
    scan = doc.scan
    _html_text(doc, scan, found)
    _attributes(doc, scan, found)
    _conditional_comments(doc, scan, found)


def _at(doc: HtmlDocument, offset: int) -> Location:
    line, column = doc.position(offset)
    return Location(part="html", line=line, column=column, snippet=doc.snippet(line, column))


def _html_text(doc: HtmlDocument, scan: MarkupScan, found: _Found) -> None:
    """The text runs, read in the source (where offsets are exact), and greetings split from
    their punctuation by empty elements ("Hi <b></b>,")."""
    source = doc.source
    visible = 0
    previous_words = ""
    for index, run in enumerate(scan.texts):
        if not index & 255:
            checkpoint()
        if found.truncated:
            return
        if run.hidden:
            where = "preheader" if visible < PREHEADER_WINDOW else "hidden text"
        else:
            where = "html text"
            visible += len(run.text)
        end_match = _MARKUP_START.search(source, run.offset)
        end = end_match.start() if end_match else len(source)
        raw = source[run.offset : end]
        for placeholder in found.take(find_placeholders(raw)):
            location = _at(doc, run.offset + placeholder.start)
            found.add(_Occurrence(UNREPLACED, where, location, placeholder))
        for start, _ in found.take(find_empty_greetings(raw, literal_spaces=True)):
            found.add(_Occurrence(EMPTY_SUBSTITUTION, where, _at(doc, run.offset + start), None))
        words = run.text
        if words[:1] in (",", "!") and _GREETING_AT_END.search(previous_words[-40:]):
            found.add(_Occurrence(EMPTY_SUBSTITUTION, where, _at(doc, run.offset), None))
        previous_words = words


def _attributes(doc: HtmlDocument, scan: MarkupScan, found: _Found) -> None:
    for index, tag in enumerate(scan.elements):
        if not index & 255:
            checkpoint()
        if found.truncated:
            return
        for attr in tag.attrs.values():
            name = attr.name
            if name == "style" or name.startswith("on") or not attr.raw_value:
                continue  # CSS and script: their braces are not merge tags
            is_link = name in _LINK_ATTRIBUTES
            rule = UNREPLACED_LINK if is_link else UNREPLACED
            where = "url" if is_link else f"{tag.name} {name}"
            raw = attr.raw_value
            for placeholder in found.take(find_placeholders(raw)):
                location = _at(doc, attr.value_offset + placeholder.start)
                found.add(_Occurrence(rule, where, location, placeholder))
            if is_link and "%" in raw:
                # Percent-encoded by an editor or a link tracker: %7B%7Bname%7D%7D.
                for placeholder in found.take(find_placeholders(unquote(attr.value))):
                    if placeholder.raw not in raw:
                        location = _at(doc, attr.value_offset)
                        found.add(_Occurrence(rule, where, location, placeholder))


def _conditional_comments(doc: HtmlDocument, scan: MarkupScan, found: _Found) -> None:
    """Outlook's conditional comments hold VML buttons whose href is a real link."""
    for index, comment in enumerate(scan.comments):
        if not index & 255:
            checkpoint()
        if found.truncated:
            return
        text = comment.text
        if "[if" not in text.lower() or "=" not in text:
            continue
        start = comment.offset + 4
        for match in _COMMENT_ATTR.finditer(text):
            group = 2 if match.group(2) is not None else 3
            value = match.group(group)
            for placeholder in found.take(find_placeholders(value)):
                location = _at(doc, start + match.start(group) + placeholder.start)
                found.add(_Occurrence(UNREPLACED_LINK, "url", location, placeholder))


@dataclass
class _Variable:
    name: str
    syntax: str
    count: int = 0
    where: list[str] = field(default_factory=list)


def _variables(found: _Found) -> dict[str, _Variable]:
    """The variables the occurrences name, in order of first use (what a template needs)."""
    variables: dict[str, _Variable] = {}
    for occurrence in found.occurrences:
        placeholder = occurrence.placeholder
        if placeholder is None or not placeholder.variable:
            continue
        entry = variables.get(placeholder.variable)
        if entry is None:
            if len(variables) >= MAX_VARIABLES:
                continue
            entry = variables[placeholder.variable] = _Variable(
                placeholder.variable, placeholder.syntax
            )
        entry.count += 1
        if occurrence.where not in entry.where:
            entry.where.append(occurrence.where)
    return variables


def _result(name: str, found: _Found) -> CheckResult:
    groups: dict[tuple[str, str], list[_Occurrence]] = {}
    for occurrence in found.occurrences:
        key = occurrence.placeholder.raw if occurrence.placeholder else "(empty)"
        groups.setdefault((occurrence.rule.id, key), []).append(occurrence)
    findings = [_finding(group) for group in groups.values()]
    variables = _variables(found)
    empty = sum(o.placeholder is None for o in found.occurrences)
    tags = len(found.occurrences) - empty
    more = "at least " if found.truncated else ""
    parts = [f"{more}{tags} unreplaced template variable(s)"] if tags else []
    if variables:
        parts.append("needs: " + ", ".join(list(variables)[:10]))
    if empty:
        parts.append(f"{empty} empty substitution(s)")
    details = {
        "variables": [
            {"name": v.name, "syntax": v.syntax, "count": v.count, "where": v.where}
            for v in variables.values()
        ],
        "occurrences": len(found.occurrences),
        "truncated": found.truncated,
        "empty_substitutions": empty,
    }
    return CheckResult.from_findings(
        name,
        findings,
        RULES.penalties,
        summary="; ".join(parts) or "no template variables or empty substitutions",
        details=details,
    )


def _finding(group: list[_Occurrence]) -> Finding:
    first = group[0]
    rule, placeholder = first.rule, first.placeholder
    wheres = list(dict.fromkeys(o.where for o in group))
    places = ", ".join(wheres)
    count = len(group)
    times = f" ({count} times)" if count > 1 else ""
    locations = [o.location for o in group[:MAX_LOCATIONS]]
    if placeholder is None:
        return rule.finding(
            "A merge field was replaced with nothing: give it a fallback ('there', the "
            "customer's e-mail) or leave the greeting out when the value is empty.",
            title=f"Greeting with an empty name in the {places}{times}",
            locations=locations,
            data={"count": count, "where": wheres},
        )
    return rule.finding(
        f"{placeholder.raw[:80]!r} ({placeholder.syntax}) is in the mail as written: the template "
        "variable was never filled in. Check the data and the field name the sending code "
        "passes to the template.",
        title=f"Unreplaced {placeholder.syntax} variable "
        f"{(placeholder.variable or placeholder.raw)[:60]!r} in the {places}{times}",
        locations=locations,
        data={
            "placeholder": placeholder.raw[:200],
            "variable": placeholder.variable,
            "syntax": placeholder.syntax,
            "count": count,
            "where": wheres,
        },
    )
