"""Provisioning right after a DeleteTable (issue 10, item 8).

DynamoDB deletes a table asynchronously: for a while DescribeTable still answers, with
`TableStatus: DELETING`, and a CreateTable of the same name is refused with
ResourceInUseException. The embedded server deletes at once, so a client wrapper plays
DynamoDB's part for one table: after the DeleteTable it reports the table as DELETING
for a few DescribeTable calls (its old description, as DynamoDB does), then as gone.
Provisioning must wait for the deletion and create the table anew, or, when the
deletion outlasts its time limit, say so; never read the dying table as drift.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from salestalk_lib.contract.errors import ProvisioningError
from salestalk_lib.contract.tables import MESSAGES, tags_for
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.ops.provision import provision_table


class _SlowDelete:
    """A boto3 client whose DeleteTable of `table` leaves it DELETING for `describes` DescribeTable calls."""

    def __init__(self, client: Any, table: str, describes: int):
        self._client, self._table, self._left = client, table, describes
        self._dying: dict[str, Any] | None = None
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def delete_table(self, **params: Any) -> Any:
        self.calls.append("DeleteTable")
        if params["TableName"] == self._table:
            self._dying = self._client.describe_table(TableName=self._table)["Table"]
        return self._client.delete_table(**params)

    def describe_table(self, **params: Any) -> Any:
        self.calls.append("DescribeTable")
        if params["TableName"] == self._table and self._dying is not None and self._left != 0:
            self._left -= 1
            return {"Table": {**self._dying, "TableStatus": "DELETING"}}
        return self._client.describe_table(**params)

    def create_table(self, **params: Any) -> Any:
        self.calls.append("CreateTable")
        if params["TableName"] == self._table and self._dying is not None and self._left != 0:
            raise ClientError(
                {"Error": {"Code": "ResourceInUseException", "Message": f"Table is being deleted: {self._table}"}},
                "CreateTable",
            )
        return self._client.create_table(**params)


def _fresh(endpoint, settings, describes: int) -> tuple[Storage, _SlowDelete, str, dict[str, str]]:
    name = settings.table_name(MESSAGES, "acme-corp-001")
    client = _SlowDelete(endpoint.client(), name, describes)
    storage = Storage(client)
    tags = tags_for(MESSAGES, environment="test", tenant_id="acme-corp-001")
    provision_table(storage, MESSAGES, name, tags)
    storage.delete_table(name)
    return storage, client, name, tags


def test_provisioning_right_after_a_delete_waits_and_creates_the_table_anew(endpoint, settings):
    storage, client, name, tags = _fresh(endpoint, settings, describes=3)
    result = provision_table(storage, MESSAGES, name, tags)
    assert result.action == "created"
    assert storage.describe_table(name)["TableStatus"] == "ACTIVE"
    # It waited for the deletion (DELETING seen three times, then gone) before its CreateTable.
    after_delete = client.calls[client.calls.index("DeleteTable") + 1 :]
    assert after_delete[:5] == ["DescribeTable"] * 4 + ["CreateTable"]


def test_a_deletion_that_outlasts_the_wait_is_reported_as_being_deleted(endpoint, settings):
    storage, client, name, tags = _fresh(endpoint, settings, describes=-1)  # DELETING for ever
    with pytest.raises(ProvisioningError, match=r"still being deleted.*try again"):
        provision_table(storage, MESSAGES, name, tags, wait_timeout=0.6)
    assert "CreateTable" not in client.calls[client.calls.index("DeleteTable") :]


def test_wait_deleted_is_bounded_by_its_poll_count_not_the_clock(endpoint, settings):
    storage, _, name, _ = _fresh(endpoint, settings, describes=-1)
    naps: list[float] = []
    with pytest.raises(ProvisioningError, match="still being deleted"):
        storage.wait_deleted(name, timeout=5.0, poll=0.5, sleep=naps.append)
    assert naps == [0.5] * 10
