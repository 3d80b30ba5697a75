"""axe-core run in a rendered message: computed contrast and what needs a laid-out page.

The message is laid out as the desktop render (600 px, light, images as the renderer loads
them, the same sealed network), with every start tag of the HTML part marked by its index
in the scan (``data-mailqa-at``) so that each element axe-core flags is placed back at its
line and column. axe-core itself is data (``rules/axe.min.js``, ``mailqa.rules.axe``),
evaluated by the renderer in the page; the message's own scripts stay forbidden
(``Renderer.inspect``). Only ``AXE_RULES`` run: the ones that apply to email.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mailqa.checks.accessibility.axe import AXE_RULES, AxeAudit, AxeNode, AxeViolation
from mailqa.core.html import HtmlDocument
from mailqa.render.variants import Variant
from mailqa.rules.axe import axe_script

if TYPE_CHECKING:
    from mailqa.core.message import ParsedMessage
    from mailqa.render.browser import Renderer

AXE_VARIANT = Variant("desktop-600", 600)
MARK = "data-mailqa-at"
MAX_NODES = 200
"""Elements kept per axe rule (the rest counted by axe, not placed)."""

# Run before axe.min.js: a message's <form name="createElement"> (or <img>, <embed>,
# <object>, <iframe> named or with the id of a document method) shadows that method on
# ``document`` and would stop axe-core; such names and ids are taken off those elements.
_UNCLOBBER_JS = """(() => {
  const all = Document.prototype.querySelectorAll.call(
    document, 'form[name], img[name], embed, object, iframe[name]');
  const has = Element.prototype.hasAttribute, get = Element.prototype.getAttribute;
  const drop = Element.prototype.removeAttribute;
  let n = 0;
  for (const el of all) {
    for (const attr of ['name', 'id']) {
      if (has.call(el, attr) && get.call(el, attr) in Document.prototype) {
        drop.call(el, attr);
        n++;
      }
    }
  }
  return n;
})()"""

# Run by the renderer in the page after axe.min.js: the rules this axe has, then axe.run,
# each node reduced to what the merge reads and placed by its nearest marked ancestor.
_RUN_JS = """async ([wanted, mark, maxNodes]) => {
  const known = new Set(axe.getRules().filter(r => !r.tags.includes('deprecated'))
    .map(r => r.ruleId));
  const rules = wanted.filter(r => known.has(r));
  const res = await axe.run(document, {
    runOnly: {type: 'rule', values: rules},
    iframes: false,
  });
  const at = (node) => {
    if (node.target.length !== 1 || typeof node.target[0] !== 'string') return null;
    let el = null;
    try { el = document.querySelector(node.target[0]); } catch (e) { return null; }
    while (el && !el.hasAttribute(mark)) el = el.parentElement;
    const n = el ? Number(el.getAttribute(mark)) : NaN;
    return Number.isInteger(n) ? n : null;
  };
  const node = (n) => {
    const data = (n.any[0] && n.any[0].data) || {};
    return {
      at: at(n), target: n.target.filter(t => typeof t === 'string').slice(0, 3),
      html: String(n.html || '').slice(0, 200),
      summary: String(n.failureSummary || '').slice(0, 500), impact: n.impact || null,
      contrast: typeof data.contrastRatio === 'number' ? data.contrastRatio : null,
      expected: typeof data.expectedContrastRatio === 'string'
        ? parseFloat(data.expectedContrastRatio) : null,
      fg: typeof data.fgColor === 'string' ? data.fgColor : null,
      bg: typeof data.bgColor === 'string' ? data.bgColor : null,
    };
  };
  const pick = (list) => list.map(v => ({
    id: v.id, impact: v.impact || null, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.slice(0, maxNodes).map(node),
  }));
  const contrast = res.passes.find(v => v.id === 'color-contrast');
  const unsure = res.incomplete.find(v => v.id === 'color-contrast');
  return {
    version: axe.version, rules, violations: pick(res.violations),
    passes: contrast ? contrast.nodes.slice(0, 5000).map(n => at(n)).filter(n => n !== null) : [],
    incomplete: unsure ? unsure.nodes.length : 0,
  };
}"""


def marked(doc: HtmlDocument) -> str:
    """The HTML with ``data-mailqa-at="N"`` in the N-th start tag of the scan."""
    source = doc.source
    parts: list[str] = []
    last = 0
    for index, tag in enumerate(doc.scan.elements):
        name_end = tag.offset + 1 + len(tag.name)
        if source[tag.offset : name_end].lower() != f"<{tag.name}":
            continue
        if name_end < len(source) and not (source[name_end].isspace() or source[name_end] in "/>"):
            continue
        parts.append(source[last:name_end])
        parts.append(f' {MARK}="{index}"')
        last = name_end
    parts.append(source[last:])
    return "".join(parts)


def _place(doc: HtmlDocument, index: Any) -> tuple[int | None, int | None, str | None]:
    elements = doc.scan.elements
    if not isinstance(index, int) or not 0 <= index < len(elements):
        return None, None, None
    line, column = doc.position(elements[index].offset)
    return line, column, doc.snippet(line, column)


def _node(doc: HtmlDocument, raw: dict[str, Any]) -> AxeNode:
    line, column, snippet = _place(doc, raw.get("at"))
    return AxeNode(
        line=line,
        column=column,
        snippet=snippet or str(raw.get("html") or "")[:80] or None,
        target=[str(t) for t in raw.get("target") or []],
        summary=str(raw.get("summary") or ""),
        impact=raw.get("impact"),
        contrast=raw.get("contrast"),
        expected=raw.get("expected"),
        foreground=raw.get("fg"),
        background=raw.get("bg"),
    )


async def audit(renderer: Renderer, msg: ParsedMessage, variant: Variant = AXE_VARIANT) -> AxeAudit:
    """axe-core's violations in ``msg``'s HTML as ``variant`` lays it out (raises when the
    page cannot be loaded or axe does not finish within the render timeout)."""
    started = time.perf_counter()
    script = axe_script()
    doc = msg.html_document
    html = marked(doc)
    raw: dict[str, Any] = await renderer.inspect(
        html,
        msg,
        variant,
        [_UNCLOBBER_JS, script.source],
        _RUN_JS,
        [list(AXE_RULES), MARK, MAX_NODES],
    )
    rules = [str(r) for r in raw.get("rules") or []]
    violations = [
        AxeViolation(
            id=str(v["id"]),
            impact=v.get("impact"),
            help=str(v.get("help") or ""),
            help_url=v.get("helpUrl"),
            nodes=[_node(doc, n) for n in v.get("nodes") or []],
        )
        for v in raw.get("violations") or []
    ]
    return AxeAudit(
        version=str(raw.get("version") or script.version),
        variant=variant.label,
        rules=rules,
        violations=violations,
        contrast_passes=[_node(doc, {"at": n}) for n in raw.get("passes") or []],
        contrast_incomplete=int(raw.get("incomplete") or 0),
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )
