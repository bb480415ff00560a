"""`edgeage models`: fetch and list the face-detector models."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from edgeage.cli.common import console, fail
from edgeage.edge import detector_models

app = typer.Typer(help="Fetch and list the face-detector models.", no_args_is_help=True)

DirOption = typer.Option(
    None, "--dir", help="model directory (default: $XDG_CACHE_HOME/edgeage/models)"
)


@app.command("fetch")
def fetch(model_dir: Path | None = DirOption) -> None:
    """Download, verify and store both BlazeFace models; instant and offline once cached."""
    target = model_dir or detector_models.default_model_dir()
    with console.status(f"fetching detector models into {target} ..."):
        try:
            states = detector_models.fetch(target)
        except detector_models.ModelFetchError as exc:
            fail(str(exc))
    _print(states)


@app.command("list")
def list_(
    model_dir: Path | None = DirOption,
    as_json: bool = typer.Option(False, "--json", help="one JSON object per model"),
) -> None:
    """Show each detector model with its path, state and sha256."""
    states = detector_models.status(model_dir or detector_models.default_model_dir())
    if as_json:
        for s in states:
            print(
                json.dumps(
                    {
                        "model": s.model.key,
                        "state": s.state,
                        "path": str(s.path),
                        "sha256": s.sha256,
                        "expected_sha256": s.model.sha256,
                    }
                )
            )
        return
    _print(states)
    if any(s.state != "ok" for s in states):
        console.print("run `edgeage models fetch` to get the missing models", style="yellow")


def _print(states: list[detector_models.ModelStatus]) -> None:
    table = Table("model", "state", "file", "sha256")
    table.columns[2].overflow = "fold"
    table.columns[3].no_wrap = True
    for s in states:
        colour = {"ok": "green", "missing": "yellow"}.get(s.state, "red")
        table.add_row(s.model.key, f"[{colour}]{s.state}[/]", str(s.path), s.sha256 or "-")
    console.print(table)
