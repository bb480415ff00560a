"""The one `edgeage` command. Subcommands import their heavy dependencies lazily, so the
edge commands never load TensorFlow and `edgeage --help` stays fast."""

from __future__ import annotations

import os

import typer

from edgeage import __version__
from edgeage.cli import (
    bench_cmd,
    calibrate_cmd,
    config_cmd,
    data_cmd,
    estimate_cmd,
    evaluate_cmd,
    export_cmd,
    keys_cmd,
    listen_cmd,
    models_cmd,
    run_cmd,
    train_cmd,
)

app = typer.Typer(
    name="edgeage",
    help="Checkout-camera age estimation: run the camera daemon, train and export the model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(models_cmd.app, name="models")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(bench_cmd.app, name="bench")
app.add_typer(data_cmd.app, name="data")
app.command("train")(train_cmd.train)
app.command("evaluate")(evaluate_cmd.evaluate)
app.command("run")(run_cmd.run)
app.command("demo")(run_cmd.demo)
app.command("estimate")(estimate_cmd.estimate)
app.command("listen")(listen_cmd.listen)
app.command("calibrate")(calibrate_cmd.calibrate)
app.command("export")(export_cmd.export)


@app.command()
def version() -> None:
    """Print the edgeage version."""
    typer.echo(f"edgeage {__version__}")


def main() -> None:
    # TensorFlow's C++ INFO/WARNING lines (oneDNN, CUDA probing) bury the progress bars and
    # the one line that matters; errors still show. Set TF_CPP_MIN_LOG_LEVEL=0 to see all.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    app()
