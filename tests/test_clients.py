"""Real clients: `--explain --format cli-json` is what the AWS CLI accepts, `--output json|csv`, reserved words."""

from __future__ import annotations

import contextlib
import csv
import inspect
import io
import json
import os
import re
import subprocess
import typing
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import botocore.session
import pydantic
import pytest
from boto3.dynamodb.types import TypeDeserializer
from botocore.validate import ParamValidator

from salestalk_lib.cli.main import main
from salestalk_lib.contract import items, models, reserved
from salestalk_lib.contract.schemas import unix_seconds_attributes
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.tables import TABLE_SPECS, TableKind
from salestalk_lib.contract.times import format_instants
from salestalk_lib.ops import patterns
from salestalk_lib.ops.connection import connect
from salestalk_lib.ops.patterns import PATTERNS

ROOT = Path(__file__).resolve().parents[1]
ACME = "acme-corp-001"
DYNAMODB = botocore.session.get_session().get_service_model("dynamodb")


@pytest.fixture(scope="module")
def seeded(endpoint):
    """Both seed tenants under a table prefix of their own; `sent` keeps every request (operation, params)."""
    from salestalk_lib.ops.seed import load_seed

    st = connect(settings=Settings(table_prefix=f"cl{uuid.uuid4().hex[:8]}-", environment="test"), endpoint=endpoint)
    sent: list[tuple[str, dict[str, Any]]] = []
    st.storage.hooks.append(lambda op, params: sent.append((op, json.loads(json.dumps(params, default=str)))))
    load_seed(st, ROOT / "seed_data", progress=False)
    return st, sent


def _cli(capsys, st, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--endpoint-url", st.endpoint.url, "--table-prefix", st.settings.table_prefix])
    out, err = capsys.readouterr()
    return code, out, err


def _tenant_args(pattern: patterns.Pattern) -> list[str]:
    return [] if pattern.table is TableKind.REGISTRY else ["--tenant", ACME]


# --- --explain --format cli-json ----------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.name)
def test_cli_json_is_a_request_botocores_model_of_the_operation_accepts(capsys, seeded, pattern):
    st, _ = seeded
    argv = ["query", pattern.name, *_tenant_args(pattern), "--example", "--explain", "--format", "cli-json"]
    code, out, err = _cli(capsys, st, *argv)
    assert code == 0, err
    request = json.loads(out)
    operation = pattern.operation(pattern.check_params(dict(pattern.example)))
    command = {"Query": "query", "GetItem": "get-item"}[operation]
    assert f"aws dynamodb {command} --cli-input-json" in err  # the subcommand is on stderr, not in the JSON
    shape = DYNAMODB.operation_model(operation).input_shape
    assert set(request) <= set(shape.members), set(request) - set(shape.members)  # no `operation` key
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    explained = patterns.explain(
        st if pattern.table is TableKind.REGISTRY else st.tenant(ACME), pattern, dict(pattern.example)
    )
    assert request == explained[0].params  # exactly the request the library sends, values in DynamoDB JSON


AWS_CLI = ROOT / ".venv-awscli" / "bin" / "aws"  # installed by `make install-test-tools`
AWS_CLI_MANY = ROOT / "tests" / "aws_cli_many.py"  # several commands in one AWS CLI process


def _aws_cli_env() -> dict[str, str]:
    """The dummy credentials and region Other clients spells out, and no AWS config read."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "NO_PROXY": "*",
    }


def _aws_cli_many(commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Each of `commands` run by the real AWS CLI (its own `clidriver.main`, one process for all of them)."""
    assert AWS_CLI.is_file(), f"{AWS_CLI} is missing: run `make install-test-tools` (it installs the AWS CLI v1)"
    ran = subprocess.run(
        [str(AWS_CLI.with_name("python")), str(AWS_CLI_MANY)],
        input=json.dumps(commands),
        env=_aws_cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    return [
        subprocess.CompletedProcess(argv, r["returncode"], r["stdout"], r["stderr"])
        for argv, r in zip(commands, json.loads(ran.stdout), strict=True)
    ]


def _cli_json(st, pattern: patterns.Pattern) -> tuple[int, str, str]:
    """`salestalk query PATTERN --example --explain --format cli-json`: (exit code, stdout, stderr)."""
    argv = ["query", pattern.name, *_tenant_args(pattern), "--example", "--explain", "--format", "cli-json"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*argv, "--endpoint-url", st.endpoint.url, "--table-prefix", st.settings.table_prefix])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def aws_cli_answers(seeded, tmp_path_factory) -> dict[str, tuple[str, subprocess.CompletedProcess[str]]]:
    """pattern name -> (the request `--explain --format cli-json` printed, the AWS CLI's run of it unchanged)."""
    st, _ = seeded
    folder = tmp_path_factory.mktemp("aws-cli")
    requests, commands = {}, []
    for pattern in PATTERNS:
        code, out, err = _cli_json(st, pattern)
        assert code == 0, err
        path = folder / f"{pattern.name}.json"
        path.write_text(out, encoding="utf-8")
        command = re.search(r"aws dynamodb (query|get-item) --cli-input-json", err).group(1)
        requests[pattern.name] = out
        commands.append(
            ["dynamodb", command, "--cli-input-json", f"file://{path}", "--endpoint-url", st.endpoint.url,
             "--output", "json"]
        )  # fmt: skip
    answers = _aws_cli_many(commands)
    return {p.name: (requests[p.name], ran) for p, ran in zip(PATTERNS, answers, strict=True)}


@pytest.mark.integration
@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.name)
def test_cli_json_runs_unchanged_through_the_aws_cli(capsys, seeded, aws_cli_answers, pattern):
    st, _ = seeded
    argv = ["query", pattern.name, *_tenant_args(pattern), "--example", "--explain", "--format", "cli-json"]
    code, out, err = _cli(capsys, st, *argv)
    assert code == 0, err
    sent, ran = aws_cli_answers[pattern.name]
    assert out == sent  # what this run prints is the file the AWS CLI was given
    assert ran.returncode == 0, ran.stderr
    answer = json.loads(ran.stdout)
    stored = answer.get("Items", [answer["Item"]] if "Item" in answer else [])
    got = [{k: TypeDeserializer().deserialize(v) for k, v in item.items()} for item in stored]
    target = st if pattern.table is TableKind.REGISTRY else st.tenant(ACME)
    result = patterns.run(target, pattern, dict(pattern.example))
    assert len(got) == result.read > 0  # what DynamoDB returned to the library, before its client-side filter
    assert all(item in got for item in result.raw)


def test_the_aws_cli_runner_keeps_each_commands_exit_code_and_output_apart():
    ran = _aws_cli_many([["--version"], ["dynamodb", "no-such-command"], ["--version"]])
    assert [r.returncode for r in ran] == [0, 2, 0]  # argparse's exit code, as the `aws` script exits
    assert "aws: error: argument operation: Invalid choice" in ran[1].stderr and ran[1].stdout == ""
    assert ran[0].stdout.startswith("aws-cli/") and ran[0].stdout == ran[2].stdout and ran[2].stderr == ""


@pytest.mark.integration
def test_default_explain_format_still_names_the_operation(capsys, seeded):
    st, _ = seeded
    code, out, _ = _cli(capsys, st, "query", "session_rollup", "--tenant", ACME, "--example", "--explain")
    assert code == 0 and json.loads(out)["operation"] == "GetItem"


def test_query_help_names_the_aws_cli_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["query", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "cli-json" in out and "aws dynamodb query|get-item --cli-input-json" in out


# --- --output table|json|csv -------------------------------------------------------------------

SERIES = [
    "query",
    "metric_time_series",
    "--tenant",
    ACME,
    "--param",
    "subject=revenue",
    "--param",
    "granularity=quarter",
]
SESSION = ["query", "session_messages", "--tenant", ACME, "--example"]


def _expected(st) -> list[dict[str, Any]]:
    return patterns.run(st.tenant(ACME), "metric_time_series", subject="revenue", granularity="quarter").rows()


@pytest.mark.integration
def test_output_json_is_the_items_as_a_list_with_exact_numbers(capsys, seeded):
    st, _ = seeded
    code, out, _ = _cli(capsys, st, *SERIES, "--output", "json")
    assert code == 0
    assert "Decimal" not in out
    items_ = json.loads(out, parse_float=Decimal)
    # The items' own values, but times (unix seconds when stored) as ISO-8601 UTC, as every command prints them.
    assert items_ == [format_instants(row, unix_seconds_attributes()) for row in _expected(st)]
    assert [i["timestamp"] for i in items_] == ["2025-04-01T00:00:00Z", "2025-07-01T00:00:00Z", "2025-10-01T00:00:00Z"]
    assert [i["sk"] for i in items_] == ["2025-Q2", "2025-Q3", "2025-Q4"]
    code, out, _ = _cli(capsys, st, *SESSION, "--output", "json")
    assert code == 0 and "Decimal" not in out
    confidences = [
        i["classification.confidence"] for i in json.loads(out, parse_float=Decimal) if "classification.confidence" in i
    ]
    assert confidences and all(isinstance(c, Decimal) for c in confidences)
    raw = patterns.run(st.tenant(ACME), "session_messages", **patterns.get("session_messages").example).raw
    assert confidences == [i["classification"]["confidence"] for i in raw if "classification" in i]  # digit for digit


@pytest.mark.integration
def test_output_json_keeps_only_the_asked_columns_in_order(capsys, seeded):
    st, _ = seeded
    code, out, _ = _cli(capsys, st, *SERIES, "--output", "json", "--columns", "sk,value")
    assert code == 0
    assert [list(i) for i in json.loads(out)] == [["sk", "value"]] * 3


@pytest.mark.integration
def test_output_csv_is_read_back_by_the_csv_module(capsys, seeded):
    st, _ = seeded
    code, out, _ = _cli(capsys, st, *SERIES, "--output", "csv")
    assert code == 0 and "Decimal" not in out
    rows = list(csv.DictReader(io.StringIO(out)))
    expected = _expected(st)
    assert [r["sk"] for r in rows] == [e["sk"] for e in expected]
    assert [r["value"] for r in rows] == [str(e["value"]) for e in expected]
    code, out, _ = _cli(capsys, st, *SESSION, "--output", "csv")
    assert code == 0 and "Decimal" not in out
    texts = [r["text"] for r in csv.DictReader(io.StringIO(out))]
    raw = patterns.run(st.tenant(ACME), "session_messages", **patterns.get("session_messages").example).raw
    assert texts == [i["text"] for i in raw]  # commas and quotes in the text survive


@pytest.mark.integration
def test_output_table_is_still_the_default(capsys, seeded):
    st, _ = seeded
    assert _cli(capsys, st, *SERIES, "--columns", "sk") == _cli(
        capsys, st, *SERIES, "--columns", "sk", "--output", "table"
    )
    code, out, _ = _cli(capsys, st, *SERIES, "--columns", "sk")
    assert code == 0 and out.split() == ["sk", "-------", "2025-Q2", "2025-Q3", "2025-Q4"]


# --- reserved words ----------------------------------------------------------------------------

STORED = [items.Tenant, items.Message, items.MessageIdentity, items.SessionRollup, items.IngestBatch]
STORED += [items.ProcessedEvent, items.Metric]


def _names(model: type[pydantic.BaseModel], seen: set[type] | None = None) -> set[str]:
    """Every attribute name `model` stores, also inside its maps (nested models)."""
    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    gen = model.model_config.get("alias_generator")
    out: set[str] = set()
    for name, info in model.model_fields.items():
        out.add(info.serialization_alias or info.alias or (gen(name) if callable(gen) else name))
        stack = [info.annotation]
        while stack:
            t = stack.pop()
            stack += typing.get_args(t)
            if inspect.isclass(t) and issubclass(t, pydantic.BaseModel):
                out |= _names(t, seen)
    return out


def _all_model_names() -> set[str]:
    classes = [o for o in vars(models).values() if inspect.isclass(o) and issubclass(o, pydantic.BaseModel)]
    return set().union(*(_names(c) for c in classes))


def _seed_names() -> set[str]:
    """Every name in the seed items, also inside maps (`dimensions.region`: map keys that are data)."""
    out: set[str] = set()
    stack: list[Any] = [json.loads(f.read_text()) for f in sorted((ROOT / "seed_data").rglob("*.json"))]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            out |= set(value)
            stack += value.values()
        elif isinstance(value, list):
            stack += value
    return out


def test_every_attribute_name_of_the_models_and_table_specs_was_checked_against_the_reserved_words():
    names = _all_model_names() | _seed_names() | {a.name for spec in TABLE_SPECS.values() for a in spec.key_attributes}
    names |= {a.name for spec in TABLE_SPECS.values() for i in spec.indexes for a in i.key_attributes}
    assert reserved.reserved_among(names)  # raises KeyError for a name nobody checked
    assert not reserved.RESERVED & reserved.CHECKED_NOT_RESERVED
    assert {n.lower() for n in reserved.RESERVED} <= {n.lower() for n in names}  # no stale entries


def test_the_ten_reserved_words_of_the_issue_are_reserved_and_stored():
    ten = {"name", "plan", "status", "region", "timestamp", "text", "ttl", "value", "unit", "source"}
    assert ten <= reserved.RESERVED
    stored = set().union(*(_names(m) for m in STORED)) | _seed_names()
    assert ten <= stored
    assert all(reserved.is_reserved(n.upper()) for n in ten)  # not case-sensitive
    assert not reserved.is_reserved("subject") and not reserved.is_reserved("period")


_FUNCTIONS = {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains", "size"}
_FUNCTIONS |= {"if_not_exists", "list_append"}
_KEYWORDS = {"and", "or", "not", "between", "in", "set", "remove", "add", "delete"}
_EXPRESSIONS = ("KeyConditionExpression", "ConditionExpression", "FilterExpression", "UpdateExpression")
_EXPRESSIONS += ("ProjectionExpression",)


def _expressions(params: Any) -> list[str]:
    if isinstance(params, dict):
        found = [v for k, v in params.items() if k in _EXPRESSIONS and isinstance(v, str)]
        return found + [e for k, v in params.items() if k not in _EXPRESSIONS for e in _expressions(v)]
    if isinstance(params, list):
        return [e for v in params for e in _expressions(v)]
    return []


def bare_names(expression: str) -> set[str]:
    """Attribute names written bare in `expression` (not `#placeholder`, `:value`, function or keyword)."""
    words = set(re.findall(r"(?<![#:\w])[A-Za-z_][A-Za-z0-9_]*", expression))
    return {w for w in words if w not in _FUNCTIONS and w.lower() not in _KEYWORDS}


def test_bare_names_finds_what_a_placeholder_would_hide():
    assert bare_names("#s = :s AND attribute_not_exists(pk) AND status <> :x") == {"pk", "status"}
    assert bare_names("SET #v = if_not_exists(#v, :zero) + :one, updatedAt = :now") == {"updatedAt"}


@pytest.mark.integration
def test_every_reserved_attribute_name_the_library_writes_in_an_expression_goes_through_a_placeholder(seeded):
    st, sent = seeded
    sent.clear()
    from salestalk_lib.ops.seed import load_seed

    load_seed(st, ROOT / "seed_data", progress=False)  # again: the conditional re-put paths too
    for p in PATTERNS:
        patterns.run(st if p.table is TableKind.REGISTRY else st.tenant(ACME), p, **p.example)
    expressions = [e for _, params in sent for e in _expressions(params)]
    assert any(e.startswith("#h = :h") for e in expressions) and any("attribute_not_exists" in e for e in expressions)
    bare = {name for e in expressions for name in bare_names(e)}
    assert bare and not {n for n in bare if reserved.is_reserved(n)}
    placeheld = {v for _, params in sent for names in _names_maps(params) for v in names.values()}
    assert {"status", "timestamp"} <= placeheld  # patterns 3 and 5: reserved key attributes, through placeholders


def _names_maps(params: Any) -> list[dict[str, str]]:
    if isinstance(params, dict):
        out = [params["ExpressionAttributeNames"]] if "ExpressionAttributeNames" in params else []
        return out + [m for v in params.values() for m in _names_maps(v)]
    if isinstance(params, list):
        return [m for v in params for m in _names_maps(v)]
    return []


def test_inbox_claim_condition_names_its_reserved_attributes_through_placeholders():
    from salestalk_lib.ops import inbox

    assert not {n for n in bare_names(inbox.CLAIM_CONDITION) if reserved.is_reserved(n)}
    assert {"#ttl", "#status"} <= set(re.findall(r"#\w+", inbox.CLAIM_CONDITION))


@pytest.mark.integration
@pytest.mark.parametrize("output", ["table", "json", "csv"])
def test_no_output_prints_a_python_repr(capsys, seeded, output):
    st, _ = seeded
    for p in PATTERNS:
        argv = ["query", p.name, *_tenant_args(p), "--example", "--output", output, "--max-width", "0"]
        code, out, err = _cli(capsys, st, *argv)
        assert code == 0, err
        assert "Decimal(" not in out and "{'" not in out, (p.name, out)


# --- the Other clients page --------------------------------------------------------------------

PAGE = ROOT / "docs" / "other-clients.md"


def test_other_clients_page_lists_every_reserved_attribute_name_of_the_model():
    text = PAGE.read_text(encoding="utf-8")
    table = [line for line in text.splitlines() if line.startswith("| `")]
    listed = {name for line in table for name in re.findall(r"`(\w+)`", line.split("|")[1])}
    names = _all_model_names() | _seed_names()
    assert listed == set(reserved.reserved_among(names))
    assert '--expression-attribute-names \'{"#status": "status"}\'' in text and "#status = :s" in text


def test_other_clients_page_spells_out_dummy_credentials_and_region_and_is_in_the_nav_after_operations():
    text = PAGE.read_text(encoding="utf-8")
    env = "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1"
    commands = [line for line in text.splitlines() if line.strip().startswith("aws dynamodb")]
    assert commands and text.count(env) == len(commands)  # every AWS CLI command comes with them
    assert all("--endpoint-url http://127.0.0.1:PORT" in text.split(c)[1].split("```")[0] + c for c in commands)
    assert "--format cli-json" in text and "DynamoDB local" in text
    nav = [line.strip() for line in (ROOT / "mkdocs.yml").read_text(encoding="utf-8").splitlines()]
    assert nav[nav.index("- Operations: operations.md") + 1] == "- Other clients: other-clients.md"


@pytest.mark.integration
def test_other_clients_page_request_is_what_explain_prints(capsys, seeded):
    st, _ = seeded
    text = PAGE.read_text(encoding="utf-8")
    shown = json.loads(text.split("`request.json` holds:\n\n```json\n")[1].split("```")[0])
    code, out, _ = _cli(
        capsys, st, "query", "metric_time_series", "--tenant", ACME, "--example", "--explain", "--format", "cli-json"
    )
    request = json.loads(out)
    request["TableName"] = request["TableName"].removeprefix(st.settings.table_prefix)
    assert code == 0 and shown == request


# --- queries refuse bad input clearly ----------------------------------------------------------


@pytest.mark.integration
def test_a_subject_outside_the_vocabulary_is_exit_2_naming_the_parameter_and_the_allowed_values(capsys, seeded):
    st, sent = seeded
    sent.clear()
    argv = [
        "query",
        "metric_time_series",
        "--tenant",
        ACME,
        "--param",
        "subject=revenu",
        "--param",
        "granularity=quarter",
    ]
    code, out, err = _cli(capsys, st, *argv)
    assert code == 2 and out == ""
    assert "parameter subject" in err and "'revenu' is not a metric subject" in err
    assert "revenue, margin, customers" in err and "unknown" not in err.split("one of:")[1]
    assert _cli(capsys, st, *[a.replace("revenu", "revenue") for a in argv])[0] == 0


@pytest.mark.integration
@pytest.mark.parametrize("pattern", ["metric_time_series", "session_rollup", "messages_by_sender"])
def test_an_unknown_tenant_is_exit_2_saying_it_is_not_registered(capsys, seeded, pattern):
    st, _ = seeded
    code, out, err = _cli(capsys, st, "query", pattern, "--tenant", "nobody-here-009", "--example")
    assert code == 2 and out == ""
    assert "tenant 'nobody-here-009' is not registered" in err
    assert "ResourceNotFoundException" not in err and "Traceback" not in err
