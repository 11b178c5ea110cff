"""The fault proxy over real HTTP: profile parsing, each fault kind, determinism, counts."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from salestalk_lib.contract.errors import (
    ConfigurationError,
    StorageError,
    Throttled,
    TransactionConflict,
    TransientError,
)
from salestalk_lib.contract.tables import MESSAGES, create_table_request
from salestalk_lib.dynamo.endpoint import Endpoint
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.testing.faults import FAULT_KINDS, FaultProfile, FaultProxy, faulty_endpoint

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def table(endpoint) -> str:
    name = f"faults-{uuid.uuid4().hex[:8]}"
    storage = Storage(endpoint.client())
    storage.create_table(create_table_request(MESSAGES, name))
    storage.wait_active(name)  # CreateTable is asynchronous in DynamoDB
    return name


@pytest.fixture
def direct(endpoint) -> Storage:
    return Storage(endpoint.client())


def key(label: str) -> dict[str, str]:
    return {"pk": f"{label}-{uuid.uuid4().hex}", "sk": "x"}


# --- profile parsing ---------------------------------------------------------------


def test_parse_reads_the_cli_form():
    p = FaultProfile.parse("throttle=0.2,error5xx=0.05,reset=0.02,lost=0.02,seed=7")
    assert (p.throttle, p.error5xx, p.reset, p.lost, p.seed) == (0.2, 0.05, 0.02, 0.02, 7)
    assert p.timeout == 0 and p.unprocessed == 0
    assert str(p) == "throttle=0.2,error5xx=0.05,reset=0.02,lost=0.02,seed=7"
    assert FaultProfile.parse(str(p)) == p
    assert FaultProfile.parse(" timeout=0.1 , read_timeout=0.3 ").read_timeout == 0.3


def test_parse_reads_a_latency_in_milliseconds():
    p = FaultProfile.parse("latency=5")
    assert p.latency == 5.0 and p.total_rate == 0 and p.rates == {}
    assert str(p) == "seed=0,latency=5" and FaultProfile.parse(str(p)) == p
    assert FaultProfile.parse("throttle=0.1,latency=2.5,seed=3").latency == 2.5
    assert FaultProfile().latency == 0


@pytest.mark.parametrize("text", ["", "none", "off"])
def test_parse_empty_means_no_faults(text):
    assert FaultProfile.parse(text).total_rate == 0


@pytest.mark.parametrize(
    "text, message",
    [
        ("throttel=0.1", "unknown fault 'throttel'; known: throttle"),
        ("throttle=0.1,throttle=0.2", "given twice"),
        ("throttle", "must look like name=value"),
        ("throttle=", "must look like name=value"),
        ("throttle=lots", "throttle='lots' is not a number"),
        ("throttle=1.5", "between 0 and 1"),
        ("throttle=-0.1", "between 0 and 1"),
        ("throttle=0.6,error5xx=0.6", "add up to 1.2"),
        ("seed=1.5", "seed='1.5' is not an integer"),
        ("throttle=0.1,,seed=1", "empty entry"),
        ("read_timeout=0", "read_timeout"),
        ("latency=-1", "latency=-1.0 must be a number of milliseconds between 0 and 10,000"),
        ("latency=20000", "between 0 and 10,000"),
        ("latency=nan", "between 0 and 10,000"),
        ("latency=slow", "latency='slow' is not a number"),
    ],
)
def test_parse_rejects_mistakes_with_clear_errors(text, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        FaultProfile.parse(text)


# --- each kind over HTTP --------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, error, code, applied",
    [
        (
            "throttle",
            Throttled,
            {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"},
            False,
        ),
        ("error5xx", TransientError, {"InternalServerError", "ServiceUnavailable"}, False),
        ("reset", TransientError, {"ConnectionClosedError"}, False),
        ("lost", TransientError, {"ConnectionClosedError"}, True),
        ("conflict", TransactionConflict, {"TransactionConflictException"}, False),
    ],
)
def test_each_fault_kind_reaches_the_client_as_the_right_error(endpoint, direct, table, kind, error, code, applied):
    with faulty_endpoint(endpoint, FaultProfile(**{kind: 1.0})) as faulty:
        storage = Storage(faulty.client())
        k = key(kind)
        with pytest.raises(error) as info:
            storage.put_item(table, k)
        assert info.value.code in code
        assert (direct.get_item(table, k) is not None) is applied
        assert faulty.proxy.counts == {kind: 1}


def test_timeout_holds_until_the_clients_read_timeout(endpoint, direct, table):
    with faulty_endpoint(endpoint, FaultProfile(timeout=1.0, read_timeout=0.2)) as faulty:
        storage = Storage(faulty.client())
        k = key("timeout")
        start = time.perf_counter()
        with pytest.raises(TransientError) as info:
            storage.put_item(table, k)
        assert info.value.code == "ReadTimeoutError"
        assert 0.2 <= time.perf_counter() - start < 2.0
        assert direct.get_item(table, k) is None


def test_unprocessed_applies_only_the_items_it_does_not_return(endpoint, direct, table):
    with faulty_endpoint(endpoint, "unprocessed=1,seed=3") as faulty:
        items = [key("batch") for _ in range(20)]
        left = Storage(faulty.client()).batch_write(table, items)
        assert 1 <= len(left) <= 20
        stored = {i["pk"] for i in items if direct.get_item(table, i) is not None}
        assert stored == {i["pk"] for i in items} - {i["pk"] for i in left}


def test_unprocessed_single_item_batch_is_answered_without_forwarding(endpoint, direct, table):
    with faulty_endpoint(endpoint, "unprocessed=1,seed=1") as faulty:
        item = key("single")
        assert Storage(faulty.client()).batch_write(table, [item]) == [item]
        assert direct.get_item(table, item) is None
        assert faulty.proxy.errors == []


def test_detail_draws_ignore_the_client_request_token(endpoint, table):
    """Which throttling code a request gets depends on its content, not on its random token."""

    def codes(token_prefix: str) -> list[str]:
        with faulty_endpoint(endpoint, FaultProfile(throttle=1.0, seed=5)) as faulty:
            storage = Storage(faulty.client())
            out = []
            for n in range(12):
                with pytest.raises(Throttled) as info:
                    storage.transact_write(
                        [{"Put": {"TableName": table, "Item": {"pk": f"tok-{n}", "sk": "x"}}}],
                        token=f"{token_prefix}-{n}",
                    )
                out.append(info.value.code)
            return out

    assert codes("a") == codes("b")


def test_transaction_conflict_on_transact_write_items(endpoint, direct, table):
    with faulty_endpoint(endpoint, FaultProfile(conflict=1.0)) as faulty:
        a, b = key("tx"), key("tx")
        with pytest.raises(TransactionConflict):
            Storage(faulty.client()).transact_write(
                [{"Put": {"TableName": table, "Item": a}}, {"Put": {"TableName": table, "Item": b}}]
            )
        assert direct.get_item(table, a) is None and direct.get_item(table, b) is None


def test_control_plane_and_no_fault_requests_pass_through(endpoint, direct, table):
    with faulty_endpoint(endpoint, FaultProfile(throttle=1.0)) as faulty:
        storage = Storage(faulty.client())
        assert storage.describe_table(table)["TableName"] == table
        faulty.proxy.profile = FaultProfile()
        k = key("ok")
        storage.put_item(table, k)
        assert storage.get_item(table, k) == k
        assert faulty.proxy.counts == {}
        assert faulty.proxy.requests == {"PutItem": 1, "GetItem": 1}


def test_same_seed_same_faults_other_seed_other_faults(endpoint, table):
    keys = [{"pk": f"det-{i}", "sk": "x"} for i in range(60)]

    def run(seed: int) -> list[str]:
        with faulty_endpoint(endpoint, FaultProfile(throttle=0.3, error5xx=0.2, seed=seed)) as faulty:
            storage = Storage(faulty.client())
            out = []
            for k in keys:
                try:
                    storage.get_item(table, k)
                    out.append("ok")
                except StorageError as exc:
                    out.append(type(exc).__name__)
            return out

    first = run(7)
    assert first == run(7)
    assert first != run(8)
    assert 5 < first.count("Throttled") < 35 and first.count("TransientError") > 2


def test_decisions_do_not_depend_on_thread_interleaving(endpoint, table):
    keys = [{"pk": f"thr-{i}", "sk": "x"} for i in range(40)]

    def run(threads: int) -> dict[str, str]:
        with faulty_endpoint(endpoint, FaultProfile(throttle=0.4, seed=11)) as faulty:
            storage = Storage(faulty.client())
            result: dict[str, str] = {}

            def work(chunk: list[dict[str, str]]) -> None:
                for k in chunk:
                    try:
                        storage.get_item(table, k)
                        result[k["pk"]] = "ok"
                    except Throttled:
                        result[k["pk"]] = "throttled"

            pool = [threading.Thread(target=work, args=(keys[i::threads],)) for i in range(threads)]
            [t.start() for t in pool]
            [t.join() for t in pool]
            return result

    assert run(1) == run(4)


def test_fault_kinds_are_documented():
    assert set(FAULT_KINDS) == {"throttle", "error5xx", "reset", "timeout", "lost", "unprocessed", "conflict"}


def test_proxy_refuses_non_http_upstream():
    with pytest.raises(ConfigurationError):
        FaultProxy("ftp://example.com")


class FakeClock:
    """A clock that only moves when the proxy sleeps: elapsed time is exactly the latency it added."""

    def __init__(self) -> None:
        self.now = 0  # microseconds, so sums are exact
        self.sleeps: list[float] = []
        self.lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)
            self.now += round(seconds * 1e6)


def through(proxy: FaultProxy, endpoint: Endpoint) -> Endpoint:
    """The endpoint that sends its requests through `proxy` (the clients' usual configuration)."""
    return Endpoint(url=proxy.url, region=endpoint.region, source="latency proxy", session=endpoint.session)


def test_latency_holds_every_request_before_it_is_forwarded(endpoint, direct, table):
    clock = FakeClock()
    k = key("latency")
    seen_before_forwarding: list[object] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 2:  # the PutItem's wait: upstream must not have it yet
            seen_before_forwarding.append(direct.get_item(table, k))

    with FaultProxy(endpoint.url, FaultProfile(latency=5), sleep=sleep) as proxy:
        storage = Storage(through(proxy, endpoint).client())
        start = clock.now
        assert storage.describe_table(table)["TableName"] == table  # control plane crosses the link too
        assert clock.now - start >= 5_000
        start = clock.now
        storage.put_item(table, k)
        assert clock.now - start >= 5_000
        start = clock.now
        assert storage.get_item(table, k) == k
        assert clock.now - start >= 5_000
    assert clock.sleeps == [0.005, 0.005, 0.005]  # one wait per request, of the latency asked for
    assert seen_before_forwarding == [None]  # the wait comes before the request reaches the server
    assert proxy.counts == {}  # latency is not a fault: nothing is refused or dropped


def test_latency_is_added_on_top_of_a_fault(endpoint, direct, table):
    clock = FakeClock()
    with FaultProxy(endpoint.url, FaultProfile(throttle=1.0, latency=2), sleep=clock.sleep) as proxy:
        storage = Storage(through(proxy, endpoint).client())
        with pytest.raises(Throttled):
            storage.put_item(table, key("slow-throttle"))
    assert clock.sleeps == [0.002] and proxy.counts == {"throttle": 1}


# --- hold_writes: a kill point counted in requests --------------------------------------


def test_hold_writes_answers_n_writes_then_applies_the_next_and_keeps_its_answer(endpoint, direct, table):
    first, second, third = key("hold-1"), key("hold-2"), key("hold-3")
    with FaultProxy(endpoint.url) as proxy:
        storage = Storage(through(proxy, endpoint).client())
        held = proxy.hold_writes(after=1)
        storage.put_item(table, first)  # the one write still answered
        assert not held.is_set()
        outcome: list[BaseException | None] = []

        def write() -> None:
            try:
                storage.put_item(table, second)
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - the test inspects it
                outcome.append(exc)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        assert held.wait(30), "the second write was not held"
        assert direct.get_item(table, second) == second  # applied upstream before its answer was held
        assert storage.get_item(table, first) == first  # reads are answered during a hold
        time.sleep(0.2)
        assert writer.is_alive() and outcome == []  # the writer still waits for its answer
        proxy.release()
        writer.join(30)
        assert len(outcome) == 1 and isinstance(outcome[0], TransientError)  # the answer was lost
        storage.put_item(table, third)  # after release, writes are answered again
        assert direct.get_item(table, third) == third
    assert proxy.counts == {}  # a hold is not a fault


def test_hold_writes_can_be_armed_again_and_counts_from_the_arming(endpoint, direct, table):
    with FaultProxy(endpoint.url) as proxy:
        storage = Storage(through(proxy, endpoint).client())
        for k in (key("before-a"), key("before-b")):
            storage.put_item(table, k)  # no hold armed: answered
        held = proxy.hold_writes(after=2)
        storage.put_item(table, key("armed-a"))
        storage.put_item(table, key("armed-b"))
        assert not held.is_set()
        proxy.release()
        again = proxy.hold_writes(after=0)
        assert again is not held and not again.is_set()
        threading.Thread(target=lambda: _swallow(storage.put_item, table, key("armed-c")), daemon=True).start()
        assert again.wait(30)
    # stop() released the held answer: the proxy's threads do not outlive it


def _swallow(call, *args) -> None:
    try:
        call(*args)
    except TransientError:
        pass


@pytest.mark.parametrize("after", [-1, 1.5, True, "2"])
def test_hold_writes_refuses_a_count_that_is_not_a_whole_number(after):
    with FaultProxy("http://127.0.0.1:9") as proxy, pytest.raises(ConfigurationError, match="integer >= 0"):
        proxy.hold_writes(after=after)
