"""Control characters: refused where the contract says text is one line, and never printed raw by the CLI.

Issue 10 item 8: ESC, BEL and newlines were accepted in tenant names and printed raw, so a name
could recolour the terminal, clear it or forge output lines. The contract now refuses every
control character in one-line text (`models.NonEmptyText`: names, ids, labels) and all but TAB,
LF and CR in message text (`models.MessageText`); key parts refuse them by the key grammar. Data
that holds them anyway (free-form metadata, items another client wrote) is escaped by the CLI's
output layer (`commands.escape_controls`).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from snapshots import snapshot

from salestalk_lib.cli.common import escape_controls, format_table
from salestalk_lib.cli.main import main
from salestalk_lib.contract.errors import ContractError
from salestalk_lib.contract.models import ClassificationPerformed, EventMetadata, Message, Metric, Tenant
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.tables import REGISTRY
from salestalk_lib.ops.connection import connect
from salestalk_lib.ops.tenants import FixedClock, Tenants

TENANT = "acme-corp-001"
CONTROLS = {
    "ESC": "\x1b[2J",
    "BEL": "\x07",
    "LF": "\n",
    "CR": "\r",
    "TAB": "\t",
    "NUL": "\x00",
    "DEL": "\x7f",
    "C1 CSI": "\x9b31m",
    "NEL": "\x85",
    "LINE SEPARATOR": "\u2028",
    "PARAGRAPH SEPARATOR": "\u2029",
}
# What must never reach a terminal from stored data: every C0/C1 control, DEL, U+2028/9, bidi overrides.
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _tenant(**over):
    fields = dict(tenant_id=TENANT, name="ACME", owner_email="ops@acme.example", plan="free", created_at=1762682400)
    return Tenant.create(**{**fields, **over})


@pytest.mark.parametrize("label", list(CONTROLS))
def test_a_tenant_name_refuses_every_control_character(label):
    with pytest.raises(ValidationError) as exc:
        _tenant(name=f"AC{CONTROLS[label]}ME")
    (error,) = exc.value.errors()
    assert error["loc"] == ("name",) and "must not contain control characters (one line of text)" in error["msg"]


@pytest.mark.parametrize("label", list(CONTROLS))
def test_every_one_line_field_refuses_control_characters(label):
    bad = f"x{CONTROLS[label]}y"
    with pytest.raises(ValidationError, match="correlationId"):
        EventMetadata.model_validate({"correlationId": bad})
    payload = {
        "messageId": "ac27d6c2-344a-415e-9da8-c93f71181091",
        "originalText": "hi",
        "classification": {"intent": "list", "subject": "revenue", "measure": "total", "confidence": 1},
        "classifierModel": bad,
        "processingTimeMs": 3,
    }
    with pytest.raises(ValidationError, match="classifierModel"):
        ClassificationPerformed.model_validate(payload)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("line one\nline two", True),
        ("col\tumn", True),
        ("windows\r\nline", True),
        ("para\u2028graph", True),
        ("bell\x07", False),
        ("esc\x1b[31m", False),
        ("nul\x00", False),
        ("del\x7f", False),
        ("csi\x9b", False),
    ],
)
def test_message_text_may_break_lines_and_indent_but_carries_no_other_control(text, ok):
    def create():
        return Message.create(
            tenant_id=TENANT,
            session_id="cd27e0f5-bbcd-4025-a2da-5be3ca9bd8b5",
            sender="user",
            text=text,
            at=datetime(2025, 11, 9, tzinfo=UTC),
        )

    if ok:
        assert create().text == text
    else:
        with pytest.raises(ValidationError, match="text\n  must not contain control characters"):
            create()


@pytest.mark.parametrize("value", ["Eu\x85rope", "Eu\u2028rope", "Eu\x9brope", "Eu\x1brope"])
def test_dimension_values_refuse_control_characters(value):
    with pytest.raises(ContractError, match="dimension value must be"):  # the key grammar refuses the sk
        Metric.create(
            tenant_id=TENANT,
            subject="revenue",
            period="2025-Q3",
            value=1,
            unit="USD",
            dimensions={"region": value},
            dimension_key=f"region:{value}",
        )


def test_tenant_add_refuses_a_name_with_escape_sequences_and_writes_nothing(capsys, endpoint, settings, st):
    code = main(
        [
            "tenant",
            "add",
            TENANT,
            "--name",
            "AC\x1b[31mME\x07",
            "--owner-email",
            "ops@acme.example",
            "--endpoint-url",
            endpoint.url,
            "--table-prefix",
            settings.table_prefix,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 2 and "name: must not contain control characters (one line of text): U+001B ESC" in err
    assert not RAW.search(out + err)
    assert snapshot(st) == {}


def test_escape_controls_writes_every_control_as_its_escape():
    assert (
        escape_controls("a\x1b[2Jb\nc\td\re\u2028f\u202eg\x85h\x00")
        == "a\\x1b[2Jb\\nc\\td\\re\\u2028f\\u202eg\\x85h\\x00"
    )
    assert escape_controls("line\n\tindented", keep="\n\t") == "line\n\tindented"
    assert escape_controls("Größe ✓ 東京") == "Größe ✓ 東京"
    table = format_table([{"name": "ACME\nOK: forged line", "n": 1}])
    assert table.splitlines()[2].startswith("ACME\\nOK: forged line")


@pytest.fixture
def planted(endpoint):
    """A tenant whose stored items hold control characters, written past the contract as another client could."""
    st = connect(settings=Settings(table_prefix=f"t{uuid.uuid4().hex[:10]}-", environment="test"), endpoint=endpoint)
    Tenants.of(st, clock=FixedClock(1762682400)).onboard(TENANT, name="ACME", owner_email="ops@acme.example")
    registry = st.settings.table_name(REGISTRY)
    item = st.storage.get_item(registry, {"tenantId": TENANT})
    st.storage.put_item(registry, {**item, "name": "AC\x1b[2J\x1b[HME\nOK: forged line\x07\u202e"})
    metric = Metric.create(
        tenant_id=TENANT,
        subject="revenue",
        period="2025-Q3",
        value=1,
        unit="USD",
        metadata={"note\x1b]0;title\x07": "x\r\x1b[1Aforged\x9b2K"},
    )
    st.storage.put_item(st.tenant(TENANT).metrics_table, metric.to_item())
    return st


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["tenant", "list"], False),
        (["query", "tenant_by_id", "--tenant", TENANT], False),
        (
            [
                "query",
                "metric_for_period",
                "--tenant",
                TENANT,
                "--param",
                "subject=revenue",
                "--param",
                "period=2025-Q3",
            ],
            True,
        ),
        (["audit", "--tenant", TENANT], False),
    ],
    ids=["tenant list", "query registry", "query metric", "audit"],
)
def test_stored_control_characters_are_never_printed_raw(capsys, planted, argv, shown):
    code = main([*argv, "--endpoint-url", planted.endpoint.url, "--table-prefix", planted.settings.table_prefix])
    out, err = capsys.readouterr()
    assert not RAW.search(out + err), repr(out + err)
    assert not any(line.startswith(("OK: forged", "forged")) for line in (out + err).splitlines())
    assert "Traceback" not in err
    if shown:  # the metadata is displayed, escaped
        assert code == 0 and "note\\x1b]0;title\\x07" in out and "x\\r\\x1b[1Aforged\\x9b2K" in out
    else:  # the registry item breaks the contract now: named, not shown
        assert code in (1, 2) and "must not contain control characters (one line of text)" in out + err
