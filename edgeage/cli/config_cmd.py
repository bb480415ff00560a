"""`edgeage config`: validate and show the effective configuration."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeage.cli.common import console, fail
from edgeage.edge.config import ConfigError, config_to_toml, load_config

app = typer.Typer(help="Validate and show the daemon's configuration.", no_args_is_help=True)


@app.command("check")
def check(file: Path = typer.Argument(..., help="TOML config file to validate")) -> None:
    """Validate FILE (plus EDGEAGE_* variables) and print the effective config."""
    try:
        cfg = load_config(file)
    except ConfigError as exc:
        fail(str(exc))
    console.print(f"# {file}: ok", style="green", highlight=False)
    console.print(config_to_toml(cfg), highlight=False, markup=False)


@app.command("show")
def show(
    config: Path | None = typer.Option(
        None, "--config", "-c", envvar="EDGEAGE_CONFIG", help="TOML config file"
    ),
) -> None:
    """Print the effective config: defaults, the file if any, and EDGEAGE_* overrides."""
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        fail(str(exc))
    console.print(config_to_toml(cfg), highlight=False, markup=False)
