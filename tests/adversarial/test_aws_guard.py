"""The real-AWS guard under hostile spellings (contract §7; issue 10, items 4 and 8).

"Local" is decided positively: loopback or a host listed in SALESTALK_LOCAL_HOSTS.
Every other endpoint, each spelling of an AWS endpoint included, is refused before a
credential is read or a request is sent, unless opted in; the refusal exits 2 and
names the opt-in (and the local-hosts setting). Local endpoints are always signed with
dummy credentials, whatever AWS_PROFILE says.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import botocore.loaders
import botocore.session
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st_

from salestalk_lib.cli.main import main
from salestalk_lib.contract.endpoint_guard import AWS_DNS_SUFFIXES, parse_local_hosts
from salestalk_lib.contract.errors import ConfigurationError, RealAwsNotAllowed
from salestalk_lib.dynamo.endpoint import resolve_endpoint, start_embedded

SALESTALK = str(Path(sys.executable).with_name("salestalk"))
REAL_LOOKING = {
    "AWS_ACCESS_KEY_ID": "AKIAREALLOOKINGKEY00",
    "AWS_SECRET_ACCESS_KEY": "real-secret",
    "AWS_PROFILE": "no-such-profile-anywhere",
    "AWS_EC2_METADATA_DISABLED": "true",
}

# Every spelling of a DynamoDB endpoint of AWS the guard must call AWS (the forms from botocore's
# endpoint rule set: dynamodb[-fips].{region}.{dnsSuffix | dualStackDnsSuffix}, {account}.ddb...).
AWS_SPELLINGS = [
    "https://dynamodb.us-east-1.amazonaws.com.",  # the trailing dot that got through
    "https://dynamodb.us-east-1.amazonaws.com./",
    "https://DYNAMODB.US-EAST-1.AMAZONAWS.COM",
    "https://DynamoDB.Us-East-1.AmazonAWS.Com.:443",
    "https://dynamodb.us-east-1.amazonaws.com:443/some/path",
    "http://dynamodb.us-east-1.amazonaws.com:80",
    "https://dynamodb-fips.us-east-1.amazonaws.com",
    "https://dynamodb-fips.us-gov-west-1.amazonaws.com",
    "https://dynamodb.us-east-1.api.aws",
    "https://dynamodb-fips.us-east-1.api.aws.",
    "https://dynamodb.cn-north-1.amazonaws.com.cn",
    "https://dynamodb.cn-northwest-1.api.amazonwebservices.com.cn",
    "https://dynamodb.eusc-de-east-1.amazonaws.eu",
    "https://dynamodb.us-iso-east-1.c2s.ic.gov",
    "https://111122223333.ddb.us-east-1.amazonaws.com",
    "https://vpce-0a1b2c3d-4e5f.dynamodb.us-east-1.vpce.amazonaws.com",
    "https://user:secret@dynamodb.us-east-1.amazonaws.com",  # userinfo in front of AWS
    "https://localhost@dynamodb.us-east-1.amazonaws.com",  # "localhost" as a user name
    "https://amazonaws.com",
]

# Not AWS and not local: refused as well, naming both the opt-in and the local-hosts setting.
NOT_LOCAL = [
    "http://localhost.evil.example:8000",  # starts with localhost
    "http://localhostevil:8000",
    "http://evil-localhost:8000",
    "http://dynamodb.localhost:8000",  # *.localhost: resolvers differ, so not by name
    "http://localhost.localdomain:8000",
    "http://localstack:4566",  # a container name, until it is listed
    "http://dynamodb-local:8000",
    "http://0.0.0.0:8000",  # "this host", not loopback
    "http://[::]:8000",
    "http://[::127.0.0.1]:8000",  # IPv4-compatible, not mapped: not loopback
    "http://128.0.0.1:8000",
    "http://10.0.0.5:8000",
    "http://[::2]:8000",
    "http://0x80000001:8000",  # 128.0.0.1 in hex
    "https://dynamodb.example.com",
]

# Loopback in every spelling, and the URL the client is given (rebuilt from the parsed parts).
LOOPBACK = [
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("http://localhost:8000", "http://localhost:8000"),
    ("http://LOCALHOST:8000", "http://localhost:8000"),
    ("http://localhost.:8000", "http://localhost:8000"),
    ("HTTP://LocalHost.:8000/", "http://localhost:8000/"),
    ("http://127.1:8000", "http://127.0.0.1:8000"),
    ("http://127.0.0.1.:8000", "http://127.0.0.1:8000"),
    ("http://0x7f000001:8000", "http://127.0.0.1:8000"),
    ("http://0x7f.1:8000", "http://127.0.0.1:8000"),
    ("http://2130706433:8000", "http://127.0.0.1:8000"),
    ("http://0177.0.0.1:8000", "http://127.0.0.1:8000"),
    ("http://127.255.255.254:8000", "http://127.255.255.254:8000"),
    ("http://[::1]:8000", "http://[::1]:8000"),
    ("http://[0:0:0:0:0:0:0:1]:8000", "http://[::1]:8000"),
    ("http://[::ffff:127.0.0.1]:8000", "http://[::ffff:7f00:1]:8000"),
    ("https://localhost:8443/prefix", "https://localhost:8443/prefix"),
]

# Malformed or ambiguous: a clear ConfigurationError, never a guess.
MALFORMED = [
    "http://127.0.0.1:8000\n",
    " http://127.0.0.1:8000",
    "http://127.0.0.1\t.evil.example:8000",  # urllib drops the tab: 127.0.0.1.evil.example
    "http://ｌｏｃａｌｈｏｓｔ:8000",  # full-width letters, IDNA-folded to localhost
    "http://127.0.0.1\\@evil.example:8000",
    "http://user@127.0.0.1:8000",  # credentials never go in the URL
    "http://127.0.0.1:0",
    "http://127.0.0.1:65536",
    "http://127.0.0.1:-1",
    "http://127.0.0.1:8000:9000",
    "http://::1:8000",
    "http://[::1:8000",
    "http://[fe80::1%25eth0]:8000",
    "http://127.0.0.%31:8000",
    "http://08.0.0.1:8000",
    "http://1.2.3.4.5:8000",
    "http://256.0.0.1:8000",
    "http://local..host:8000",
    "http://127.0.0.1:8000?x=1",
    "http://127.0.0.1:8000#frag",
    "ftp://127.0.0.1:8000",
    "127.0.0.1:8000",
    "http://",
    "",
]


def _no_credentials_or_sessions(monkeypatch):
    """Make building any session (the only way to read a credential) fail loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("a session was built (credentials could be read) before the refusal")

    monkeypatch.setattr(boto3, "Session", refuse)
    monkeypatch.setattr(botocore.session, "Session", refuse)


@pytest.mark.parametrize("url", AWS_SPELLINGS)
def test_every_spelling_of_an_aws_endpoint_is_refused_before_any_credential_is_read(monkeypatch, url):
    _no_credentials_or_sessions(monkeypatch)
    with pytest.raises(RealAwsNotAllowed) as caught:
        resolve_endpoint(url, env=REAL_LOOKING)
    message = str(caught.value)
    assert "is real AWS" in message and "--allow-aws" in message and "SALESTALK_ALLOW_AWS=1" in message


@pytest.mark.parametrize("url", NOT_LOCAL)
def test_an_endpoint_that_is_not_local_needs_the_opt_in_or_the_local_hosts_setting(monkeypatch, url):
    _no_credentials_or_sessions(monkeypatch)
    for env in ({**REAL_LOOKING, "AWS_ENDPOINT_URL_DYNAMODB": url}, {**REAL_LOOKING, "AWS_ENDPOINT_URL": url}):
        with pytest.raises(RealAwsNotAllowed) as caught:
            resolve_endpoint(env=env)
        message = str(caught.value)
        assert "--allow-aws" in message and "SALESTALK_LOCAL_HOSTS" in message and "--local-host" in message


@pytest.mark.parametrize(("url", "canonical"), LOOPBACK)
def test_loopback_in_any_spelling_is_local_and_signed_with_dummy_credentials(monkeypatch, url, canonical):
    for name, value in REAL_LOOKING.items():
        monkeypatch.setenv(name, value)  # real-looking keys and a profile that does not exist
    ep = resolve_endpoint(url, env=REAL_LOOKING)
    assert ep.url == canonical and ep.is_local and not ep.is_real_aws
    assert ep.session.get_credentials().access_key == "testing"
    assert ep.client().meta.endpoint_url == canonical


@pytest.mark.parametrize("url", MALFORMED)
def test_malformed_or_ambiguous_endpoint_urls_are_clear_configuration_errors(monkeypatch, url):
    _no_credentials_or_sessions(monkeypatch)
    with pytest.raises(ConfigurationError, match="endpoint URL"):
        resolve_endpoint(url, env={}, allow_aws=True)  # not even the opt-in makes them acceptable


def test_a_host_listed_as_local_is_local_exactly_and_never_gets_real_keys(monkeypatch):
    for name, value in REAL_LOOKING.items():
        monkeypatch.setenv(name, value)
    env = {**REAL_LOOKING, "SALESTALK_LOCAL_HOSTS": " localstack , Dynamodb-Local.,172.17.0.2"}
    for url in (
        "http://localstack:4566",
        "http://LocalStack.:4566",
        "http://dynamodb-local:8000",
        "http://172.17.0.2:8000",
    ):
        ep = resolve_endpoint(url, env=env)
        assert ep.is_local and ep.session.get_credentials().access_key == "testing"
    for url in ("http://localstack.evil.example:4566", "http://xlocalstack:4566", "http://172.17.0.3:8000"):
        with pytest.raises(RealAwsNotAllowed, match="SALESTALK_LOCAL_HOSTS"):
            resolve_endpoint(url, env=env)
    # The option adds to the setting; each host is named exactly.
    assert resolve_endpoint("http://emulator:1", env=REAL_LOOKING, local_hosts=["emulator"]).is_local


@pytest.mark.parametrize(
    "value",
    [
        "dynamodb.us-east-1.amazonaws.com",
        "DYNAMODB.US-EAST-1.API.AWS.",
        "*.local",
        "localstack:4566",
        "http://localstack",
        "local stack",
        "user@localstack",
        "localstack/x",
        "08.1.1.1",
    ],
)
def test_the_local_hosts_setting_refuses_aws_wildcards_ports_and_urls(value):
    with pytest.raises(ConfigurationError, match="SALESTALK_LOCAL_HOSTS"):
        parse_local_hosts(value)
    with pytest.raises(ConfigurationError, match="SALESTALK_LOCAL_HOSTS"):
        resolve_endpoint("http://127.0.0.1:1", env={"SALESTALK_LOCAL_HOSTS": value})


def test_with_the_opt_in_an_aws_endpoint_uses_the_credential_chain(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOPTEDIN000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "opted-in")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    ep = resolve_endpoint("https://dynamodb.us-east-1.amazonaws.com.", allow_aws=True, env={})
    assert ep.url == "https://dynamodb.us-east-1.amazonaws.com" and ep.is_real_aws
    assert ep.session.get_credentials().access_key == "AKIAOPTEDIN000000000"


def test_an_unknown_profile_with_the_opt_in_is_a_clear_error_not_a_traceback():
    env = {"SALESTALK_ALLOW_AWS": "1", "AWS_PROFILE": "no-such-profile-anywhere", "AWS_EC2_METADATA_DISABLED": "true"}
    with pytest.raises(ConfigurationError, match="no-such-profile-anywhere"):
        resolve_endpoint(env=env)
    with pytest.raises(ConfigurationError, match="no-such-profile-anywhere"):
        resolve_endpoint("https://dynamodb.us-east-1.amazonaws.com", env=env)


def test_the_suffix_list_covers_every_partition_botocore_knows():
    partitions = botocore.loaders.create_loader().load_data("partitions")["partitions"]
    known = {p["outputs"][k] for p in partitions for k in ("dnsSuffix", "dualStackDnsSuffix")}
    assert known <= set(AWS_DNS_SUFFIXES)


@pytest.mark.parametrize("url", ["https://dynamodb.us-east-1.amazonaws.com.", "http://localstack:4566"])
def test_the_cli_refuses_with_one_line_and_exit_2(capsys, monkeypatch, url):
    _no_credentials_or_sessions(monkeypatch)
    assert main(["tables", "--endpoint-url", url]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--allow-aws" in err and "Traceback" not in err


def test_the_cli_local_host_option_makes_a_container_name_local(capsys):
    # The refusal happens before any request; with the option the request is sent (and, no
    # emulator listening on that name here, fails as a connection error, not as a refusal).
    assert (
        main(
            [
                "tables",
                "--endpoint-url",
                "http://no-such-emulator.invalid:4566",
                "--local-host",
                "no-such-emulator.invalid",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "not local" not in err and "ListTables" in err


def test_a_missing_aws_profile_does_not_break_the_embedded_path(tmp_path):
    # A fresh process, so nothing moto cached earlier hides the failure.
    broken_config = tmp_path / "config"
    broken_config.write_text("[profile other\nthis is not ini\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_PROFILE": "no-such-profile-anywhere",
        "AWS_CONFIG_FILE": str(broken_config),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = subprocess.run([SALESTALK, "tables"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "(no rows)" in done.stdout


def test_serve_on_a_busy_port_fails_at_once_with_one_line_and_exit_2():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([SALESTALK, "serve", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    err = done.stderr.strip()
    assert "\n" not in err and f"127.0.0.1:{port}" in err and "in use" in err


@pytest.mark.parametrize("port", ["-1", "65536", "x", "８０００"])
def test_serve_refuses_a_port_outside_the_range_as_a_usage_error(port):
    # A subprocess with a time limit: the old code never returned from `serve --port -1`.
    done = subprocess.run([SALESTALK, "serve", "--port", port], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--port: must be a number from 0" in done.stderr and "Traceback" not in done.stderr


def test_start_embedded_on_a_busy_port_raises_instead_of_waiting_forever():
    outcome: list[BaseException | None] = []

    def start(port: int) -> None:
        try:
            start_embedded(port).close()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        worker = threading.Thread(target=start, args=(busy.getsockname()[1],), daemon=True)
        worker.start()
        worker.join(60)  # generous: the old code never returned at all
    assert not worker.is_alive() and isinstance(outcome[0], ConfigurationError)
    for bad in (-1, 65536, True, "8000"):
        with pytest.raises(ConfigurationError, match="port must be"):
            start_embedded(bad)  # type: ignore[arg-type]


# --- fuzzing: only the library's own errors, and never "local" for a host that is not ---------

_PIECES = [
    "localhost",
    "LOCALHOST",
    "127",
    "0",
    "1",
    "0x7f",
    "255",
    "amazonaws",
    "com",
    "cn",
    "api",
    "aws",
    "dynamodb",
    "us-east-1",
    "fips",
    "evil",
    "",
    "-",
    "_",
    "x",
]
_hosts = st_.lists(st_.sampled_from(_PIECES), min_size=1, max_size=5).map(".".join) | st_.sampled_from(
    ["[::1]", "[::ffff:127.0.0.1]", "[::]", "[::2]", "localhost.", "127.1", "0x7f000001"]
)
_urls = st_.builds(
    lambda scheme, user, host, port, tail: f"{scheme}://{user}{host}{port}{tail}",
    st_.sampled_from(["http", "https", "HTTP", "ftp"]),
    st_.sampled_from(["", "", "u@", "u:p@", "localhost@"]),
    _hosts,
    st_.sampled_from(["", ":8000", ":0", ":65536", ":x", ":"]),
    st_.sampled_from(["", "/", "/p", "?q", "#f", ".", "\n", " "]),
)


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(url=_urls, allow=st_.booleans())
def test_fuzzed_endpoint_urls_are_refused_or_local_never_anything_else(url, allow):
    try:
        ep = resolve_endpoint(url, allow_aws=allow, env={"AWS_EC2_METADATA_DISABLED": "true"})
    except ConfigurationError:
        return  # RealAwsNotAllowed included: a refusal, with a message
    if not allow:
        assert ep.is_local and ep.session.get_credentials().access_key == "testing"
    host = urlsplit(ep.url).hostname
    if ep.is_local:
        assert host == "localhost" or _loopback_address(host)
    assert ep.url.isascii() and "@" not in ep.url and not any(c.isspace() for c in ep.url)


def _loopback_address(host: str) -> bool:
    address = ipaddress.ip_address(host)
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback
