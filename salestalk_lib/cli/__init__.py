"""The `salestalk` command line: one subcommand per module of this package.

Owns argument parsing, output formatting and exit codes (0 ok, 1 findings, 2 bad input or
an error, 130 interrupted; `main`), and what every command shares (`common`: connection
options, the table printer, escaping of control characters). It is the top layer: it may
import every layer of the library and is imported by none.
"""

from salestalk_lib.cli.main import main

__all__ = ["main"]
