"""Fixtures for the report and dashboard tests: one small real experiment (7 complete trials with
intermediate results, one failed), a `nas view` server in a subprocess, and a headless
Chromium driven over the DevTools protocol (skipped when no browser is installed:
`apt-get install chromium`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers.ports import free_port

SPACE = '''
import time

import nas_cli.nn as nn
from nas_cli import model_wrapper, report_intermediate_result


@model_wrapper
class Small(nn.Module):
    def __init__(self):
        super().__init__()
        width = nn.ValueChoice([4, 8, 16], label="width")
        self.fc = nn.Linear(4, width)
        self.act = nn.LayerChoice([nn.ReLU(), nn.Tanh(), nn.Sigmoid()], label="act")
        self.block = nn.LayerChoice({"skip": nn.Identity(), "linear": nn.Linear(4, 4)},
                                    label="block")

    def forward(self, x):
        return self.fc(self.act(self.block(x)))


def evaluate(model, arch):
    score = arch["width"] / 16 + arch["act"] * 0.1 + (arch["block"] == "linear") * 0.05
    for step in range(4):
        report_intermediate_result(score * (step + 1) / 4)
        time.sleep(0.05)
        if step == 1 and arch["act"] == 2 and arch["block"] == "linear":
            raise RuntimeError("sigmoid after linear diverged <at step 1>")
    return {"score": score, "loss": round(1 - score, 4)}
'''

SPEC = '''
experiment_name: small-search
model_space: {module: space.py, class: Small}
strategy: {name: grid}
evaluator: {type: function, function: "space.py:evaluate"}
objective: {metric: score, mode: maximize}
trial_concurrency: 2
max_trial_number: 8
'''

FAILED_TRIAL = 5  # grid order: width slowest, then act, then block -> (4, 2, linear)


@dataclass
class Experiment:
    root: Path
    path: Path
    failed_trial: int = FAILED_TRIAL

    @property
    def id(self) -> str:
        return self.path.name

    def results(self) -> dict[str, Any]:
        return json.loads((self.path / "results.json").read_text())


@pytest.fixture(scope="session")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Experiment:
    """`nas run` of the small space: 8 trials (grid), 2 at a time; trial 5 fails."""
    from nas_cli.cli import main

    folder = tmp_path_factory.mktemp("small")
    (folder / "space.py").write_text(textwrap.dedent(SPACE))
    (folder / "spec.yaml").write_text(textwrap.dedent(SPEC))
    root = folder / "experiments"
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = main(["run", str(folder / "spec.yaml"), "--exp-dir", str(root), "--quiet"])
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    assert code == 0
    (path,) = [p for p in root.iterdir() if p.is_dir()]
    return Experiment(root, path)


@pytest.fixture
def nas(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """`nas(*args) -> (exit_code, stdout, stderr)`: the real command, in this process."""
    from nas_cli.cli import main

    def call(*args: Any) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call


# --- nas view in a subprocess ----------------------------------------------------------------
@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def get(self, path: str, timeout: float = 10) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if path.startswith("/api") else body.decode()


@contextlib.contextmanager
def view_server(exp_root: Path, exp: str, tmp: Path) -> Iterator[Server]:
    """`nas view EXP --port P` in a subprocess, until it answers; killed afterwards."""
    port = free_port()
    log = tmp / f"view-{port}.log"
    code = "import sys; from nas_cli.cli import main; sys.exit(main(sys.argv[1:]))"
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-c", code, "view", exp, "--port", str(port),
             "--exp-dir", str(exp_root)],
            stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.time() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"nas view exited with {process.returncode}:\n{log.read_text()}")
            try:
                server.get("/api/meta", timeout=2)
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail(f"nas view did not answer in 30 s:\n{log.read_text()}")
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def start_view() -> Callable[..., contextlib.AbstractContextManager[Server]]:
    """`with start_view(exp_root, exp, tmp) as server:` a `nas view` subprocess."""
    return view_server


@pytest.fixture(scope="session")
def view(experiment: Experiment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`nas view` of the shared experiment, for the whole session."""
    with view_server(experiment.root, experiment.id, tmp_path_factory.mktemp("view")) as server:
        yield server


# --- a headless browser over the DevTools protocol ---------------------------------------------
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
    "--enable-unsafe-swiftshader",  # software WebGL: plotly's parallel coordinates need WebGL
    "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
]


def find_browser() -> str | None:
    wanted = os.environ.get("NAS_TEST_BROWSER")
    if wanted:
        return shutil.which(wanted) or (wanted if Path(wanted).is_file() else None)
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


class _WebSocket:
    """The smallest WebSocket client the DevTools protocol needs (RFC 6455, text frames)."""

    def __init__(self, url: str, timeout: float):
        assert url.startswith("ws://"), url
        host_port, _, path = url[len("ws://"):].partition("/")
        host, _, port = host_port.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the browser closed the DevTools connection")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(head.decode(errors="replace"))

    def send(self, text: str) -> None:
        payload = text.encode()
        header = bytearray([0x81])
        if len(payload) < 126:
            header.append(0x80 | len(payload))
        elif len(payload) < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(payload))
        mask = os.urandom(4)
        self.sock.sendall(bytes(header) + mask + bytes(b ^ mask[i % 4] for i, b in
                                                       enumerate(payload)))

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buffer)))
            if not chunk:
                raise ConnectionError("the browser closed the DevTools connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def recv(self) -> str:
        message = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack(">H", self._read(2))
            elif length == 127:
                (length,) = struct.unpack(">Q", self._read(8))
            mask = self._read(4) if second & 0x80 else None
            payload = self._read(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError("the browser closed the DevTools connection")
            if opcode == 0x9:  # ping
                continue
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if first & 0x80:
                    return message.decode()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


@dataclass
class Page:
    """What a loaded page showed: the ready check's value and the console errors."""

    value: Any
    errors: list[str] = field(default_factory=list)


class Browser:
    """Headless Chromium: load a URL, wait until a JavaScript check is truthy, collect console
    errors and uncaught exceptions, take full-page screenshots."""

    def __init__(self, executable: str, profile: Path):
        profile.mkdir(parents=True, exist_ok=True)
        active = profile / "DevToolsActivePort"  # chromium writes its port there
        active.unlink(missing_ok=True)
        self.log = profile.parent / "chromium.log"
        with open(self.log, "w") as handle:
            self.process = subprocess.Popen(
                [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdout=handle, stderr=subprocess.STDOUT,
            )
        self.ws: _WebSocket | None = None
        try:
            self._connect(active)
        except BaseException:
            self.close()
            raise

    def _connect(self, active: Path) -> None:
        deadline = time.time() + 30
        while not (active.exists() and len(active.read_text().split()) >= 2):
            if self.process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"chromium did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        port = active.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.loads(resp.read())
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = _WebSocket(page["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        for method in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.call(method)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def load(self, url: str, ready: str, timeout: float = 30, settle: float = 0.5) -> Page:
        """Open `url` and wait until the JavaScript expression `ready` is truthy."""
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=900,
                  deviceScaleFactor=1, mobile=False)
        self.events.clear()
        navigation = self.call("Page.navigate", url=url)
        if navigation.get("errorText"):
            return Page(None, [f"navigation: {navigation['errorText']} ({url})"])
        deadline = time.time() + timeout
        value = None
        while time.time() < deadline:
            result = self.call("Runtime.evaluate", expression=ready, returnByValue=True)
            value = result.get("result", {}).get("value")
            if value:
                break
            time.sleep(0.25)
        time.sleep(settle)  # late errors (a fetch that fails after the first paint)
        self.call("Runtime.evaluate", expression="1")
        return Page(value, self.errors())

    def errors(self) -> list[str]:
        out = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                  for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                out.append("exception: " + str(details.get("exception", {}).get(
                    "description", details.get("text"))))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                entry = params["entry"]
                out.append(f"log: {entry.get('text')} ({entry.get('url', '')})")
        return out

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression,
                         returnByValue=True).get("result", {}).get("value")

    def screenshot(self, path: Path, max_height: int = 5000) -> Path:
        """The whole page (up to max_height px) as a PNG."""
        metrics = self.call("Page.getLayoutMetrics")
        height = int(min(max_height, metrics.get("cssContentSize", {}).get("height", 900)))
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=max(height, 600),
                  deviceScaleFactor=1, mobile=False)
        time.sleep(0.5)  # let responsive charts redraw at the new size
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    executable = find_browser()
    if executable is None:
        pytest.skip("no Chromium/Chrome found (apt-get install chromium, or set NAS_TEST_BROWSER)")
    instance = Browser(executable, tmp_path_factory.mktemp("chromium") / "profile")
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $NAS_TEST_SCREENSHOTS if set (to look at them), else a tmp dir."""
    folder = os.environ.get("NAS_TEST_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
