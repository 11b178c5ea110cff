"""`--metric-mode batch` says what it is: last writer wins, counted `written` (issue 10 item 7).

Reproduction: two concurrent batch-mode runs reported 11,475 + 11,650 "created" for 12,000 keys and
overwrote each other; `ingest --help` said "never overwritten" of every mode.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from adversary import Deployment, count_items, finish, summary

from salestalk_lib.testing.samples import sample_metrics, write_jsonl

TENANT = "bulk-co"


def test_concurrent_batch_runs_never_claim_created_and_account_for_every_record(deployment: Deployment, tmp_path):
    deployment.onboard(TENANT)
    metrics = sample_metrics(TENANT, 800, seed=71, first_day=datetime(2015, 1, 1, tzinfo=UTC))
    path = write_jsonl(tmp_path / "metrics.jsonl", metrics)
    runs = [
        deployment.start("ingest", str(path), "--no-progress", "--metric-mode", "batch", "--batch-id", f"bulk-{k}")
        for k in (1, 2)
    ]
    results = [finish(proc) for proc in runs]
    for code, out, err in results:
        assert code == 0, err
        row = summary(out)["metric"]
        # Nothing a BatchWriteItem wrote is proven new: never "created"; every record is accounted for.
        assert row["created"] == 0
        # (A run that started after the other finished finds everything already stored: nothing written.)
        assert row.get("written", 0) + row["already_exists"] == row["records"] == len(metrics)
        assert "last-writer-wins" in out
    st = deployment.st
    assert count_items(st, st.settings.table_name("metrics", TENANT)) == len(metrics)
    scope = st.tenant(TENANT)
    assert all(
        scope.storage.get_item(scope.metrics_table, {"pk": m.pk, "sk": m.sk}) == m.to_item() for m in metrics[::50]
    )


def test_ingest_help_never_says_never_overwritten_of_a_mode_that_overwrites(deployment: Deployment):
    result = deployment.run("ingest", "--help", connected=False)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    batch = re.search(r"batch \(BatchWriteItem.*?\)", text)
    assert batch and "last writer wins" in batch.group(0) and "overwrites" in batch.group(0)
    assert "never overwritten" not in text
    assert "batch overwrites (last writer wins)" in text
