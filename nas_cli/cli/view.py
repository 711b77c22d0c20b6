"""`nas view [EXP] [--port 8081] [--host 127.0.0.1]`: the experiment's live web dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nas_cli.cli._common import err, out

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_EXP = "Experiment id, prefix or name (default: the latest)."
_PORT = "Port to listen on (0: any free one)."
_HOST = "Address to bind (127.0.0.1: this machine only)."


def view(
    experiment: Annotated[Optional[str], typer.Argument(metavar="EXP", help=_EXP)] = None,
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help=_PORT)] = 8081,
    host: Annotated[str, typer.Option("--host", help=_HOST)] = "127.0.0.1",
    exp_dir: Annotated[Optional[Path], typer.Option("--exp-dir")] = None,
) -> None:
    """The experiment's live dashboard (optuna-dashboard, read-only); Ctrl-C stops it.

    History, intermediate values, parameter importance, parallel coordinates, trial table."""
    from nas_cli.report import open_dashboard, require_dashboard, serve
    from nas_cli.store import experiments_root, load_info, resolve

    require_dashboard()
    info = load_info(resolve(experiments_root(exp_dir), experiment))
    names = [o.metric for o in info.objectives]
    dashboard = open_dashboard(info.path, metric=names or None)
    server = serve(dashboard.app, host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{server.server_port}{dashboard.page}"
    out.print(f"experiment {info.id} ({info.name}, {info.status}, {dashboard.n_trials} trials): "
              f"{url}", markup=False)
    if host not in _LOOPBACK:
        err.print(f"note: listening on {host}: other machines can see this dashboard "
                  "(read-only, no password)", markup=False)
    out.print("the dashboard is read-only and follows the experiment live; Ctrl-C stops it",
              markup=False)
    out.file.flush()  # the URL must show at once, also through a pipe
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
