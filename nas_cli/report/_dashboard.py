"""`nas view`: optuna-dashboard over an experiment's study.db, read-only.

The study is opened in SQLite's read-only mode, through `ReadableStorage` (choices by name,
the objective named), and every request that could write (POST, PUT, DELETE, ...) is refused:
a running experiment's writer is never disturbed (WAL lets it write while we read).
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_cli.errors import NasError, StoreError, UsageError
from nas_cli.report._space import read_only_uri

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

NEEDS = "nas view needs optuna-dashboard: pip install 'nas-cli[view]'"
_READ_ONLY = ("GET", "HEAD", "OPTIONS")


def require_dashboard() -> None:
    """Fail with one line when the `view` extra is not installed."""
    try:
        import optuna_dashboard  # noqa: F401
    except ImportError:
        raise NasError(NEEDS) from None


@dataclass
class Dashboard:
    """The dashboard's WSGI app for one experiment and where its study page is."""

    app: Callable[..., Iterable[bytes]]
    study_id: int
    n_trials: int

    @property
    def page(self) -> str:
        return f"/dashboard/studies/{self.study_id}"


def open_dashboard(exp: Path, metric: str | list[str] | None = None) -> Dashboard:
    """The read-only dashboard of the experiment in folder `exp` (its study is named after the
    folder); `metric` names the objective (a list: one name per objective)."""
    require_dashboard()
    import optuna
    from optuna_dashboard import wsgi

    from nas_cli.report._readable import ReadableStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    db = Path(exp) / "study.db"
    if not db.is_file():
        raise StoreError(f"{db} not found: the experiment has no trial store yet")
    try:
        inner = optuna.storages.RDBStorage(
            "sqlite://", skip_table_creation=True,
            engine_kwargs={"creator": _connector(db), "poolclass": _null_pool()},
        )
        study_id = inner.get_study_id_from_name(Path(exp).name)
        n_trials = inner.get_n_trials(study_id)
    except KeyError:
        raise StoreError(f"{db} holds no study named {Path(exp).name!r}") from None
    except Exception as exc:  # noqa: BLE001 - sqlalchemy/optuna raise many kinds
        raise StoreError(
            f"{db} is not a readable trial store ({type(exc).__name__}: {exc})") from None
    storage = ReadableStorage(inner, study_id, metric)
    return Dashboard(_refuse_writes(wsgi(storage)), study_id, n_trials)


def serve(app: Callable[..., Iterable[bytes]], host: str, port: int) -> WSGIServer:
    """A threaded WSGI server for `app` on host:port (port 0: any free port), not yet serving;
    call `serve_forever()`."""
    import socketserver
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class Server(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True
        allow_reuse_address = True
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
            pass

    try:
        return make_server(host, port, app, server_class=Server, handler_class=QuietHandler)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                         "choose another --port or --host") from None


def _connector(db: Path) -> Callable[[], sqlite3.Connection]:
    uri = read_only_uri(db)
    return lambda: sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)


def _null_pool() -> type:
    from sqlalchemy.pool import NullPool  # a fresh connection per session: always current data

    return NullPool


def _refuse_writes(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """The dashboard can create, rename and delete studies and edit notes: not here."""

    def read_only(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD", "GET").upper() in _READ_ONLY:
            return app(environ, start_response)
        body = json.dumps({"reason": "nas view is read-only: the experiment's study.db is "
                                     "never changed from the dashboard"}).encode()
        start_response("405 Method Not Allowed", [
            ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
            ("Allow", ", ".join(_READ_ONLY)),
        ])
        return [body]

    return read_only
