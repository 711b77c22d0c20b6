"""What every command shares: the consoles, one way to fail, exit codes."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def abort(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Print one clear line on stderr and exit with `code`."""
    err.print(f"[bold red]error:[/] {message}", markup=True)
    sys.exit(code)


def arch_text(arch: dict, width: int = 80) -> str:
    text = ", ".join(f"{k}={v}" for k, v in arch.items())
    return text if len(text) <= width else text[: width - 3] + "..."


def fmt_metric(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
