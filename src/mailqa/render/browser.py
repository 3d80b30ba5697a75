"""``Renderer``: a message's HTML part rendered to PNGs in headless Chromium, sealed in.

- Scripts are disabled in every render context; what the renderer itself reads from a page
  (its height, its colours, its images) runs in Playwright's evaluation, not as page script.
  ``inspect`` (axe-core) needs JavaScript on: its pages forbid every script of the message
  by their CSP (``NO_PAGE_SCRIPTS``).
- Every request the page makes is intercepted (``page.route``): the document itself and
  ``cid:`` images are served from the message, ``data:`` URIs need no request, remote images
  are fetched only when the caller allows them, and then through the SSRF-safe fetcher
  (``mailqa.net.http``) with its limits and an address policy that admits no loopback or
  private address; everything else is aborted. Chromium is also started with a dead proxy,
  so a request that escaped interception could reach nothing.
- A bounded pool: ``pool_size`` renders at once, each in a fresh page of a context kept per
  viewport and colour scheme (at most one per kind of variant), a
  per-render timeout, a cap on the document size, the rendered height and the image bytes. A
  render that fails or crashes the browser comes back ``errored``; the browser is started
  again for the next render.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from mailqa.render.emulate import PROFILES, emulate
from mailqa.render.variants import DEFAULT_VARIANTS, Variant

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Playwright, Request, Route

    from mailqa.core.message import ParsedMessage
    from mailqa.net.http.fetcher import LinkFetcher

CHROMIUM = "/usr/bin/chromium"
RENDERER_VERSION = "1"
"""Changes when the same HTML and variant would give other pixels (content addressing)."""
DOCUMENT_URL = "https://message.render.invalid/"
CID_URL = "https://cid.render.invalid/"
GMAIL_CLIP_BYTES = 102 * 1024
VERY_TALL_PX = 8000
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--no-pings",
    "--mute-audio",
    "--proxy-server=http://127.0.0.1:9",  # the discard port: nothing listens
    "--proxy-bypass-list=<-loopback>",  # loopback goes to the dead proxy too
    "--dns-prefetch-disable",
    "--renderer-process-limit=2",  # pages share renderer processes: memory stays bounded
    "--disable-dev-shm-usage",
)
NO_PAGE_SCRIPTS = "script-src 'none'; object-src 'none'; base-uri 'none'"
"""The document's CSP where the renderer runs its own scripts in the page (``inspect``): the
message's scripts, event handlers and ``javascript:`` URLs stay dead."""
_CID_REF = re.compile(r"""(?P<lead>["'(=\s])cid:""", re.I)

# Run by Playwright in the page (page scripts stay disabled).
_MEASURE_JS = """() => {
  const body = document.body;
  const text = body ? body.innerText.replace(/\\s+/g, ' ').trim() : '';
  let bigImages = 0, bigWithoutAlt = 0;
  for (const img of document.images) {
    const r = img.getBoundingClientRect();
    if (r.width * r.height >= 20000) {
      bigImages++;
      if (!(img.getAttribute('alt') || '').trim()) bigWithoutAlt++;
    }
  }
  const height = Math.max(
    document.documentElement.scrollHeight, body ? body.scrollHeight : 0, 1);
  return {height, textChars: text.length, bigImages, bigWithoutAlt};
}"""

# Forced inversion of light colours (see docs/previews.md): a background lighter than mid
# grey and text darker than it get the complement of their HSL lightness, hue and saturation
# kept; colours already dark (backgrounds) or light (text) stay; images are untouched.
_INVERT_JS = """(limit) => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = ({r, g, b}) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const flip = ({r, g, b, a}) => {
    r /= 255; g /= 255; b /= 255;
    const max = Math.max(r, g, b), min = Math.min(r, g, b);
    let h = 0, s = 0; const l = (max + min) / 2;
    if (max !== min) {
      const d = max - min;
      s = l > 0.5 ? d / (2 - max - min) : d / (max + min);
      h = max === r ? (g - b) / d + (g < b ? 6 : 0) : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
      h *= 60;
    }
    return `hsla(${h.toFixed(1)}, ${(s * 100).toFixed(1)}%, ${((1 - l) * 100).toFixed(1)}%, ${a})`;
  };
  const all = document.querySelectorAll('*');
  const n = Math.min(all.length, limit);
  const changes = [];
  for (let i = 0; i < n; i++) {
    const el = all[i], cs = getComputedStyle(el);
    const bg = parse(cs.backgroundColor), fg = parse(cs.color);
    changes.push([el, bg && bg.a > 0 && lum(bg) > 0.18 ? flip(bg) : null,
                  fg && lum(fg) < 0.18 ? flip(fg) : null]);
  }
  for (const [el, bg, fg] of changes) {
    if (bg) el.style.setProperty('background-color', bg, 'important');
    if (fg) el.style.setProperty('color', fg, 'important');
    if (el.hasAttribute('bgcolor') && bg) el.setAttribute('bgcolor', bg);
  }
  const root = document.documentElement;
  if (!parse(getComputedStyle(document.body || root).backgroundColor)?.a) {
    root.style.setProperty('background-color', '#121212', 'important');
  }
  return changes.length;
}"""
_IMAGES_OFF_CSS = "* { background-image: none !important; }"
MAX_INVERT_ELEMENTS = 20_000


@dataclass
class RenderConfig:
    executable: str = CHROMIUM
    pool_size: int = 2
    """Renders (browser contexts) at once."""
    timeout: float = 20.0
    """Seconds one render (one variant) may take."""
    max_html_bytes: int = 2 * 1024 * 1024
    max_height: int = 16_000
    """Full-length renders are cut at this many CSS pixels."""
    allow_remote_images: bool = False
    max_image_bytes: int = 5 * 1024 * 1024
    max_total_image_bytes: int = 20 * 1024 * 1024
    """Remote image bytes one render may fetch in all."""


RenderStatus = Literal["ok", "errored"]


@dataclass
class Render:
    """One variant of one message. PNGs are None when the render errored."""

    variant: Variant
    status: RenderStatus = "ok"
    full_png: bytes | None = None
    fold_png: bytes | None = None
    width: int = 0
    height: int = 0
    """Of the full-length render, in pixels (after the ``max_height`` cut)."""
    page_height: int = 0
    """Of the laid-out page, before any cut."""
    truncated: bool = False
    error: str | None = None
    duration_ms: float = 0.0
    dropped_css: int = 0
    blocked_requests: int = 0
    warnings: list[str] = field(default_factory=list)
    emulated: bool = True

    @property
    def label(self) -> str:
        return self.variant.label


@dataclass
class RenderSet:
    """A message's renders and the warnings about the message as a whole."""

    renders: list[Render]
    warnings: list[str] = field(default_factory=list)


def with_cid_urls(html: str) -> str:
    """``cid:`` references (in attributes and ``url()``) pointed at the renderer's own
    origin, so that the page asks for them and the router serves them from the message."""
    return _CID_REF.sub(lambda m: f"{m.group('lead')}{CID_URL}", html)


def _png(data: bytes, variant: Variant, crop: int | None) -> tuple[bytes, int, int]:
    """Re-encode a screenshot (cropped to ``crop`` pixels high), labelled as emulated."""
    from PIL import Image, PngImagePlugin

    with Image.open(io.BytesIO(data)) as image:
        img = image.convert("RGB")
    if crop is not None and img.height > crop:
        img = img.crop((0, 0, img.width, crop))
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "mailqa")
    info.add_text("Description", variant.label)
    out = io.BytesIO()
    img.save(out, format="PNG", pnginfo=info, optimize=False, compress_level=6)
    return out.getvalue(), img.width, img.height


class _Router:
    """Answers every request of one page (see the module docstring)."""

    def __init__(
        self,
        html: str,
        document: str,
        msg: ParsedMessage,
        variant: Variant,
        config: RenderConfig,
        fetcher: LinkFetcher | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.html = html
        self.headers = headers
        self.document = document
        self.variant = variant
        self.config = config
        self.fetcher = fetcher if config.allow_remote_images else None
        self.parts = {a.content_id.lower(): a for a in msg.attachments if a.content_id}
        self.image_bytes = 0
        self.blocked = 0
        self.remote = 0

    async def handle(self, route: Route, request: Request) -> None:
        url = request.url
        if url == self.document:
            await route.fulfill(
                status=200,
                content_type="text/html; charset=utf-8",
                headers=self.headers,
                body=self.html,
            )
            return
        if self.variant.images and url.startswith(CID_URL):
            part = self.parts.get(unquote(url[len(CID_URL) :]).strip("<>").lower())
            if part is not None:
                await route.fulfill(status=200, content_type=part.content_type, body=part.payload)
                return
        elif (
            self.variant.images
            and self.fetcher is not None
            and request.resource_type == "image"
            and url.startswith(("http://", "https://"))
            and self.image_bytes < self.config.max_total_image_bytes
        ):
            limit = min(
                self.config.max_image_bytes, self.config.max_total_image_bytes - self.image_bytes
            )
            got = await self.fetcher.fetch_bytes(url, max_bytes=limit)
            if got.error is None and got.data is not None and not got.truncated:
                self.image_bytes += len(got.data)
                self.remote += 1
                await route.fulfill(
                    status=200,
                    content_type=got.content_type or "application/octet-stream",
                    body=got.data,
                )
                return
        self.blocked += 1
        await route.abort("blockedbyclient")


@contextlib.contextmanager
def _stop_signals_ignored() -> Iterator[None]:
    """SIGINT and SIGTERM ignored while the Playwright driver is spawned, so that it inherits
    them ignored: a terminal's Ctrl-C (or a SIGTERM to the whole process group) is for the
    process that owns the renderer, which closes the browser and the driver in order. Ended
    first, the driver left failed futures behind as the server's loop closed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Renderer:
    """Renders messages; one per process. ``async with Renderer(config) as r: ...``."""

    def __init__(self, config: RenderConfig | None = None, fetcher: LinkFetcher | None = None):
        """``fetcher``: fetches remote images when ``config.allow_remote_images``; None makes
        one that may reach public addresses only."""
        self.config = config or RenderConfig()
        self._fetcher = fetcher
        self._own_fetcher: LinkFetcher | None = None
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self._slots = asyncio.Semaphore(max(1, self.config.pool_size))
        self._restart = asyncio.Lock()
        self._contexts: dict[tuple[int, int, int, bool, str, bool], BrowserContext] = {}
        self._pages = 0
        self.restarts = 0

    async def __aenter__(self) -> Renderer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        from playwright.async_api import async_playwright

        if self.config.allow_remote_images and self._fetcher is None:
            from mailqa.net.http.fetcher import LinkFetcher

            self._own_fetcher = self._fetcher = LinkFetcher()
        with _stop_signals_ignored():
            self._pw = await async_playwright().start()
        await self._launch()

    async def _launch(self) -> None:
        assert self._pw is not None
        self._browser = await self._pw.chromium.launch(
            executable_path=self.config.executable,
            args=list(CHROMIUM_ARGS),
            # The process that owns the renderer stops it in order (``close``): a Ctrl-C
            # or a SIGTERM to the process group must not end the driver under it.
            handle_sigint=False,
            handle_sigterm=False,
            handle_sighup=False,
        )

    async def close(self) -> None:
        if self._browser is not None:
            with contextlib.suppress(Exception):
                await self._browser.close()
            self._browser = None
        if self._pw is not None:
            await self._pw.stop()
            self._pw = None
        if self._own_fetcher is not None:
            await self._own_fetcher.aclose()
            self._own_fetcher = None

    async def _ensure_browser(self, failed: Browser | None = None) -> Browser:
        async with self._restart:
            browser = self._browser
            if browser is not None and browser.is_connected() and browser is not failed:
                return browser
            if browser is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(browser.close(), 5)
            self.restarts += 1
            self._contexts.clear()
            await self._launch()
            assert self._browser is not None
            return self._browser

    async def render_message(
        self, msg: ParsedMessage, variants: Sequence[Variant] = DEFAULT_VARIANTS
    ) -> RenderSet:
        """Every variant of ``msg``'s HTML part, rendered ``pool_size`` at a time."""
        html = msg.html or ""
        renders = await asyncio.gather(*(self.render(html, msg, v) for v in variants))
        warnings: list[str] = []
        size = len(html.encode("utf-8", errors="replace"))
        if size > GMAIL_CLIP_BYTES:
            warnings.append(
                f"Gmail clips this message: its HTML is {size / 1024:.0f} KB, over 102 KB; "
                "what follows the cut is behind 'View entire message'"
            )
        for render in renders:
            warnings.extend(f"{render.variant.name}: {w}" for w in render.warnings)
        return RenderSet(renders=list(renders), warnings=warnings)

    async def render(self, html: str, msg: ParsedMessage, variant: Variant) -> Render:
        """One variant; never raises for the page's sake (errors: ``status="errored"``)."""
        started = time.perf_counter()
        result = Render(variant=variant)
        if len(html.encode("utf-8", errors="replace")) > self.config.max_html_bytes:
            result.status = "errored"
            result.error = f"HTML larger than {self.config.max_html_bytes} bytes: not rendered"
            return result
        async with self._slots:
            started = time.perf_counter()
            browser = self._browser
            try:
                if browser is None or not browser.is_connected():
                    browser = await self._ensure_browser()
                async with asyncio.timeout(self.config.timeout):
                    await self._render_into(result, browser, html, msg, variant)
            except TimeoutError:
                result.status = "errored"
                result.error = f"render timed out after {self.config.timeout:g} s"
            except Exception as exc:
                result.status = "errored"
                result.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            if result.status == "errored" and (browser is None or not browser.is_connected()):
                try:
                    await self._ensure_browser(failed=browser)
                except Exception as exc:
                    result.error = f"{result.error}; browser restart failed: {exc}"
        if result.status == "errored":
            result.full_png = result.fold_png = None
        result.duration_ms = round((time.perf_counter() - started) * 1000, 2)
        return result

    async def _context(
        self, browser: Browser, variant: Variant, scripts: bool = False
    ) -> BrowserContext:
        """The context for the variant's viewport and colour scheme: one per kind, kept for
        the browser's life (a fresh page per render; every page's requests are routed).
        ``scripts``: JavaScript on, for ``inspect`` (whose pages forbid the message's own)."""
        key = (
            id(browser),
            variant.width,
            variant.fold_height,
            variant.mobile,
            variant.color,
            scripts,
        )
        context = self._contexts.get(key)
        if context is None:
            context = await browser.new_context(
                java_script_enabled=scripts,
                viewport={"width": variant.width, "height": variant.fold_height},
                device_scale_factor=1,
                is_mobile=variant.mobile,
                has_touch=variant.mobile,
                color_scheme="dark" if variant.color == "dark" else "light",
                reduced_motion="reduce",
                service_workers="block",
                accept_downloads=False,
            )
            self._contexts = {k: c for k, c in self._contexts.items() if k[0] == id(browser)}
            self._contexts[key] = context
        return context

    async def inspect(
        self,
        html: str,
        msg: ParsedMessage,
        variant: Variant,
        scripts: Sequence[str],
        expression: str,
        arg: Any = None,
    ) -> Any:
        """Lay out ``html`` as ``variant`` renders it (sealed in the same way), run the
        renderer's own ``scripts`` in the page, then evaluate ``expression`` with ``arg``.

        The page's JavaScript is on for the renderer's scripts (timers and promises need
        it), while its CSP (``NO_PAGE_SCRIPTS``) keeps every script of the message from
        running. Bounded by the render timeout; raises ``TimeoutError`` or the page's error.
        """
        if len(html.encode("utf-8", errors="replace")) > self.config.max_html_bytes:
            raise ValueError(f"HTML larger than {self.config.max_html_bytes} bytes")
        async with self._slots:
            browser = self._browser
            if browser is None or not browser.is_connected():
                browser = await self._ensure_browser()
            try:
                async with asyncio.timeout(self.config.timeout):
                    return await self._inspect(
                        browser, html, msg, variant, scripts, expression, arg
                    )
            finally:
                if not browser.is_connected():
                    with contextlib.suppress(Exception):
                        await self._ensure_browser(failed=browser)

    async def _inspect(
        self,
        browser: Browser,
        html: str,
        msg: ParsedMessage,
        variant: Variant,
        scripts: Sequence[str],
        expression: str,
        arg: Any,
    ) -> Any:
        self._pages += 1
        document = f"{DOCUMENT_URL}{self._pages}"
        router = _Router(
            with_cid_urls(html),
            document,
            msg,
            variant,
            self.config,
            self._fetcher,
            headers={"Content-Security-Policy": NO_PAGE_SCRIPTS},
        )
        context = await self._context(browser, variant, scripts=True)
        page = await context.new_page()
        try:
            await page.route("**/*", router.handle)
            await page.goto(document, wait_until="load")
            for script in scripts:
                await page.evaluate(script)
            return await page.evaluate(expression, arg)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(page.close(), 5)

    async def _render_into(
        self, result: Render, browser: Browser, html: str, msg: ParsedMessage, variant: Variant
    ) -> None:
        if variant.profile is not None:
            emulated = emulate(html, PROFILES[variant.profile])
            html, result.dropped_css = emulated.html, emulated.dropped_css
        if not variant.images:
            # After the message's own styles, so it wins; parsed into the body if need be.
            html = f"{html}\n<style>{_IMAGES_OFF_CSS}</style>"
        self._pages += 1
        document = f"{DOCUMENT_URL}{self._pages}"  # a new address per render: nothing cached
        router = _Router(with_cid_urls(html), document, msg, variant, self.config, self._fetcher)
        context = await self._context(browser, variant)
        page = await context.new_page()
        try:
            await page.route("**/*", router.handle)
            await page.goto(document, wait_until="load")
            if variant.color == "inverted":
                await page.evaluate(_INVERT_JS, MAX_INVERT_ELEMENTS)
            measured: dict[str, int] = await page.evaluate(_MEASURE_JS)
            page_height = int(measured["height"])
            height = min(page_height, self.config.max_height)
            shot = await page.screenshot(
                type="png",
                full_page=True,
                clip={"x": 0, "y": 0, "width": variant.width, "height": height},
                animations="disabled",
            )
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(page.close(), 5)
        result.full_png, result.width, result.height = _png(shot, variant, None)
        result.fold_png = _png(shot, variant, variant.fold_height)[0]
        result.page_height = page_height
        result.truncated = page_height > self.config.max_height
        result.blocked_requests = router.blocked
        if page_height > VERY_TALL_PX:
            result.warnings.append(
                f"very tall: {page_height} px at {variant.width} px wide; readers rarely "
                "scroll that far"
                + (f" (render cut at {self.config.max_height} px)" if result.truncated else "")
            )
        if (
            variant.images
            and variant.profile is None
            and variant.color == "light"
            and (variant.width == 600)
        ):
            big, without_alt = int(measured["bigImages"]), int(measured["bigWithoutAlt"])
            if big and int(measured["textChars"]) < 50:
                result.warnings.append(
                    "text lost with images off: the message is almost all images "
                    f"({measured['textChars']} characters of text)"
                )
            elif without_alt:
                result.warnings.append(
                    f"text lost with images off: {without_alt} large image(s) without alt "
                    "text show as empty boxes"
                )
