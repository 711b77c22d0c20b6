"""What every command shares: the consoles, tables, exit codes (failures are NasErrors,
turned into one line and an exit code by `nas_cli.cli.main`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_table(table: Any) -> None:
    """A table on stdout; piped to a file or another program it is not cut to the terminal's
    width, so ids and values stay whole (`nas status | cat`)."""
    if out.is_terminal:
        out.print(table)
    else:  # a console of its own: Console.print(width=) cannot exceed the console's width
        Console(file=out.file, width=_PIPE_WIDTH, highlight=False, soft_wrap=True).print(table)


_PIPE_WIDTH = 400


def arch_text(arch: dict, width: int = 80) -> str:
    text = ", ".join(f"{k}={v}" for k, v in arch.items())
    return text if len(text) <= width else text[: width - 3] + "..."


def fmt_value(value: float | None) -> str:
    """An objective's value: a count (params, flops) in full with separators, else as
    `fmt_metric`."""
    if value is not None and float(value).is_integer() and abs(value) >= 1000:
        return f"{int(value):,}"
    return fmt_metric(value)


def fmt_metric(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def size_text(size: float | None) -> str:
    """A space's size: `648`, or `infinitely many` with continuous ranges (stored as null)."""
    if size is None or size == float("inf"):
        return "infinitely many"
    return f"{int(size):,}"
