"""The `nas` command. `main()` turns NasErrors into one line and an exit code."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `nas` console script; returns (and exits with) the exit code."""
    import click

    from nas_cli.cli._app import app
    from nas_cli.cli._common import EXIT_INTERRUPTED, err
    from nas_cli.errors import NasError, SpecError

    command = __import__("typer").main.get_command(app)
    try:
        command.main(args=argv, prog_name="nas", standalone_mode=False)
        code = 0
    except NasError as exc:
        if isinstance(exc, SpecError) and len(exc.problems) > 1:
            err.print(f"[bold red]error:[/] the spec has {len(exc.problems)} problems:")
            for problem in exc.problems:
                err.print(f"  {problem}", markup=False)
        else:
            err.print("[bold red]error:[/] ", end="")
            err.print(str(exc), markup=False)
        code = exc.exit_code
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        code = EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        code = EXIT_INTERRUPTED
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.exit(code) if argv is None else None
    return code
