"""The malformed corpus: every record is rejected, and the expected field is named."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from salestalk_lib.contract.validation import parse_json, validate_record

CORPUS_DIR = Path(__file__).with_name("malformed")
CORPUS = CORPUS_DIR / "corpus.jsonl"


def _load() -> list[tuple[int, dict]]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [(n, parse_json(line)) for n, line in enumerate(lines, start=1) if line.strip()]


CASES = _load()


def test_corpus_holds_at_least_100_records():
    assert len(CASES) >= 100


def test_corpus_is_what_the_generator_writes():
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS_DIR / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == CORPUS.read_text(encoding="utf-8"), "run tests/malformed/make_corpus.py"


@pytest.mark.parametrize(("lineno", "case"), CASES, ids=[f"{n}:{c['expect_field']}" for n, c in CASES])
def test_malformed_record_is_rejected_naming_the_field(lineno, case):
    assert set(case) == {"expect_field", "why", "record"}
    model, violations = validate_record(case["record"], f"corpus.jsonl:{lineno}")
    assert model is None, f"accepted: {case['why']}"
    fields = [v.field for v in violations]
    assert case["expect_field"] in fields, f"{case['why']}: got {violations}"
    assert all(v.where == f"corpus.jsonl:{lineno}" and v.rule for v in violations)
