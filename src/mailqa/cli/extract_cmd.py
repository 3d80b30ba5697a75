"""``mailqa extract FILE``: a message's one-time codes and classified links, as JSON."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mailqa.cli.common import EXIT_USAGE


def extract(
    file: Annotated[
        str, typer.Argument(help="An .eml message, an .html template, or - for stdin.")
    ],
    indent: Annotated[int, typer.Option(help="JSON indentation (0: one line).")] = 2,
) -> None:
    """Print the codes and links a test suite reads out of a mail (docs/extract.md).

    The answer is what GET /api/v1/messages/{id}/extract gives: `code` (the likeliest
    one-time code), `codes`, `first` (the first link of each kind) and `links`, each with
    its part, line and column.
    """
    from mailqa.cli.inputs import load_input
    from mailqa.core.extract import extract as extract_from
    from mailqa.core.message import ParsedMessage

    try:
        item = load_input(file)
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror or exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    found = extract_from(ParsedMessage(item.raw))
    document = {"file": item.name, "template": item.is_template, **found.model_dump(mode="json")}
    typer.echo(json.dumps(document, indent=indent or None, ensure_ascii=False))
