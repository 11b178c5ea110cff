"""A corpus of bad files through `salestalk validate`, `ingest` and `seed --dir`: one clear line, the right exit code.

Each case is a file (or path) a user might really hand over. What each *should* be is decided in
`salestalk_lib.contract.validation`'s docstring: unreadable input is exit 2 in every command; a record
that was read but breaks a rule is exit 1 in `validate` and exit 2 (nothing written) in `ingest`
and `seed`; a UTF-8 byte order mark, CRLF line ends and U+2028 inside a string are accepted.
Every refusal prints exactly one line naming the file, no traceback, and changes no table
(the endpoint's tables under the test prefix are read back before and after).

The commands run in-process; the FIFO cases run `salestalk` as a child process with a timeout,
because what they prove is that the process does not hang.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from snapshots import snapshot

from salestalk_lib.cli.main import main
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.validation import read_records
from salestalk_lib.ops.connection import connect
from salestalk_lib.ops.tenants import FixedClock, Tenants

TENANT = "acme-corp-001"
SEED = Path(__file__).resolve().parents[2] / "seed_data"
REPO = Path(__file__).resolve().parents[2]
METRIC = {
    "tenantId": TENANT,
    "metricId": "7a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d",
    "subject": "revenue",
    "metricType": "revenue",
    "unit": "USD",
    "value": 12450000,
    "pk": "METRIC#revenue",
    "sk": "2025-Q3",
    "timestamp": 1751328000,
}
LINE = json.dumps(METRIC)


def _metric_with(field: str, literal: str) -> str:
    """The metric as a JSON line whose `field` holds `literal` verbatim (json.dumps cannot write some)."""
    return json.dumps({**METRIC, field: "__LITERAL__"}).replace('"__LITERAL__"', literal)


def _nested(levels: int) -> str:
    """The metric with `metadata` nested `levels` maps deep."""
    return json.dumps({**METRIC, "metadata": "__M__"}).replace('"__M__"', '{"a": ' * levels + "1" + "}" * levels)


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], Path]  # writes the case under a directory, returns the path to hand over
    validate_exit: int  # 2: bad input; 1: read, but a record breaks a rule
    says: str  # the one line's rule text contains this


def _file(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        path = root / name
        path.write_bytes(content)
        return path

    return make


def _symlink_loop(root: Path) -> Path:
    path = root / "loop.jsonl"
    path.symlink_to(path.name)
    return path


def _broken_symlink(root: Path) -> Path:
    path = root / "broken.jsonl"
    path.symlink_to("nowhere.jsonl")
    return path


def _empty_dir(root: Path) -> Path:
    path = root / "empty-dir"
    path.mkdir()
    return path


def _dir_without_records(root: Path) -> Path:
    path = root / "notes-dir"
    path.mkdir()
    (path / "README.txt").write_text("records live elsewhere\n")
    return path


CASES = [
    Case("truncated JSON", _file("t.jsonl", LINE[:40].encode()), 2, "not valid JSON"),
    Case("truncated JSON document", _file("t.json", ("[\n" + LINE + ",\n" + LINE[:30]).encode()), 2, "not valid JSON"),
    Case("empty file", _file("e.jsonl", b""), 2, "is empty: no records"),
    Case("blank lines only", _file("b.jsonl", b"\n  \n\r\n"), 2, "is empty: no records"),
    Case("NUL byte", _file("n.jsonl", LINE.encode() + b"\n\x00\n"), 2, "contains a NUL character"),
    Case(
        "not UTF-8 (Latin-1)",
        _file("l.jsonl", _metric_with("unit", '"caf\xe9"').encode("latin-1")),
        2,
        "is not UTF-8 text",
    ),
    Case("UTF-16", _file("u.json", ("[" + LINE + "]").encode("utf-16")), 2, "looks like UTF-16"),
    Case("deep nesting", _file("d.json", b"[" * 100_000 + b"]" * 100_000), 2, "nested deeper than 64 levels"),
    Case(
        "deep nesting within the reader's limit",
        _file("d.jsonl", _nested(40).encode()),
        1,
        "nested deeper than DynamoDB's 32 levels",
    ),
    Case(
        "integer over 4,300 digits",
        _file("i.jsonl", _metric_with("value", "9" * 5000).encode()),
        2,
        "an integer of 5,000 digits",
    ),
    Case(
        "integer over 38 digits",
        _file("j.jsonl", _metric_with("value", "9" * 500).encode()),
        1,
        "more than 38 significant digits",
    ),
    Case("NaN literal", _file("nan.jsonl", _metric_with("value", "NaN").encode()), 1, "must be a finite number"),
    Case(
        "Infinity literal",
        _file("inf.jsonl", _metric_with("value", "-Infinity").encode()),
        1,
        "must be a finite number",
    ),
    Case(
        "duplicate JSON key",
        _file("dup.jsonl", LINE.replace('"value": 12450000', '"value": 1, "value": 2').encode()),
        1,
        "appears more than once",
    ),
    Case("top-level number", _file("num.json", b"42\n"), 2, "the top level must be a record"),
    Case("symlink loop", _symlink_loop, 2, "symbolic link loop"),
    Case("broken symlink", _broken_symlink, 2, "symbolic link to a missing file"),
    Case("missing path", lambda root: root / "missing.jsonl", 2, "no such file or directory"),
    Case("empty directory", _empty_dir, 2, "no record files"),
    Case("directory without record files", _dir_without_records, 2, "no record files"),
]
IDS = [c.name for c in CASES]


def _lines_about(path: Path, text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(str(path))]


@pytest.fixture(scope="module")
def tenant_st(endpoint):
    """One registered, active tenant under a prefix of its own: ingest has somewhere it could write."""
    st = connect(settings=Settings(table_prefix=f"t{uuid.uuid4().hex[:10]}-", environment="test"), endpoint=endpoint)
    Tenants.of(st, clock=FixedClock(1762682400)).onboard(TENANT, name="ACME", owner_email="ops@acme.example")
    return st


def _conn(st) -> list[str]:
    return ["--endpoint-url", st.endpoint.url, "--table-prefix", st.settings.table_prefix, "--no-progress"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_validate_says_it_in_one_line_with_the_right_exit_code(capsys, tmp_path, case):
    path = case.make(tmp_path)
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == case.validate_exit, out + err
    about = _lines_about(path, out)
    assert len(about) == 1 and case.says in about[0], out
    assert "Traceback" not in out + err


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_ingest_refuses_with_exit_2_and_writes_nothing(capsys, tmp_path, tenant_st, case):
    path = case.make(tmp_path)
    before = snapshot(tenant_st)
    code = main(["ingest", str(path), *_conn(tenant_st)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    about = _lines_about(path, out + err)
    assert len(about) == 1 and case.says in about[0], out + err
    assert "nothing was written" in err and "Traceback" not in out + err
    assert snapshot(tenant_st) == before


def _seed_dir_with(tmp_path: Path, case: Case) -> tuple[Path, Path]:
    """A seed directory with valid tenants and the case's file among the tenant's files."""
    seed = tmp_path / "seed"
    (seed / TENANT).mkdir(parents=True)
    (seed / "tenants.json").write_text((SEED / "tenants.json").read_text(encoding="utf-8"), encoding="utf-8")
    bad = case.make(seed / TENANT)
    return seed, bad


# The directory cases are about the path named on the command line; inside a seed directory a
# subdirectory without records is just a subdirectory.
IN_A_SEED_DIR = [
    c for c in CASES if c.name not in ("missing path", "empty directory", "directory without record files")
]


@pytest.mark.parametrize("case", IN_A_SEED_DIR, ids=[c.name for c in IN_A_SEED_DIR])
def test_seed_refuses_with_exit_2_and_writes_nothing(capsys, tmp_path, endpoint, case):
    st = connect(settings=Settings(table_prefix=f"t{uuid.uuid4().hex[:10]}-", environment="test"), endpoint=endpoint)
    seed, bad = _seed_dir_with(tmp_path, case)
    code = main(["seed", "--dir", str(seed), *_conn(st)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    about = _lines_about(bad, err)
    assert len(about) == 1 and case.says in about[0], err
    assert "nothing was written" in err and "Traceback" not in out + err
    assert snapshot(st) == {}  # not even the registry table


@pytest.mark.parametrize("command", ["seed", "provision"])
@pytest.mark.parametrize("target", ["missing", "a file", "a symlink loop"])
def test_seed_and_provision_refuse_a_seed_directory_that_is_not_one(capsys, tmp_path, endpoint, command, target):
    st = connect(settings=Settings(table_prefix=f"t{uuid.uuid4().hex[:10]}-", environment="test"), endpoint=endpoint)
    path = tmp_path / "seed"
    if target == "a file":
        path.write_text("[]")
    elif target == "a symlink loop":
        path.symlink_to(path.name)
    flag = "--dir" if command == "seed" else "--seed-dir"
    code = main([command, flag, str(path), *_conn(st)[:4]])
    out, err = capsys.readouterr()
    assert code == 2 and len(_lines_about(path, err.replace(f"salestalk {command}: error: ", ""))) == 1, err
    assert "name the seed directory" in err or "symbolic link loop" in err
    assert "Traceback" not in out + err
    assert snapshot(st) == {}


@pytest.mark.parametrize(
    "tenants_json, says",
    [
        ('[{"tenantId": "acme-corp-001"', "not valid JSON"),
        ("", "is empty"),
        (json.dumps([{**json.loads((SEED / "tenants.json").read_text())[0], "plan": "gold"}]), "plan: Input should be"),
        (None, "no such file or directory"),
    ],
)
def test_provision_refuses_an_invalid_tenants_json_and_creates_nothing(capsys, tmp_path, endpoint, tenants_json, says):
    st = connect(settings=Settings(table_prefix=f"t{uuid.uuid4().hex[:10]}-", environment="test"), endpoint=endpoint)
    seed = tmp_path / "seed"
    seed.mkdir()
    if tenants_json is not None:
        (seed / "tenants.json").write_text(tenants_json, encoding="utf-8")
    code = main(["provision", "--seed-dir", str(seed), *_conn(st)[:4]])
    out, err = capsys.readouterr()
    assert code == 2 and says in err and "nothing was provisioned" in err, err
    assert len(_lines_about(seed / "tenants.json", err)) == 1 and "Traceback" not in out + err
    assert snapshot(st) == {}


@pytest.mark.parametrize("target", ["a file", "a path under a file"])
def test_schema_refuses_an_out_path_that_is_not_a_directory(capsys, tmp_path, target):
    blocker = tmp_path / "schemas"
    blocker.write_text("not a directory")
    out_dir = blocker if target == "a file" else blocker / "sub"
    code = main(["schema", "--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 2 and f"{out_dir}: " in err and "Traceback" not in out + err
    assert blocker.read_text() == "not a directory"


# --- accepted on purpose -------------------------------------------------------------------


def _plain(root: Path) -> Path:
    path = root / "plain.jsonl"
    path.write_text(LINE + "\n" + LINE.replace("2025-Q3", "2025-Q2").replace("1751328000", "1743465600") + "\n")
    return path


@pytest.mark.parametrize("variant", ["utf-8 byte order mark", "CRLF line ends", "both"])
def test_a_byte_order_mark_and_crlf_are_read_as_the_same_records(capsys, tmp_path, variant):
    plain = _plain(tmp_path)
    data = plain.read_bytes()
    if variant != "utf-8 byte order mark":
        data = data.replace(b"\n", b"\r\n")
    if variant != "CRLF line ends":
        data = b"\xef\xbb\xbf" + data
    other = tmp_path / "variant.jsonl"
    other.write_bytes(data)
    relabel = [(where.replace("variant", "plain"), record) for where, record in read_records(other)[0]]
    assert (relabel, []) == read_records(plain) and len(relabel) == 2
    assert main(["validate", str(other)]) == 0
    assert "OK: 2 record(s)" in capsys.readouterr().out


def test_a_raw_line_separator_inside_a_json_lines_string_is_text_not_a_line_break(capsys, tmp_path):
    path = tmp_path / "u2028.jsonl"
    line = json.dumps({**METRIC, "metadata": {"note": "first\u2028second\u2029third\x85"}}, ensure_ascii=False)
    path.write_text(line + "\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 0, capsys.readouterr().out
    ((where, record),) = read_records(path)[0]
    assert where == f"{path}:1" and record["metadata"]["note"] == "first\u2028second\u2029third\x85"


def test_the_accepted_variants_ingest_like_the_plain_file(capsys, tmp_path, endpoint):
    st = connect(settings=Settings(table_prefix=f"t{uuid.uuid4().hex[:10]}-", environment="test"), endpoint=endpoint)
    Tenants.of(st, clock=FixedClock(1762682400)).onboard(TENANT, name="ACME", owner_email="ops@acme.example")
    path = tmp_path / "bom-crlf.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + _plain(tmp_path).read_bytes().replace(b"\n", b"\r\n"))
    assert main(["ingest", str(path), *_conn(st)]) == 0, capsys.readouterr()
    scope = st.tenant(TENANT)
    stored = {i["sk"] for i in st.storage.scan(scope.metrics_table, consistent=True)[0]}
    assert stored == {"2025-Q3", "2025-Q2"}


# --- FIFOs: the process boundary is the point ----------------------------------------------


def _salestalk(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "SALESTALK_"))}
    return subprocess.run(
        [sys.executable, "-m", "salestalk_lib", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "records.jsonl"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", ["validate", "ingest", "seed"])
def test_a_fifo_is_refused_before_it_is_opened_for_reading(tmp_path, endpoint, fifo, command):
    st = connect(settings=Settings(table_prefix=f"t{uuid.uuid4().hex[:10]}-", environment="test"), endpoint=endpoint)
    if command == "seed":
        seed = tmp_path / "seed"
        seed.mkdir()
        (seed / "tenants.json").write_text((SEED / "tenants.json").read_text(encoding="utf-8"), encoding="utf-8")
        os.mkfifo(seed / "more.jsonl")
        target, argv = seed / "more.jsonl", ["seed", "--dir", str(seed), *_conn(st)]
    else:
        target, argv = fifo, [command, str(fifo), *(_conn(st) if command == "ingest" else [])]
    # A hang would end in TimeoutExpired: nothing ever writes to the FIFO.
    done = _salestalk(*argv)
    assert done.returncode == 2, done.stdout + done.stderr
    about = _lines_about(target, done.stdout + done.stderr)
    assert len(about) == 1 and "is a FIFO (named pipe), not a regular file" in about[0]
    assert "Traceback" not in done.stdout + done.stderr
    assert snapshot(st) == {}


def test_a_fifo_as_tenant_metadata_is_refused_before_it_is_opened_for_reading(endpoint, fifo):
    st = connect(settings=Settings(table_prefix=f"t{uuid.uuid4().hex[:10]}-", environment="test"), endpoint=endpoint)
    done = _salestalk(
        "tenant",
        "add",
        TENANT,
        "--name",
        "ACME",
        "--owner-email",
        "ops@acme.example",
        "--metadata-file",
        str(fifo),
        *_conn(st)[:4],
    )
    assert done.returncode == 2 and "is a FIFO (named pipe), not a regular file" in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert snapshot(st) == {}
