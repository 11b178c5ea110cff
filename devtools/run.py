"""`make run`: embedded DynamoDB, provisioned and seeded, notebooks executed against it, docs served.

Steps, each printed as it happens:

1. start the embedded DynamoDB endpoint on 127.0.0.1 (kept running to the end): moto, or
   Amazon's DynamoDB Local with `SALESTALK_ENGINE=dynamodb-local` (`--engine`);
2. provision the registry and the seed tenants' tables, and load the seed data;
3. execute every notebook in `notebooks/` against that endpoint into `build/notebooks/`
   (each under its own table prefix `nbNN-`, so notebooks never see each other's tables);
4. run the engine parity probes on every installed engine, generate the docs pages and
   build the site strictly into `site/`;
5. serve the site on http://127.0.0.1:DOCS_PORT until Ctrl-C.

The stored notebooks in `notebooks/` are not touched: they are what `make test` checks.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from devtools.notebook_exec import execute
from salestalk_lib.cli.common import format_table, seed_tenant_ids
from salestalk_lib.contract.settings import PREFIX_ENV, Settings
from salestalk_lib.dynamo.endpoint import start_embedded
from salestalk_lib.embedded.engines import ENGINE_ENV, ENGINES, engine_from_env
from salestalk_lib.ops.connection import SalesTalk, connect
from salestalk_lib.ops.seed import load_seed

ROOT = Path(__file__).resolve().parents[1]


def _step(text: str) -> None:
    print(f"==> {text}", flush=True)


def notebook_prefix(path: Path) -> str:
    """`nb01-` for `01_provision_tables.ipynb`: each notebook's own table prefix on a shared endpoint."""
    number = path.name.split("_", 1)[0]
    return f"nb{number}-" if number.isdigit() else f"nb-{path.stem[:20].lower()}-"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs-port", type=int, default=8000, help="port for the docs site (default: %(default)s)")
    parser.add_argument("--db-port", type=int, default=0, help="port for the embedded DynamoDB (default: a free one)")
    parser.add_argument(
        "--engine", choices=ENGINES, default=None, help=f"the embedded engine (default: {ENGINE_ENV}, else moto)"
    )
    parser.add_argument("--no-serve", action="store_true", help="build everything, then exit instead of serving")
    args = parser.parse_args(argv)

    started = time.monotonic()
    engine = args.engine or engine_from_env()
    _step(f"starting the embedded DynamoDB endpoint ({engine})")
    endpoint = start_embedded(args.db_port, engine=engine)
    try:
        print(f"    {endpoint.url}   in another shell (the credentials are dummies, for the AWS CLI):")
        for line in endpoint.client_exports():
            print(f"      {line}")

        _step("provisioning the registry and the seed tenants")
        st = connect(settings=Settings.from_env(table_prefix=""), endpoint=endpoint)
        for r in st.provision(seed_tenant_ids()):
            print(f"    {r.action:9} {r.table}")
        _load_seed(st)

        notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
        out_dir = ROOT / "build" / "notebooks"
        _step(f"executing {len(notebooks)} notebooks against {endpoint.url}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
        env.update(AWS_ENDPOINT_URL_DYNAMODB=endpoint.url, AWS_REGION=endpoint.region)
        for nb in notebooks:
            t0 = time.monotonic()
            execute(nb, out_dir / nb.name, env={**env, PREFIX_ENV: notebook_prefix(nb)})
            print(f"    {nb.name}  ({time.monotonic() - t0:.1f} s, tables prefixed {notebook_prefix(nb)})")

        _step("running the engine parity probes on every installed engine")
        ledger = ROOT / "build" / "parity" / "ledger.json"
        subprocess.run([sys.executable, "-m", "devtools.parity", "--out", str(ledger)], check=True, cwd=ROOT)
        _step("building the docs site")
        subprocess.run(
            [sys.executable, "-m", "devtools.docsgen", "--notebooks", str(out_dir), "--parity", str(ledger)],
            check=True,
            cwd=ROOT,
        )
        subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet"],
            check=True,
            cwd=ROOT,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        )
        print(f"    ready in {time.monotonic() - started:.0f} s")

        if args.no_serve:
            return 0
        _serve(ROOT / "site", args.docs_port, endpoint.url)
    except KeyboardInterrupt:
        print("\nstopped.")
    finally:
        endpoint.close()
    return 0


def _load_seed(st: SalesTalk) -> None:
    _step("loading the seed tenants")
    report = load_seed(st)
    print("\n".join("    " + line for line in format_table(report.rows()).splitlines()))


def _serve(site: Path, port: int, db_url: str) -> None:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))

    class Quiet(handler.func):  # type: ignore[misc,name-defined]
        def log_message(self, *args: object) -> None:  # keep the terminal for the instructions
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Quiet, directory=str(site)))
    _step(f"docs site: http://127.0.0.1:{port}/   (Ctrl-C to stop)")
    print(
        f"    DynamoDB stays up at {db_url} while the site is served; try:\n"
        f"      AWS_ENDPOINT_URL_DYNAMODB={db_url} .venv/bin/salestalk tables",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
