"""Run several AWS CLI commands in one process: the `aws` script's own entry point, once per command.

Run by the AWS CLI's interpreter (`.venv-awscli/bin/python tests/aws_cli_many.py`), never imported by
the suite: it reads a JSON list of argument lists on stdin and prints a JSON list of
`{"returncode", "stdout", "stderr"}`, one per command, in order. Each command gets a fresh
`awscli.clidriver.create_clidriver()` (the `aws` script calls the same `main()`), so nothing one
command sets is seen by the next; what is saved is the interpreter start and the CLI's imports,
about a second per command.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

import awscli.clidriver


def run(argv: list[str]) -> dict[str, object]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = awscli.clidriver.create_clidriver().main(argv)
        except SystemExit as exc:  # argparse errors exit
            code = exc.code if isinstance(exc.code, int) else 1
    return {"returncode": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


if __name__ == "__main__":
    sys.argv[0] = "aws"  # argparse names the program as the `aws` script would
    commands = json.load(sys.stdin)
    json.dump([run(argv) for argv in commands], sys.stdout)
