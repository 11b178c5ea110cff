"""The foundation CLI: serve, provision, tables."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import boto3

from salestalk_lib.cli.common import seed_tenant_ids
from salestalk_lib.cli.main import main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_provision_defaults_to_the_seed_tenants(capsys, endpoint, settings):
    seeds = seed_tenant_ids()
    code, out, _ = _run(capsys, "provision", "--endpoint-url", endpoint.url, "--table-prefix", settings.table_prefix)
    assert code == 0
    assert seeds, "seed_data/tenants.json names the seed tenants"
    for tenant in seeds:
        assert f"{settings.table_prefix}tenant-{tenant}-messages" in out
    assert out.count("created") == 1 + 2 * len(seeds)


def test_provision_with_tenant_option_then_tables_lists_them(capsys, endpoint, settings):
    args = ["--endpoint-url", endpoint.url, "--table-prefix", settings.table_prefix]
    code, out, _ = _run(capsys, "provision", "--tenant", "zeta-co", "--tenant", "beta-co", *args)
    assert code == 0 and out.count("created") == 5
    code, out, _ = _run(capsys, "tables", *args)
    assert code == 0
    names = re.findall(rf"^({re.escape(settings.table_prefix)}\S+)", out, flags=re.M)
    assert sorted(names) == sorted(
        settings.table_prefix + n
        for n in [
            "tenants-metadata",
            "tenant-zeta-co-messages",
            "tenant-zeta-co-metrics",
            "tenant-beta-co-messages",
            "tenant-beta-co-metrics",
        ]
    )
    assert "SenderIndex, SessionIndex" in out and "False" not in out


def test_hostile_tenant_id_exits_2_with_the_rule(capsys, endpoint, settings):
    code, _, err = _run(
        capsys,
        "provision",
        "--tenant",
        "Acme/../x",
        "--endpoint-url",
        endpoint.url,
        "--table-prefix",
        settings.table_prefix,
    )
    assert code == 2
    assert "lowercase letters, digits and '-'" in err


def test_serve_prints_export_line_and_serves_until_stopped(engine):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "salestalk_lib", "serve", "--engine", engine], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        assert f"Embedded DynamoDB ({engine} " in lines[0], lines
        match = re.search(r"export AWS_ENDPOINT_URL_DYNAMODB=(http://127\.0\.0\.1:\d+)", lines[1])
        assert match, lines
        # everything the AWS CLI needs besides the endpoint: a region and (dummy) credentials
        assert lines[2].split() == ["export", "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1"], lines
        assert lines[3].split()[:3] == ["export", "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing"], lines
        client = boto3.client(
            "dynamodb", endpoint_url=match[1], region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        client.create_table(
            TableName="probe",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        )
        assert client.list_tables()["TableNames"] == ["probe"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        proc.stdout.close()


def test_serve_on_a_taken_port_exits_2_at_once_naming_the_port(engine, capsys):
    import socket
    import time

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        started = time.monotonic()
        code, _, err = _run(capsys, "serve", "--engine", engine, "--port", str(port))
    assert code == 2 and f"{port}" in err and "port is taken" in err
    assert time.monotonic() - started < 10


def test_serve_refuses_an_impossible_port(capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_:  # a usage error: argparse names the option and exits 2
        main(["serve", "--port", "-1"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--port: must be a number from 0 (any free port) to 65535" in err


def test_help_explains_endpoint_resolution(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["provision", "--help"])
    out = capsys.readouterr().out
    assert "AWS_ENDPOINT_URL_DYNAMODB" in out and "SALESTALK_ALLOW_AWS" in out


def test_top_level_help_lists_every_command_and_each_command_has_help(capsys):
    import pytest

    from salestalk_lib.cli.main import COMMAND_MODULES, OTHER_COMMANDS

    with pytest.raises(SystemExit) as exit_:
        main(["--help"])  # a '%' in any command's help once made this a traceback
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    commands = [*COMMAND_MODULES, *OTHER_COMMANDS]
    for command in commands:
        assert re.search(rf"^\s+{command}\s", out, re.M), command
    for command in commands:
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0 and f"usage: salestalk {command}" in capsys.readouterr().out


def test_a_command_loads_only_its_own_command_module():
    # Start-up is part of every command's time: `salestalk ingest` does not import the query or seed code.
    code = (
        "import json, sys\n"
        "from salestalk_lib.cli.main import main\n"
        "try:\n"
        "    main(['ingest', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('salestalk_lib.cli.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    assert "salestalk_lib.cli.ingest" in loaded
    assert not {"salestalk_lib.cli.query", "salestalk_lib.cli.seed", "salestalk_lib.cli.export"} & set(loaded)
