"""`edgeage keys`: CURVE key pairs for the daemon and the tills allowed to listen."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeage.cli.common import console, fail

app = typer.Typer(
    help="CURVE keys for the encrypted, authenticated event stream.", no_args_is_help=True
)


@app.command("generate")
def generate(
    directory: Path = typer.Argument(..., help="where to write the key files"),
    names: list[str] = typer.Argument(None, help="key pair names (default: server till)"),
) -> None:
    """Write NAME.key (public: share it) and NAME.key_secret (private: keep it) per name."""
    from edgeage.edge.security import SecurityError, generate_keys

    try:
        pairs = generate_keys(directory, names or ["server", "till"])
    except (SecurityError, OSError) as exc:
        fail(str(exc))
    for public, secret in pairs:
        console.print(f"{public}  (public)   {secret}  (secret, mode 600)", highlight=False)
    console.print(
        "Daemon: publisher.curve.server_secret_key = the server's .key_secret; put each "
        "allowed till's .key (public) into publisher.curve.clients_dir.\n"
        "Till: `edgeage listen --client-key till.key_secret --server-key server.key`.",
        highlight=False,
    )
