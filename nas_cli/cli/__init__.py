"""The `nas` command. `main()` turns NasErrors into one line and an exit code."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any


def _click_classes() -> tuple[tuple[type[Any], ...], tuple[type[Any], ...], tuple[type[Any], ...]]:
    """(ClickException, Exit, Abort) classes: typer >= 0.29 vendors click, older uses click
    (exception classes of either module: no one static type)."""
    exceptions: list[type[Any]] = []
    exits: list[type[Any]] = []
    aborts: list[type[Any]] = []
    try:
        from typer import exceptions as typer_exceptions
        from typer._click import exceptions as vendored

        exceptions.append(vendored.ClickException)
        exits.append(typer_exceptions.Exit)
        aborts.append(typer_exceptions.Abort)
    except ImportError:
        pass
    try:
        import click

        exceptions.append(click.ClickException)
        exits.append(click.exceptions.Exit)
        aborts.append(click.exceptions.Abort)
    except ImportError:
        pass
    return tuple(exceptions), tuple(exits), tuple(aborts)


class _Stderr(logging.StreamHandler):
    """`warning: ...` lines on whatever sys.stderr is when they are written."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def _log_to_stderr() -> None:
    """nas-cli's warnings (e.g. a cleanup step that failed) reach the user as one line each."""
    logger = logging.getLogger("nas_cli")
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        logger.addHandler(_Stderr())
        logger.setLevel(logging.WARNING)


# `nas run`'s options that take a value (the spec is its one argument)
_RUN_VALUE_OPTIONS = {"--name", "--max-trials", "--concurrency", "--exp-dir"}


def _run_spec_argument(args: list[str]) -> str | None:
    """The SPEC of a `nas run` command line, before typer parses it (None: not a run)."""
    if args[:1] != ["run"]:
        return None
    rest = iter(args[1:])
    for arg in rest:
        if arg in ("--help", "-h"):
            return None
        if arg.startswith("-"):
            if arg in _RUN_VALUE_OPTIONS:
                next(rest, None)
            continue
        return arg
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `nas` console script; returns (and exits with) the exit code."""
    spec_file = _run_spec_argument(sys.argv[1:] if argv is None else argv)
    if spec_file is not None:  # workers' torch import starts now, beside this process's start
        from nas_cli.execution import start_server_for_spec

        start_server_for_spec(spec_file)
    import typer

    from nas_cli.cli._app import app
    from nas_cli.cli._common import EXIT_INTERRUPTED, EXIT_USAGE, err
    from nas_cli.errors import NasError, SpecError

    _log_to_stderr()
    click_errors, click_exits, click_aborts = _click_classes()
    command = typer.main.get_command(app)
    try:
        # Without standalone mode, click returns (not raises) the code of an Exit, e.g. the
        # 130 typer makes of a KeyboardInterrupt.
        result = command.main(args=argv, prog_name="nas", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except NasError as exc:
        if isinstance(exc, SpecError) and len(exc.problems) > 1:
            err.print(f"[bold red]error:[/] the spec has {len(exc.problems)} problems:")
            for problem in exc.problems:
                err.print(f"  {problem}", markup=False)
        else:
            err.print("[bold red]error:[/] ", end="")
            err.print(str(exc), markup=False)
        code = exc.exit_code
    except click_exits as exc:
        code = exc.exit_code
    except click_aborts:
        code = EXIT_INTERRUPTED
    except click_errors as exc:
        exc.show()
        code = getattr(exc, "exit_code", EXIT_USAGE)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        code = EXIT_INTERRUPTED
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if argv is None:  # the console script: skip torch's and optuna's slow interpreter teardown
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C now could only break it
        sys.stdout.flush()
        sys.stderr.flush()
        if "multiprocessing" in sys.modules:  # release queues and semaphores as exit would
            import multiprocessing.util

            multiprocessing.util._exit_function()  # type: ignore[attr-defined]  # private
            from nas_cli.execution import stop_server

            stop_server()
        os._exit(code)
    return code
