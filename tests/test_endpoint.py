"""Endpoint resolution: explicit URL, boto3's variables, opt-in AWS, else embedded."""

from __future__ import annotations

import urllib.request
import uuid

import pytest

from salestalk_lib.contract.errors import ConfigurationError, RealAwsNotAllowed
from salestalk_lib.dynamo.endpoint import resolve_endpoint

REAL_CREDS = {"AWS_ACCESS_KEY_ID": "AKIAREALLOOKING", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "eu-west-1"}


def test_explicit_url_wins_over_environment():
    ep = resolve_endpoint("http://127.0.0.1:1234", env={"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9"})
    assert (ep.url, ep.source, ep.embedded) == ("http://127.0.0.1:1234", "explicit", False)


def test_service_specific_variable_wins_over_generic_one():
    ep = resolve_endpoint(
        env={"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1", "AWS_ENDPOINT_URL": "http://127.0.0.1:2"}
    )
    assert (ep.url, ep.source) == ("http://127.0.0.1:1", "AWS_ENDPOINT_URL_DYNAMODB")
    ep = resolve_endpoint(env={"AWS_ENDPOINT_URL": "http://localhost:4566"})
    assert (ep.url, ep.source) == ("http://localhost:4566", "AWS_ENDPOINT_URL")


def test_loopback_endpoint_is_signed_with_dummy_credentials_not_real_ones(monkeypatch):
    for k, v in REAL_CREDS.items():
        monkeypatch.setenv(k, v)
    ep = resolve_endpoint(env={"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:4566"})
    assert ep.session.get_credentials().access_key == "testing"


def test_credentials_in_environment_without_opt_in_never_reach_aws(monkeypatch):
    for k, v in REAL_CREDS.items():
        monkeypatch.setenv(k, v)
    with resolve_endpoint(env=REAL_CREDS) as ep:
        assert ep.embedded and ep.url.startswith("http://127.0.0.1:")
        assert not ep.is_real_aws
        assert ep.region == "eu-west-1"


def test_aws_endpoint_url_needs_the_opt_in():
    with pytest.raises(RealAwsNotAllowed, match="--allow-aws"):
        resolve_endpoint(env={"AWS_ENDPOINT_URL": "https://dynamodb.us-east-1.amazonaws.com"})


def test_opt_in_without_credentials_explains_what_to_set(monkeypatch, tmp_path):
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigurationError, match="no credentials"):
        resolve_endpoint(env={"SALESTALK_ALLOW_AWS": "1"})


def test_malformed_url_is_a_clear_error():
    with pytest.raises(ConfigurationError, match="must look like http://host:port"):
        resolve_endpoint("127.0.0.1:8000")


def test_embedded_server_answers_dynamodb_over_http_and_stops():
    ep = resolve_endpoint(env={})
    client = ep.client()
    assert client.meta.endpoint_url == ep.url
    # moto keeps its backend per process: this server shares it with the session's, so look for our own table.
    name = f"probe-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    names = [n for page in client.get_paginator("list_tables").paginate() for n in page["TableNames"]]
    assert name in names
    ep.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(ep.url, timeout=2)


def test_clients_have_botocore_retries_off(endpoint):
    # one retry layer only: salestalk_lib.dynamo.retry; botocore must send each call once
    assert endpoint.client().meta.config.retries["total_max_attempts"] == 1


def test_the_storage_seam_leaves_request_validation_to_the_contract_and_to_dynamodb(endpoint):
    from botocore.exceptions import ParamValidationError

    from salestalk_lib.ops.connection import connect

    st = connect(endpoint=endpoint)
    bad = {"TableName": "seam-validation", "Item": {"pk": {"S": 5}, "sk": {"S": "2025-Q3"}}}  # a number, not a string
    with pytest.raises(ParamValidationError):  # a client users make themselves validates on the client
        endpoint.client().put_item(**bad)
    # The seam's client does not: it sends what the contract already checked, and the engine answers
    # (here: no such table, or the mistyped value), as a ClientError from the server, not from botocore.
    from salestalk_lib.contract.errors import StorageError

    with pytest.raises(StorageError) as caught:
        st.storage._call("PutItem", "seam-validation", **bad)
    assert caught.value.code != "ParamValidationError"  # the engine answered, not botocore's client-side check


@pytest.mark.engine_only(
    "moto",
    reason="DynamoDB Local 3.3.1 coerces a JSON number sent as an S value and stores "
    "it; DynamoDB (and moto) refuse it with SerializationException: see the "
    "wire-types probe of the Engine parity page",
)
def test_a_request_the_engine_refuses_is_translated_at_the_seam(endpoint):
    from salestalk_lib.contract.errors import RequestRejected
    from salestalk_lib.contract.tables import METRICS, create_table_request
    from salestalk_lib.ops.connection import connect

    st = connect(endpoint=endpoint)
    st.storage.create_table(create_table_request(METRICS, "seam-validation"))
    st.storage.wait_active("seam-validation")
    bad = {"TableName": "seam-validation", "Item": {"pk": {"S": 5}, "sk": {"S": "2025-Q3"}}}
    with pytest.raises(RequestRejected) as caught:
        st.storage._call("PutItem", "seam-validation", **bad)
    assert caught.value.code == "SerializationException"
    assert "PutItem on seam-validation failed" in str(caught.value)


def test_local_sessions_read_botocores_models_once(monkeypatch):
    import botocore.loaders

    from salestalk_lib.dynamo.endpoint import local_session

    first = local_session("us-east-1")
    first.client("dynamodb", endpoint_url="http://127.0.0.1:9")  # loads what a DynamoDB client needs
    read: list[str] = []
    load_file = botocore.loaders.JSONFileLoader.load_file

    def counting(self, file_path):
        read.append(file_path)
        return load_file(self, file_path)

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", counting)
    second = local_session("eu-west-1")
    client = second.client("dynamodb", endpoint_url="http://127.0.0.1:9")
    assert read == []  # endpoints.json and the DynamoDB model came from the shared loader
    assert client.meta.region_name == "eu-west-1" and client.meta.endpoint_url == "http://127.0.0.1:9"
    assert second._session.get_credentials().access_key == "testing"  # still a session of its own
