"""What a render shows: the variants (width, colour scheme, images, client profile)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mailqa.render.emulate import PROFILES

ColorMode = Literal["light", "dark", "inverted"]
DESKTOP_FOLD = 768
MOBILE_FOLD = 667
"""Heights of the above-the-fold crops: a laptop's mail pane and a small phone's screen."""


@dataclass(frozen=True)
class Variant:
    """One way of rendering a message."""

    name: str
    width: int
    color: ColorMode = "light"
    images: bool = True
    profile: str | None = None
    """A client emulation profile id (``mailqa.render.emulate.PROFILES``), or None for the
    message as Chromium itself lays it out."""

    @property
    def mobile(self) -> bool:
        return self.width < 500

    @property
    def fold_height(self) -> int:
        return MOBILE_FOLD if self.mobile else DESKTOP_FOLD

    @property
    def label(self) -> str:
        """What the render shows, said as emulated."""
        parts = [f"{'mobile' if self.mobile else 'desktop'} {self.width}px"]
        if self.color == "dark":
            parts.append("dark mode (the message's prefers-color-scheme: dark)")
        elif self.color == "inverted":
            parts.append("dark mode (forced inversion of light colours)")
        if not self.images:
            parts.append("images off")
        if self.profile is not None:
            parts.append(PROFILES[self.profile].name)
        return "emulated: " + ", ".join(parts)

    def key(self) -> str:
        """Everything that changes the pixels, for content addressing."""
        return f"{self.width}|{self.color}|{int(self.images)}|{self.profile or ''}"


DEFAULT_VARIANTS: tuple[Variant, ...] = (
    Variant("desktop-600", 600),
    Variant("desktop-800", 800),
    Variant("mobile-375", 375),
    Variant("dark-600", 600, color="dark"),
    Variant("dark-inverted-600", 600, color="inverted"),
    Variant("images-off-600", 600, images=False),
    *(Variant(f"{pid}-600", 600, profile=pid) for pid in PROFILES),
)
VARIANTS = {v.name: v for v in DEFAULT_VARIANTS}


def pick_variants(names: list[str] | None) -> tuple[Variant, ...]:
    """The variants named (all when ``names`` is empty); an unknown name raises ValueError."""
    if not names:
        return DEFAULT_VARIANTS
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(
            f"unknown render variant {', '.join(unknown)}; choose from {', '.join(VARIANTS)}"
        )
    return tuple(VARIANTS[n] for n in names)
