"""A small Chrome DevTools Protocol client for tests: headless Chromium, one page at a time.

    with Browser.launch("/usr/bin/chromium", profile_dir) as browser:
        page = browser.new_page()
        visit = page.visit("http://127.0.0.1:8000/")     # waits for load + network idle
        visit.requests, visit.console_errors, visit.exceptions
        page.evaluate("document.title")
        page.screenshot()                                 # PNG bytes

One websocket to the browser; each page is a flattened session on it
(`Target.attachToTarget(flatten=True)`). Workers the page starts are
auto-attached too, so their requests and errors are seen as well.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--window-size=1280,900",
    # Nothing outside the machine resolves, so a stray request fails fast instead of
    # leaving the machine; the test still sees it being attempted.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
)


class CdpError(RuntimeError):
    """The browser answered a command with an error, or did not answer in time."""


@dataclass
class Visit:
    """What happened while one URL loaded."""

    url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)


class Browser:
    """A headless Chromium process and the websocket to its browser target."""

    def __init__(self, process: subprocess.Popen[bytes], ws: ClientConnection, stack: contextlib.ExitStack):
        self.process = process
        self.ws = ws
        self._stack = stack
        self._ids = itertools.count(1)
        self._events: list[dict[str, Any]] = []

    @classmethod
    def launch(cls, executable: str, profile_dir: Path, timeout: float = 30.0) -> Browser:
        port_file = profile_dir / "DevToolsActivePort"
        port_file.unlink(missing_ok=True)
        process = subprocess.Popen(
            [
                executable,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile_dir}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        # Chromium writes "<port>\n<browser ws path>" once DevTools listens.
        while not (port_file.is_file() and len(port_file.read_text().split()) == 2):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise CdpError(f"chromium did not start DevTools (exit code {process.poll()})")
            time.sleep(0.05)
        port, path = port_file.read_text().split()
        stack = contextlib.ExitStack()
        try:
            # No keepalive: websockets draws its ping payloads from the global `random` in a
            # background thread, which breaks Hypothesis draws in later tests (the browser lives
            # for the whole session). A loopback socket needs no keepalive.
            ws = stack.enter_context(
                connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=timeout, ping_interval=None)
            )
        except BaseException:
            process.kill()
            process.wait()
            raise
        return cls(process, ws, stack)

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Send one command and wait for its answer; events that arrive meanwhile are queued."""
        msg_id = next(self._ids)
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CdpError(f"{method}: no answer within {timeout} s")
            reply = json.loads(self.ws.recv(timeout=remaining))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def events(self, timeout: float) -> list[dict[str, Any]]:
        """Queued events plus those arriving within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                message = json.loads(self.ws.recv(timeout=remaining))
            except TimeoutError:
                break
            if "method" in message:
                self._events.append(message)
        events, self._events = self._events, []
        return events

    def new_page(self) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        page.enable(session)
        self.send(
            "Target.setAutoAttach",
            {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True},
            session=session,
        )
        return page


class Page:
    """One tab, driven over its flattened session."""

    def __init__(self, browser: Browser, target_id: str, session: str):
        self.browser = browser
        self.target_id = target_id
        self.session = session
        self.sessions = {session}

    def enable(self, session: str, *, page: bool = True) -> None:
        for domain in (("Page.enable",) if page else ()) + ("Runtime.enable", "Network.enable", "Log.enable"):
            try:
                self.browser.send(domain, session=session)
            except CdpError:
                if domain == "Runtime.enable":
                    raise  # Log and Network are absent in some worker targets; Runtime never is
        if not page:
            self.browser.send("Runtime.runIfWaitingForDebugger", session=session)

    def send(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return self.browser.send(method, params, session=self.session, **kw)

    def close(self) -> None:
        """Close this tab (its workers go with it)."""
        self.browser.send("Target.closeTarget", {"targetId": self.target_id})

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise CdpError(f"evaluate {expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def visit(self, url: str, *, timeout: float = 30.0, quiet_period: float = 0.5) -> Visit:
        """Load `url`, wait for the load event and then until the network is quiet."""
        loading = self.start_visit(url, timeout=timeout, quiet_period=quiet_period)
        while not loading.done():
            loading.take(self.browser.events(0.1))
        return loading.visit

    def start_visit(self, url: str, *, timeout: float = 30.0, quiet_period: float = 0.5) -> _Loading:
        """Start loading `url`; the returned `_Loading` is fed this page's events until it is `done()`."""
        loading = _Loading(self, Visit(url), timeout=timeout, quiet_period=quiet_period)
        self.send("Page.navigate", {"url": url})
        return loading

    def _record(self, event: dict[str, Any], visit: Visit, in_flight: set[str]) -> None:
        method, params = event["method"], event.get("params", {})
        if event.get("sessionId") not in self.sessions:
            return  # another page's (a worker this page starts is attached on this page's session)
        if method == "Target.attachedToTarget":
            child = params["sessionId"]
            self.sessions.add(child)
            self.enable(child, page=False)
        elif method == "Network.requestWillBeSent":
            visit.requests.append(params["request"]["url"])
            in_flight.add(params["requestId"])
        elif method in ("Network.loadingFinished", "Network.loadingFailed"):
            in_flight.discard(params["requestId"])
            if method == "Network.loadingFailed" and not params.get("canceled"):
                visit.failed_requests.append(f"{params.get('errorText')} ({params['requestId']})")
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            visit.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            visit.console_errors.append(f"{entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            visit.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))

    def type(self, text: str) -> None:
        """Type `text` into the focused element, one key press per character (keydown, keyup)."""
        for char in text:
            self.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": char, "text": char})
            self.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": char})

    def screenshot(self, *, max_height: int = 4000) -> bytes:
        """A PNG of the page from the top, as tall as its content (at most `max_height` CSS pixels)."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height), "scale": 1}
        data = self.send("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True})[
            "data"
        ]
        return base64.b64decode(data)


class _Loading:
    """One page's visit in progress: its events recorded until the load event and a quiet network."""

    def __init__(self, page: Page, visit: Visit, *, timeout: float, quiet_period: float):
        self.page, self.visit, self.quiet_period = page, visit, quiet_period
        self.loaded = False
        self.in_flight: set[str] = set()
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.quiet_since = time.monotonic()

    def take(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Record the events that are this page's; returns the others."""
        others = []
        for event in events:
            if event.get("sessionId") not in self.page.sessions:
                others.append(event)
                continue
            self.page._record(event, self.visit, self.in_flight)
            if event["method"] == "Page.loadEventFired" and event.get("sessionId") == self.page.session:
                self.loaded = True
            self.quiet_since = time.monotonic()
        return others

    def done(self) -> bool:
        """Loaded and quiet for `quiet_period`; raises CdpError once `timeout` has passed without that."""
        if self.loaded and not self.in_flight and time.monotonic() - self.quiet_since >= self.quiet_period:
            return True
        if time.monotonic() >= self.deadline:
            raise CdpError(
                f"{self.visit.url}: not loaded and quiet within {self.timeout} s "
                f"(load event: {self.loaded}, requests in flight: {sorted(self.in_flight)})"
            )
        return False


def visit_all(pages: list[Page], urls: list[str], check: Callable[[Page, Visit], None], **visit_options: Any) -> None:
    """Visit every URL, each page (tab) loading one at a time, the pages side by side; `check(page, visit)`
    runs on the page as soon as its visit is done (loaded and quiet), before that page loads the next URL.

    Each visit waits for its own load event and its own quiet network exactly as `Page.visit` does; the
    pages only overlap those waits. All pages must be of one browser.
    """
    browser = pages[0].browser
    todo = list(reversed(urls))
    loading: dict[str, _Loading] = {}  # by page session
    idle = list(pages)
    while todo or loading:
        while idle and todo:
            page = idle.pop()
            loading[page.session] = page.start_visit(todo.pop(), **visit_options)
        events = browser.events(0.1)
        for current in list(loading.values()):
            events = current.take(events)
        for session, current in list(loading.items()):
            if current.done():
                del loading[session]
                check(current.page, current.visit)
                idle.append(current.page)
