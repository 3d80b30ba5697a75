"""``mailqa audit --render-sample``: the worst-scoring messages rendered in real Chromium,
shown in report.html and listed in summary.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.audit.conftest import CliResult, make_message, run_cli, write_eml_dir, write_maildir

from mailqa.audit.record import AuditRecord
from mailqa.audit.sample import DEFAULT_SAMPLE_VARIANTS, WorstSample
from mailqa.audit.sources import open_path_source
from mailqa.cli.render_gate import folder_for

PNG = b"\x89PNG\r\n\x1a\n"
TEMPLATES = 5  # msg00000 lacks Subject and Date, msg00004 Subject: the two worst


def audit(source: Path, out: Path, *args: str, env: dict[str, str] | None = None) -> CliResult:
    return run_cli(
        "audit", str(source), "--jobs", "2", "--out", str(out), "--format", "json", *args, env=env
    )


@pytest.fixture(scope="module")
def sampled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    """One audit with ``--render-sample 2`` and the default variants, shared by the tests."""
    root = tmp_path_factory.mktemp("render-sample")
    source = write_eml_dir(root / "templates", TEMPLATES)
    out = root / "out"
    done = audit(source, out, "--render-sample", "2")
    assert done.returncode == 0, done.stderr
    assert "emulated" in done.stderr
    return source, out, json.loads(done.stdout)


def worst_two(out: Path, source: Path) -> list[str]:
    """From results.jsonl: lowest score first, ties in input (path) order."""
    order = {str(p): i for i, p in enumerate(sorted(source.glob("*.eml")))}
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    records.sort(key=lambda r: (r["score"], order[r["key"]]))
    return [r["key"] for r in records[:2]]


@pytest.mark.slow
def test_the_two_worst_messages_are_rendered(sampled: tuple[Path, Path, dict[str, Any]]) -> None:
    source, out, summary = sampled
    sample = summary["render_sample"]
    keys = [m["key"] for m in sample["messages"]]
    assert keys == worst_two(out, source)
    assert keys == [str(source / "msg00000.eml"), str(source / "msg00004.eml")]
    assert sample["variants"] == list(DEFAULT_SAMPLE_VARIANTS)
    assert sample["error"] is None
    folders = {p.parent for p in (out / "renders").rglob("*.png")}
    assert folders == {out / "renders" / folder_for(k) for k in keys}
    for message in sample["messages"]:
        assert message["folder"] == f"renders/{folder_for(message['key'])}"
        assert message["errored"] == [] and message["note"] is None
        assert set(message["pngs"]) == set(DEFAULT_SAMPLE_VARIANTS)
        for variant, paths in message["pngs"].items():
            assert paths["full"] == f"{message['folder']}/{variant}.png"
            assert paths["fold"] == f"{message['folder']}/{variant}.fold.png"
            for path in paths.values():
                assert (out / path).read_bytes()[:8] == PNG
    assert json.loads((out / "summary.json").read_text()) == summary


@pytest.mark.slow
def test_the_report_shows_the_sample(sampled: tuple[Path, Path, dict[str, Any]]) -> None:
    _, out, summary = sampled
    html = (out / "report.html").read_text()
    assert "Rendered sample (emulated)" in html
    for message in summary["render_sample"]["messages"]:
        assert f"score {message['score']:g}" in html
        for paths in message["pngs"].values():
            assert f'<a href="{paths["full"]}"><img src="{paths["fold"]}"' in html
    assert html.count("<img ") == 2 * len(DEFAULT_SAMPLE_VARIANTS)
    assert "msg00001.eml" not in html
    assert "<script" not in html and 'src="http' not in html


@pytest.mark.parametrize("args", [("--render-sample", "0"), ()], ids=["zero", "none"])
def test_no_sample_renders_nothing(tmp_path: Path, args: tuple[str, ...]) -> None:
    source = write_eml_dir(tmp_path / "templates", 3)
    out = tmp_path / "out"
    done = audit(source, out, *args)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["messages"] == 3 and "render_sample" not in summary
    assert not (out / "renders").exists()
    assert "Rendered sample" not in (out / "report.html").read_text()


def test_without_chromium_the_audit_stays_and_the_error_names_the_option(tmp_path: Path) -> None:
    source = write_eml_dir(tmp_path / "templates", 3)
    out = tmp_path / "out"
    env = {"MAILQA_RENDER_CHROMIUM": str(tmp_path / "no-chromium")}
    done = audit(source, out, "--render-sample", "1", env=env)
    assert done.returncode == 2
    assert "--render-sample" in done.stderr and "cannot start Chromium" in done.stderr
    assert len((out / "results.jsonl").read_text().splitlines()) == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["messages"] == 3
    sample = summary["render_sample"]
    assert "cannot start Chromium" in sample["error"]
    assert [m["pngs"] for m in sample["messages"]] == [{}]
    assert "Not rendered: cannot start Chromium" in (out / "report.html").read_text()
    assert not list(out.rglob("*.png"))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--render-sample", "2"), "--render-sample needs --out"),
        (("--render-variants", "mobile-375"), "--render-variants needs --render-sample"),
        (("--render-sample", "-1"), "--render-sample takes a count"),
        (("--render-sample", "1", "--render-variants", "nope"), "unknown render variant nope"),
    ],
)
def test_render_sample_usage_errors(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    source = write_eml_dir(tmp_path / "templates", 1)
    if "--render-sample needs --out" not in says:
        args = (*args, "--out", str(tmp_path / "out"))
    done = run_cli("audit", str(source), *args)
    assert done.returncode == 2
    assert says in done.stderr
    assert not (tmp_path / "out").exists()


def record(key: str, score: float | None) -> AuditRecord:
    return AuditRecord(key=key, status="passed" if score is not None else "unreadable", score=score)


def test_worst_sample_keeps_the_lowest_scores_ties_in_input_order() -> None:
    sample = WorstSample(3)
    arrivals = [("e", 80.0, 5), ("b", 50.0, 2), ("x", None, 0), ("d", 50.0, 4), ("a", 90.0, 1)]
    arrivals += [("c", 50.0, 3), ("f", 10.0, 6)]
    for key, score, position in arrivals:
        sample.offer(record(key, score), position)
    assert [s.key for s in sample.picked()] == ["f", "b", "c"]
    assert WorstSample(0).picked() == []


@pytest.mark.asyncio
async def test_sources_read_a_sampled_message_again(tmp_path: Path) -> None:
    from tests.audit.conftest import write_mbox

    for source in (
        open_path_source(str(write_mbox(tmp_path / "box.mbox", 3))),
        open_path_source(str(write_maildir(tmp_path / "maildir", 3))),
        open_path_source(str(write_eml_dir(tmp_path / "eml", 3))),
    ):
        items = [item async for item in source.items()]
        assert len(items) == 3
        for item in items:
            assert await source.read_again(item.key, None) == item.raw
        assert await source.read_again("elsewhere.eml", None) is None
        assert b"<offer0@shop.example>" in items[0].raw


@pytest.mark.slow
def test_keys_spelled_alike_get_folders_of_their_own(tmp_path: Path) -> None:
    source = tmp_path / "templates"
    source.mkdir()
    for name in ("a b.eml", "a_b.eml"):
        (source / name).write_bytes(make_message(0))
    out = tmp_path / "out"
    done = audit(source, out, "--render-sample", "2", "--render-variants", "desktop-600")
    assert done.returncode == 0, done.stderr
    messages = json.loads(done.stdout)["render_sample"]["messages"]
    assert [m["key"] for m in messages] == [str(source / "a b.eml"), str(source / "a_b.eml")]
    folders = [m["folder"] for m in messages]
    safe = f"renders/{folder_for(str(source / 'a_b.eml'))}"
    assert folders == [safe, f"{safe}-2"]
    for m in messages:
        assert (out / m["pngs"]["desktop-600"]["full"]).read_bytes()[:8] == PNG


def test_a_resumed_audit_samples_the_earlier_results_too(tmp_path: Path) -> None:
    """Every message audited by the earlier run: the sample still comes from them (listed,
    here with no Chromium to render them)."""
    source = write_eml_dir(tmp_path / "templates", TEMPLATES)
    out = tmp_path / "out"
    assert audit(source, out).returncode == 0
    env = {"MAILQA_RENDER_CHROMIUM": str(tmp_path / "no-chromium")}
    done = audit(source, out, "--resume", "--render-sample", "2", env=env)
    assert done.returncode == 2 and "cannot start Chromium" in done.stderr
    sample = json.loads((out / "summary.json").read_text())["render_sample"]
    assert [m["key"] for m in sample["messages"]] == worst_two(out, source)
    assert all(m["note"] is None for m in sample["messages"])  # read again, then not rendered


def test_a_sample_with_nothing_scored_says_so() -> None:
    from mailqa.audit.html import render_html
    from mailqa.audit.sample import SamplePlan, sample_summary
    from mailqa.audit.summary import AuditSummary

    summary = AuditSummary().to_dict()
    summary["render_sample"] = sample_summary(SamplePlan(3, ("desktop-600",), Path("r")), {})
    assert summary["render_sample"]["messages"] == []
    html = render_html(summary)
    assert "Rendered sample (emulated)" in html and "No message had a score to rank." in html
