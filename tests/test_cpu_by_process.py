"""devtools.cpu_by_process: a command's CPU, grouped by the process that burnt it."""

from __future__ import annotations

import sys

import pytest

from devtools.cpu_by_process import label, main, run

BURN = "import time\nwhile time.process_time() < 0.6: pass\n"  # CPU, not wall time: the same on any machine


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/x/.venv/bin/python", "-u", "-m", "mkdocs", "build"], "python -m mkdocs"),
        (["python3", "-c", "import execnet"], "python -c (pytest-xdist workers, kernels' helpers...)"),
        (["/usr/bin/python3.11", "/repo/tests/aws_cli_many.py", "--x"], "python aws_cli_many.py"),
        (["java", "-Dp=1", "-jar", "/t/DynamoDBLocal.jar", "-inMemory"], "java DynamoDBLocal.jar"),
        (["node", "--max-old-space-size=64", "/t/evaluate.mjs"], "node evaluate.mjs"),
        (["/usr/lib/chromium/chromium", "--type=renderer"], "chromium"),
        (["/usr/bin/make", "test"], "make"),
        ([], "(ended before it was seen)"),
    ],
)
def test_a_process_is_grouped_by_what_it_runs(argv, expected):
    assert label(argv) == expected


def test_the_cpu_of_a_grandchild_is_found_and_the_exit_code_passed_on(tmp_path):
    script = tmp_path / "burn.py"
    script.write_text(BURN, encoding="utf-8")
    lines: list[str] = []
    # a shell in between: the burner is a grandchild of the sampled command
    code = run(["sh", "-c", f"{sys.executable} {script}; exit 3"], interval=0.05, top=10, write=lines.append)
    assert code == 3
    rows = {line.split(None, 3)[3]: float(line.split()[0]) for line in lines[2:]}
    assert rows["python burn.py"] >= 0.5
    assert lines[0].startswith("wall ") and "getrusage" in lines[0]


def test_a_missing_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--"])
    assert exit_.value.code == 2 and "give the command" in capsys.readouterr().err


def test_a_command_that_cannot_run_is_said_in_one_line_with_a_shells_exit_code(tmp_path):
    lines: list[str] = []
    missing = str(tmp_path / "no-such-program")
    assert run([missing], interval=0.05, top=5, write=lines.append) == 127
    assert lines == [f"cannot run {missing!r}: No such file or directory"]
