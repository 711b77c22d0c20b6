"""`python -m nas_cli` is `nas`."""

from nas_cli.cli import main

main()
