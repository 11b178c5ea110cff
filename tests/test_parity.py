"""The parity probes on each engine, and the Engine parity page built from their ledger (devtools.parity).

DynamoDB Local is Amazon's own engine: for every behaviour the library relies on, it must do
what DynamoDB documents (a regression there is caught here). On any engine, a behaviour that
differs from DynamoDB's must be one the library has an answer for (`Probe.handled`).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from devtools import docsgen, parity
from devtools.parity import PROBES, Observation

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.integration


PREFIX = f"par{uuid.uuid4().hex[:8]}-"


@pytest.fixture(scope="module")
def observed(endpoint) -> dict[str, Observation]:
    return parity.run_probes(endpoint, prefix=PREFIX)


def test_every_probe_runs_to_an_outcome(observed):
    assert set(observed) == {p.key for p in PROBES}
    assert [k for k, o in observed.items() if o.outcome.startswith("probe failed")] == []


@pytest.mark.engine_only(
    "dynamodb-local",
    reason="DynamoDB Local is the engine held to DynamoDB's documented "
    "behaviour; moto's known differences are listed on the page",
)
def test_dynamodb_local_does_what_dynamodb_documents_wherever_the_library_relies_on_it(observed):
    relied_on = [p for p in PROBES if p.relied_on]
    assert len(relied_on) >= 15
    assert {p.key: observed[p.key].outcome for p in relied_on} == {p.key: p.expected for p in relied_on}


def test_every_difference_from_dynamodb_is_one_the_library_copes_with(observed):
    unanswered = {
        p.key: observed[p.key].outcome for p in PROBES if not parity.matches(p, observed[p.key]) and not p.handled
    }
    assert unanswered == {}


@pytest.mark.engine_only("moto", reason="moto's known differences from DynamoDB")
def test_the_moto_differences_the_library_works_around_are_still_there(observed):
    # If one of these starts to match DynamoDB, the page and the library's workarounds deserve a look.
    differ = {p.key for p in PROBES if not parity.matches(p, observed[p.key])}
    assert {
        "item-size-limit",
        "batch-write-25",
    } <= differ


@pytest.mark.engine_only("moto", reason="what moto_fixes makes moto do as DynamoDB does")
def test_moto_with_its_fixes_honours_client_request_tokens(observed):
    # moto as shipped ignores ClientRequestToken; `moto_fixes.transact_write_items_handler` makes a resend
    # idempotent and a reuse with other parameters refused, as on DynamoDB (packed ingest relies on it).
    by_key = {p.key: p for p in PROBES}
    for key in ("client-request-token-replay", "client-request-token-mismatch"):
        assert parity.matches(by_key[key], observed[key]), (key, observed[key].outcome)


def test_probe_outcomes_carry_no_run_specific_text(observed):
    text = json.dumps({k: vars(v) for k, v in observed.items()})
    assert PREFIX not in text and "127.0.0.1" not in text


# --- the ledger and the page (pure) --------------------------------------------------------------


def _ledger(tmp_path: Path, entries: list[dict]) -> Path:
    path = tmp_path / "ledger.json"
    path.write_text(json.dumps(parity.build_ledger(entries)), encoding="utf-8")
    return path


def _as_documented() -> dict[str, Observation]:
    return {p.key: Observation(p.expected, "") for p in PROBES}


def test_the_page_lists_every_probe_with_the_documented_behaviour_each_engine_and_the_feature(tmp_path):
    moto = {**_as_documented(), "batch-write-25": Observation("25 puts: accepted; 26 puts: accepted")}
    path = _ledger(
        tmp_path,
        [parity.engine_entry("moto", "5.2.5", moto), parity.engine_entry("dynamodb-local", "3.3.1", _as_documented())],
    )
    page = parity.parity_page(docsgen.Inputs(notebooks=(), parity_ledger=path))
    assert page.startswith("# Engine parity\n")
    assert "| `moto` | 5.2.5 | " + f"{len(PROBES) - 1} of {len(PROBES)} |" in page
    assert "| `dynamodb-local` | 3.3.1 | " + f"{len(PROBES)} of {len(PROBES)} |" in page
    for p in PROBES:
        assert p.behaviour in page and p.reference in page and parity._cell(p.library) in page
    row = next(line for line in page.splitlines() if line.startswith("| 25 requests per BatchWriteItem | `moto`"))
    assert "26 puts: accepted" in row and "Storage.batch_write" in row
    assert "✗ 25 puts: accepted; 26 puts: accepted" in page


def test_an_engine_that_could_not_start_is_named_with_the_reason_not_given_rows(tmp_path):
    path = _ledger(
        tmp_path,
        [
            parity.engine_entry("moto", "5.2.5", _as_documented()),
            parity.engine_entry("dynamodb-local", None, None, "DynamoDB Local is not installed"),
        ],
    )
    page = parity.parity_page(docsgen.Inputs(notebooks=(), parity_ledger=path))
    assert "| `dynamodb-local` | not available here: DynamoDB Local is not installed | – |" in page
    header = next(line for line in page.splitlines() if line.startswith("| behaviour | DynamoDB documents"))
    assert "`moto`" in header and "`dynamodb-local`" not in header
    assert "Every engine behaved as DynamoDB documents in every probe." in page


def test_without_a_ledger_the_page_says_how_to_make_one(tmp_path):
    page = parity.parity_page(docsgen.Inputs(notebooks=(), parity_ledger=tmp_path / "none.json"))
    assert "No parity ledger was generated" in page and "make docs" in page


def test_the_page_is_registered_and_in_the_nav_after_reliability():
    assert docsgen.PAGES["engine-parity.md"] is parity.parity_page
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    assert "  - Reliability: generated/reliability.md\n  - Engine parity: generated/engine-parity.md\n" in nav
    assert "devtools.parity --out build/parity/ledger.json" in (REPO / "Makefile").read_text(encoding="utf-8")


def test_the_parity_command_records_an_engine_it_cannot_start(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESTALK_DYNAMODB_LOCAL_DIR", str(tmp_path))  # no jar there
    out = tmp_path / "ledger.json"
    assert parity.main(["--engine", "dynamodb-local", "--out", str(out)]) == 0
    ledger = json.loads(out.read_text(encoding="utf-8"))
    (entry,) = ledger["engines"]
    assert entry["available"] is False and entry["results"] == {}
    assert "make dynamodb-local" in entry["reason"]
    assert [p["key"] for p in ledger["probes"]] == [p.key for p in PROBES]
