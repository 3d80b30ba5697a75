"""Render previews: a message's HTML part as PNGs in headless Chromium, **emulated**.

``Renderer`` (``browser``) renders ``Variant``s (``variants``): desktop and mobile widths,
dark mode (the message's own ``prefers-color-scheme: dark`` and a forced inversion of light
colours), images off, and client emulation profiles (``emulate``) built from the caniemail
data and known sanitiser behaviour. ``visual`` compares renders with a baseline.
Nothing here is a real client's screenshot: every render says it is emulated.
"""

from mailqa.render.browser import Render, RenderConfig, Renderer, RenderSet
from mailqa.render.variants import DEFAULT_VARIANTS, Variant, pick_variants

__all__ = [
    "DEFAULT_VARIANTS",
    "Render",
    "RenderConfig",
    "RenderSet",
    "Renderer",
    "Variant",
    "pick_variants",
]
