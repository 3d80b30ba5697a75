"""Visual regression: a render compared with its baseline, pixel by pixel, perceptually.

Identical images are recognised at once (Pillow's difference has no bounding box). Otherwise
pixelmatch compares the differing region (plus a margin, so its antialiasing detection sees
the neighbours): two pixels count as different when their perceptual colour distance (YIQ)
exceeds ``threshold`` (0 to 1; 0.1 by default), and pixels that only differ by antialiasing
are not counted. A render whose size changed is changed. The diff image shows the current
render faded, with the differing pixels in red and antialiased ones in yellow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DEFAULT_THRESHOLD = 0.1
MARGIN = 2

VisualStatus = Literal["same", "changed", "new"]


@dataclass(frozen=True)
class VisualResult:
    name: str
    status: VisualStatus
    diff_pixels: int = 0
    total_pixels: int = 0
    detail: str = ""
    diff_path: Path | None = None

    @property
    def failed(self) -> bool:
        return self.status != "same"


def compare(
    name: str,
    current: Path,
    baseline: Path,
    diff_out: Path,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> VisualResult:
    """``current`` against ``baseline``; writes ``diff_out`` when they differ."""
    from PIL import Image, ImageChops
    from pixelmatch.contrib.PIL import pixelmatch

    if not baseline.is_file():
        return VisualResult(name, "new", detail=f"no baseline image {baseline}")
    with Image.open(current) as a, Image.open(baseline) as b:
        now, before = a.convert("RGBA"), b.convert("RGBA")
    total = now.width * now.height
    if now.size != before.size:
        diff_out.parent.mkdir(parents=True, exist_ok=True)
        now.save(diff_out)
        return VisualResult(
            name,
            "changed",
            total_pixels=total,
            detail=f"size {before.width}×{before.height} → {now.width}×{now.height}",
            diff_path=diff_out,
        )
    box = ImageChops.difference(now.convert("RGB"), before.convert("RGB")).getbbox()
    if box is None:
        return VisualResult(name, "same", total_pixels=total)
    left, top, right, bottom = box
    region = (
        max(left - MARGIN, 0),
        max(top - MARGIN, 0),
        min(right + MARGIN, now.width),
        min(bottom + MARGIN, now.height),
    )
    crop_now, crop_before = now.crop(region), before.crop(region)
    marks = Image.new("RGBA", crop_now.size)
    count = pixelmatch(crop_now, crop_before, marks, threshold=threshold, includeAA=False)
    if count == 0:
        return VisualResult(
            name, "same", total_pixels=total, detail="only antialiasing or sub-threshold"
        )
    faded = Image.blend(Image.new("RGBA", now.size, (255, 255, 255, 255)), now, 0.1)
    faded.paste(marks, region[:2])
    diff_out.parent.mkdir(parents=True, exist_ok=True)
    faded.convert("RGB").save(diff_out)
    return VisualResult(
        name,
        "changed",
        diff_pixels=count,
        total_pixels=total,
        detail=f"{count} pixel(s) differ ({100 * count / total:.2f} %)",
        diff_path=diff_out,
    )
