"""``mailqa check --render`` and the visual baseline, in real Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from tests.gate.conftest import Gate, write

from mailqa.render.visual import compare

pytestmark = pytest.mark.slow

TEMPLATE = """<!doctype html><html lang="en"><head><title>Welcome</title></head>
<body style="margin:0;background:#ffffff"><table role="presentation" width="100%"><tr><td>
<h1 style="color:{color};font-family:sans-serif">Welcome aboard</h1>
<p style="font-family:sans-serif">Thanks for signing up.</p></td></tr></table></body></html>"""
ARGS = ("--checks", "html", "--render-variants", "desktop-600,outlook-windows-600")


def test_render_writes_labelled_pngs(project: Path, gate: Gate) -> None:
    write(project, "mail/welcome.html", TEMPLATE.format(color="#111111"))
    out = gate("mail", "--render", "renders", *ARGS)
    assert out.exit_code == 0, out.stderr
    folder = project / "renders" / "mail" / "welcome.html"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "desktop-600.fold.png",
        "desktop-600.png",
        "outlook-windows-600.fold.png",
        "outlook-windows-600.png",
    ]
    with Image.open(folder / "outlook-windows-600.png") as image:
        assert image.width == 600
        assert image.info["Description"].startswith("emulated: ")
        assert "Outlook for Windows" in image.info["Description"]
    assert "emulated" in out.stderr


def test_a_pixel_change_fails_the_visual_baseline_and_a_no_op_does_not(
    project: Path, gate: Gate
) -> None:
    template = write(project, "welcome.html", TEMPLATE.format(color="#111111"))
    recorded = gate("welcome.html", "--visual-baseline", "base", "--write-visual-baseline", *ARGS)
    assert recorded.exit_code == 0, recorded.stderr
    assert (project / "base" / "welcome.html" / "desktop-600.png").is_file()

    same = gate("welcome.html", "--visual-baseline", "base", "--render", "now", *ARGS)
    assert same.exit_code == 0, same.stderr
    assert "2 same, 0 changed" in same.stderr
    assert not (project / "now" / "diff").exists()

    template.write_text(TEMPLATE.format(color="#cc0000"), encoding="utf-8")
    changed = gate("welcome.html", "--visual-baseline", "base", "--render", "now", *ARGS)
    assert changed.exit_code == 1
    assert "visual change: welcome.html: desktop-600" in changed.stderr
    diff = project / "now" / "diff" / "welcome.html" / "desktop-600.png"
    with Image.open(diff) as image:
        red = sum(
            1
            for y in range(image.height)
            for x in range(0, 300, 2)
            if image.getpixel((x, y)) == (255, 0, 0)
        )
    assert red > 20


def test_a_render_missing_from_the_baseline_fails(project: Path, gate: Gate) -> None:
    write(project, "welcome.html", TEMPLATE.format(color="#111111"))
    (project / "base").mkdir()
    out = gate("welcome.html", "--visual-baseline", "base", *ARGS)
    assert out.exit_code == 1
    assert "visual new: welcome.html: desktop-600" in out.stderr
    assert (project / "mailqa-renders" / "welcome.html" / "desktop-600.png").is_file()


def test_an_unknown_variant_is_a_usage_error(project: Path, gate: Gate) -> None:
    write(project, "welcome.html", TEMPLATE.format(color="#111111"))
    out = gate("welcome.html", "--render", "r", "--render-variants", "desktop-601")
    assert out.exit_code == 2
    assert "unknown render variant desktop-601" in out.stderr


def _square(path: Path, colour: tuple[int, int, int], offset: float = 0) -> Path:
    image = Image.new("RGB", (60, 40), (255, 255, 255))
    for x in range(10, 30):
        for y in range(10, 30):
            image.putpixel((x, y), colour)
    image.save(path)
    return path


def test_compare_is_perceptual(tmp_path: Path) -> None:
    base = _square(tmp_path / "base.png", (0, 0, 0))
    nearly = _square(tmp_path / "nearly.png", (6, 6, 6))  # below the perceptual threshold
    other = _square(tmp_path / "other.png", (200, 0, 0))
    assert compare("x", nearly, base, tmp_path / "d1.png").status == "same"
    assert not (tmp_path / "d1.png").exists()
    changed = compare("x", other, base, tmp_path / "d2.png")
    assert changed.status == "changed"
    assert changed.diff_pixels == 400
    assert (tmp_path / "d2.png").is_file()
    strict = compare("x", nearly, base, tmp_path / "d3.png", threshold=0.0)
    assert strict.status == "changed"
