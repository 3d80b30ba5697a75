"""axe-core in a rendered message (real Chromium): placed at source lines, the message's own
scripts dead, the network sealed, bounded in time and in what it returns."""

from __future__ import annotations

import re

import pytest
from tests.render.conftest import CountingServer, html_message
from tests.render.test_render import LOOPBACK_PAGE

from mailqa.checks.accessibility.axe import AXE_RULES
from mailqa.render import RenderConfig, Renderer
from mailqa.render.axe import AXE_VARIANT, MAX_NODES, audit, marked

GREY = """<!DOCTYPE html><html lang="en"><head><title>Grey</title>
<style>.muted { color: var(--muted); } :root { --muted: #bbbbbb; }</style></head>
<body><div lang="en"><h1>Notice</h1>
<p class="muted">Light grey from a custom property.</p>
<table role="presentation"><tr><td style="background:#ffffff"><p>Dark on white.</p></td></tr>
</table><img src="cid:missing@x">
<script>document.title = "ran"</script><img src="data:," onerror="document.title = 'ran'">
</div></body></html>"""


async def test_violations_are_placed_at_their_source_lines(renderer: Renderer) -> None:
    result = await audit(renderer, html_message(GREY))
    assert result.version == "4.14.1" and result.variant == AXE_VARIANT.label
    assert set(result.rules) <= set(AXE_RULES) and "color-contrast" in result.rules
    by_id = {v.id: v for v in result.violations}
    (grey,) = by_id["color-contrast"].nodes
    assert (grey.line, grey.column) == (4, 1)
    assert grey.foreground == "#bbbbbb" and grey.background == "#ffffff"
    assert grey.contrast is not None and grey.contrast < 4.5 and grey.expected == 4.5
    assert grey.snippet is not None and grey.snippet.startswith('<p class="muted">')
    assert [n.line for n in by_id["image-alt"].nodes] == [6, 7]
    assert 5 in {n.line for n in result.contrast_passes}  # the dark text, decided fine


async def test_the_message_scripts_do_not_run_while_the_renderer_inspects(
    renderer: Renderer,
) -> None:
    msg = html_message(GREY)
    title = await renderer.inspect(msg.html or "", msg, AXE_VARIANT, [], "() => document.title")
    assert title == "Grey"


async def test_marking_keeps_the_document_and_skips_what_is_not_a_tag() -> None:
    from mailqa.core.html import HtmlDocument

    source = '<p>a <b>b</b></p><!-- <i>x</i> --><br/><img\nsrc="x">'
    out = marked(HtmlDocument(source))
    assert re.sub(r' data-mailqa-at="\d+"', "", out) == source
    assert re.findall(r"<(\w+) data-mailqa-at", out) == ["p", "b", "br", "img"]
    assert "<i>x</i>" in out


async def test_axe_makes_no_request(counting_server: CountingServer) -> None:
    html = LOOPBACK_PAGE.format(base=counting_server.base, port=counting_server.port)
    async with Renderer(RenderConfig(pool_size=1)) as r:
        result = await audit(r, html_message(html))
    assert "color-contrast" in result.rules
    assert counting_server.hits == []


async def test_many_violations_are_capped_and_a_slow_audit_times_out(
    renderer: Renderer,
) -> None:
    many = "<html><body>" + '<p style="color:#eeeeee">faint</p>\n' * (MAX_NODES + 50)
    result = await audit(renderer, html_message(many + "</body></html>"))
    (contrast,) = [v for v in result.violations if v.id == "color-contrast"]
    assert len(contrast.nodes) == MAX_NODES
    assert [n.line for n in contrast.nodes[:3]] == [1, 2, 3]
    timeout = renderer.config.timeout
    renderer.config.timeout = 0.001
    try:
        with pytest.raises(TimeoutError):
            await audit(renderer, html_message(many))
    finally:
        renderer.config.timeout = timeout
    assert (await audit(renderer, html_message(GREY))).violations  # the next one runs


async def test_a_message_that_shadows_document_methods_is_still_audited(
    renderer: Renderer,
) -> None:
    html = (
        '<html><body><form name="querySelector"></form><form name="createElement"></form>\n'
        '<img name="body" src="cid:x"><embed id="documentElement">\n'
        '<p style="color:#eeeeee">faint</p></body></html>'
    )
    result = await audit(renderer, html_message(html))
    by_id = {v.id: v for v in result.violations}
    assert [n.line for n in by_id["color-contrast"].nodes] == [3]
    assert [n.line for n in by_id["image-alt"].nodes] == [2]
