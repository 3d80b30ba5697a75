"""Renders in real Chromium: dark mode, images off, client emulation, sealed network."""

from __future__ import annotations

import contextlib

import pytest
from tests.render.conftest import CountingServer, differs, html_message, pixels
from tests.webui.conftest import png_pixel

from mailqa.net.http.fetcher import FetcherConfig, LinkFetcher
from mailqa.net.http.policy import AddressPolicy
from mailqa.render import DEFAULT_VARIANTS, RenderConfig, Renderer, pick_variants
from mailqa.render.variants import VARIANTS

DARK_TEMPLATE = """<!doctype html><html><head><style>
body { background: #ffffff; color: #111111; }
@media (prefers-color-scheme: dark) { body { background: #101010; color: #eeeeee; } }
</style></head><body><h1>Monthly news</h1><p>Dark mode ready.</p></body></html>"""

FLEX_TEMPLATE = """<!doctype html><html><body>
<div style="display: flex; gap: 20px">
  <div style="width: 200px; height: 80px; background: #3366cc">one</div>
  <div style="width: 200px; height: 80px; background: #cc3366">two</div>
</div></body></html>"""


async def test_a_dark_mode_block_renders_differently_in_dark_mode(renderer: Renderer) -> None:
    msg = html_message(DARK_TEMPLATE)
    light, dark = (
        await renderer.render_message(msg, pick_variants(["desktop-600", "dark-600"]))
    ).renders
    assert light.status == dark.status == "ok"
    assert differs(light.full_png, dark.full_png)
    assert pixels(dark.full_png).getpixel((5, 5)) == (16, 16, 16)
    assert pixels(light.full_png).getpixel((5, 5)) == (255, 255, 255)


async def test_no_dark_mode_block_renders_the_same_in_dark_mode(renderer: Renderer) -> None:
    msg = html_message("<html><body style='background:#fff'><p>Plain.</p></body></html>")
    light, dark = (
        await renderer.render_message(msg, pick_variants(["desktop-600", "dark-600"]))
    ).renders
    assert not differs(light.full_png, dark.full_png)


async def test_forced_inversion_darkens_light_backgrounds(renderer: Renderer) -> None:
    msg = html_message("<html><body style='background:#ffffff;color:#000'><p>Hi</p></body></html>")
    (inverted,) = (await renderer.render_message(msg, pick_variants(["dark-inverted-600"]))).renders
    r, g, b = pixels(inverted.full_png).getpixel((5, 5))  # type: ignore[misc]
    assert max(r, g, b) < 40
    assert "forced inversion" in inverted.label


async def test_outlook_emulation_of_a_flex_layout_differs_from_apple_mail(
    renderer: Renderer,
) -> None:
    msg = html_message(FLEX_TEMPLATE)
    outlook, apple = (
        await renderer.render_message(msg, pick_variants(["outlook-windows-600", "apple-mail-600"]))
    ).renders
    assert outlook.status == apple.status == "ok"
    assert outlook.dropped_css >= 2  # display: flex and gap
    assert apple.dropped_css == 0
    assert differs(outlook.full_png, apple.full_png)
    # Apple Mail lays the boxes side by side; Outlook stacks them.
    assert pixels(apple.full_png).getpixel((300, 40)) == (204, 51, 102)
    assert pixels(outlook.full_png).getpixel((100, 120)) == (204, 51, 102)
    assert outlook.label.startswith("emulated: ")


async def test_outlook_shows_mso_content_and_hides_not_mso_content(renderer: Renderer) -> None:
    html = """<html><body style="margin:0">
    <!--[if mso]><div style="background:#00ff00;height:50px">mso</div><![endif]-->
    <!--[if !mso]><!--><div style="background:#ff0000;height:50px">web</div><!--<![endif]-->
    </body></html>"""
    outlook, web = (
        await renderer.render_message(
            html_message(html), pick_variants(["outlook-windows-600", "gmail-600"])
        )
    ).renders
    assert pixels(outlook.full_png).getpixel((10, 25)) == (0, 255, 0)
    assert pixels(web.full_png).getpixel((10, 25)) == (255, 0, 0)


async def test_gmail_without_a_google_account_drops_style_elements(renderer: Renderer) -> None:
    html = "<html><head><style>body { background: #0000ff; }</style></head><body>x</body></html>"
    gmail, non_google = (
        await renderer.render_message(
            html_message(html), pick_variants(["gmail-600", "gmail-non-google-600"])
        )
    ).renders
    assert pixels(gmail.full_png).getpixel((5, 5)) == (0, 0, 255)
    assert pixels(non_google.full_png).getpixel((5, 5)) == (255, 255, 255)


async def test_images_off_shows_alt_text(renderer: Renderer) -> None:
    image = png_pixel()

    def message(alt: str) -> str:
        return (
            "<html><body style='margin:0'><img src='cid:logo@x' width='300' height='80' "
            f"alt='{alt}' style='font-size:24px;color:#000'></body></html>"
        )

    parts = [("logo@x", "image/png", image)]
    variants = pick_variants(["desktop-600", "images-off-600"])
    on, off = (
        await renderer.render_message(html_message(message("SUMMER SALE"), parts=parts), variants)
    ).renders
    _, off_without_alt = (
        await renderer.render_message(html_message(message(""), parts=parts), variants)
    ).renders
    assert on.status == off.status == "ok"
    assert on.blocked_requests == 0  # the cid: image came from the message
    assert off.blocked_requests == 1
    # Images on: the 1×1 green pixel stretched over the box; off: the box with the alt text.
    assert pixels(on.full_png).getpixel((150, 40)) == (255, 0, 0)
    assert differs(on.full_png, off.full_png)
    assert differs(off.full_png, off_without_alt.full_png)  # the alt text is what shows
    dark_pixels = sum(pixels(off.full_png).crop((0, 0, 300, 80)).convert("L").histogram()[:70])
    assert dark_pixels > 50  # the text of the alt


LOOPBACK_PAGE = """<html><head>
<link rel="stylesheet" href="{base}/style.css">
<link rel="preconnect" href="{base}"><link rel="dns-prefetch" href="{base}">
<style>@import url("{base}/import.css"); body {{ background: url("{base}/bg.png"); }}
@font-face {{ font-family: X; src: url("{base}/font.woff2"); }} p {{ font-family: X; }}</style>
</head><body background="{base}/attr-bg.png">
<img src="{base}/pixel.png" alt="a"><img srcset="{base}/2x.png 2x" alt="b">
<img src="http://127.1:{port}/short.png" alt="c"><img src="http://localhost:{port}/l.png" alt="d">
<iframe src="{base}/frame"></iframe><video poster="{base}/poster.png"></video>
<a href="{base}/link">link</a><p>text</p>
<script src="{base}/script.js"></script><script>fetch("{base}/fetch")</script>
<object data="{base}/object"></object><embed src="{base}/embed">
</body></html>"""


@pytest.mark.parametrize("remote", [False, True], ids=["remote-off", "remote-on"])
async def test_a_page_that_loads_loopback_urls_makes_no_request(
    counting_server: CountingServer, remote: bool
) -> None:
    html = LOOPBACK_PAGE.format(base=counting_server.base, port=counting_server.port)
    # Allowing remote images still never reaches loopback: the fetcher's policy refuses it.
    fetcher = LinkFetcher(FetcherConfig(policy=AddressPolicy()))
    async with (
        fetcher,
        Renderer(RenderConfig(allow_remote_images=remote, pool_size=2), fetcher=fetcher) as r,
    ):
        rendered = await r.render_message(html_message(html), DEFAULT_VARIANTS)
    assert all(x.status == "ok" for x in rendered.renders), [x.error for x in rendered.renders]
    assert all(x.blocked_requests >= 4 for x in rendered.renders)
    assert counting_server.hits == []


async def test_renders_carry_warnings(renderer: Renderer) -> None:
    tall = "<html><body>" + "<p style='height:100px'>x</p>" * 120 + "</body></html>"
    only_images = "<html><body><img src='cid:a@x' width='400' height='300'></body></html>"
    big = "<html><body>" + "<p>" + "lorem ipsum " * 9500 + "</p></body></html>"
    variants = pick_variants(["desktop-600"])
    tall_set = await renderer.render_message(html_message(tall), variants)
    assert any("very tall" in w for w in tall_set.warnings)
    images_set = await renderer.render_message(
        html_message(only_images, parts=[("a@x", "image/png", png_pixel())]), variants
    )
    assert any("text lost with images off" in w for w in images_set.warnings)
    big_set = await renderer.render_message(html_message(big), variants)
    assert any("Gmail clips" in w for w in big_set.warnings)
    plain = await renderer.render_message(html_message("<p>" + "words " * 30 + "</p>"), variants)
    assert plain.warnings == []


async def test_full_length_and_fold_crop(renderer: Renderer) -> None:
    tall = "<html><body style='margin:0'><div style='height:2000px'>x</div></body></html>"
    (mobile,) = (
        await renderer.render_message(html_message(tall), pick_variants(["mobile-375"]))
    ).renders
    full, fold = pixels(mobile.full_png), pixels(mobile.fold_png)
    assert full.width == fold.width == 375
    assert full.height >= 2000
    assert fold.height == VARIANTS["mobile-375"].fold_height


async def test_a_render_over_its_limits_is_errored_and_the_rest_goes_on(
    renderer: Renderer,
) -> None:
    small = Renderer(RenderConfig(max_html_bytes=1000))
    huge = html_message("<p>" + "x" * 5000 + "</p>")
    async with small:
        (errored,) = (await small.render_message(huge, pick_variants(["desktop-600"]))).renders
        (fine,) = (
            await small.render_message(html_message("<p>ok</p>"), pick_variants(["desktop-600"]))
        ).renders
    assert errored.status == "errored" and errored.full_png is None
    assert errored.error is not None and "larger than" in errored.error
    assert fine.status == "ok"


async def test_a_render_that_times_out_is_errored_and_the_next_one_renders() -> None:
    msg = html_message("<p>slow enough</p>")
    async with Renderer(RenderConfig(timeout=0.001)) as r:
        (late,) = (await r.render_message(msg, pick_variants(["desktop-600"]))).renders
        r.config.timeout = 30
        (fine,) = (await r.render_message(msg, pick_variants(["desktop-600"]))).renders
    assert late.status == "errored" and late.full_png is None
    assert late.error == "render timed out after 0.001 s"
    assert fine.status == "ok"


async def test_a_crashed_browser_is_restarted_and_the_renders_go_on() -> None:
    import psutil

    msg = html_message("<p>after the crash</p>")
    variants = pick_variants(["desktop-600", "mobile-375", "dark-600"])

    def browser_processes() -> list[psutil.Process]:
        found = []
        for p in psutil.Process().children(recursive=True):
            # A child that exits meanwhile (a closed page's renderer, a zombie not reaped
            # yet by its browser) is none of the browsers sought.
            with contextlib.suppress(psutil.Error):
                if p.name().startswith("chromium") and "--type=" not in " ".join(p.cmdline()):
                    found.append(p)
        return found

    others = {p.pid for p in browser_processes()}  # the session's renderer keeps its own
    async with Renderer(RenderConfig()) as r:
        assert all(x.status == "ok" for x in (await r.render_message(msg, variants)).renders)
        browsers = [p for p in browser_processes() if p.pid not in others]
        assert browsers
        for process in browsers:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(browsers, timeout=10)
        during = (await r.render_message(msg, variants)).renders
        after = (await r.render_message(msg, variants)).renders
    assert r.restarts >= 1
    for x in during:
        assert x.status == "ok" or (x.status == "errored" and x.error)
    assert [x.status for x in after] == ["ok", "ok", "ok"]
