"""``--format junit``: one ``<testsuite>`` per file, one ``<testcase>`` per check.

A check with findings that fail the gate has a ``<failure>`` listing them; an errored check
has an ``<error>``; a skipped one ``<skipped>``. Findings that do not fail the gate (below
``fail-on``) go to ``<system-out>``. GitLab, Jenkins and most CI systems read this as is.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mailqa.cli.gate import FileResult, FindingState, GateFinding, GateRun, sorted_findings
from mailqa.core.report import Status


def _line(file: FileResult, f: GateFinding) -> str:
    where = file.path
    if f.line is not None:
        where += f":{f.line}" + (f":{f.column}" if f.column is not None else "")
    text = f"{where}: {f.severity.value} {f.rule}: {f.finding.title}"
    if f.finding.message:
        text += f"\n    {f.finding.message}"
    return text


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.3f}"


def _suite(file: FileResult) -> ET.Element:
    suite = ET.Element("testsuite", name=file.path)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_ms = 0.0
    if file.error:
        case = ET.SubElement(suite, "testcase", classname=file.path, name="read", time="0.000")
        ET.SubElement(case, "error", message=file.error, type="read-error").text = file.error
        counts["tests"] += 1
        counts["errors"] += 1
    new = file.counted(FindingState.NEW)
    for check in file.checks:
        counts["tests"] += 1
        total_ms += check.duration_ms
        case = ET.SubElement(
            suite,
            "testcase",
            classname=file.path,
            name=check.name,
            time=_seconds(check.duration_ms),
            file=file.path,
        )
        mine = sorted_findings([f for f in new if f.check == check.name])
        blocking = [f for f in mine if f.blocking]
        other = [f for f in mine if not f.blocking]
        if check.status == Status.ERRORED:
            counts["errors"] += 1
            message = check.error or check.summary or "check errored"
            ET.SubElement(case, "error", message=message, type="check-error").text = message
        elif blocking:
            counts["failures"] += 1
            message = f"{len(blocking)} finding(s) fail the gate"
            failure = ET.SubElement(case, "failure", message=message, type="mailqa")
            failure.text = "\n".join(_line(file, f) for f in blocking)
        elif check.status == Status.SKIPPED:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=check.summary or "skipped")
        if other:
            ET.SubElement(case, "system-out").text = "\n".join(_line(file, f) for f in other)
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", _seconds(total_ms))
    return suite


def render_junit(run: GateRun) -> str:
    root = ET.Element("testsuites", name="mailqa check", time=f"{run.duration_s:.3f}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for file in run.files:
        suite = _suite(file)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
