"""A real gateway for the tests: the workspace's `zkgate` binary, on a
free loopback port, with a temporary data dir holding the first rows of
the breast-cancer fixture under the default policy profile."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = 120


def zkgate_binary() -> Path:
    env = os.environ.get("ZKGATE_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "zkgate"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    """A gateway the tests started."""

    def __init__(self, url: str, token: str, ca: Path, data: Path, bin: Path) -> None:
        self.url, self.token, self.ca, self.data, self.bin = url, token, ca, data, bin

    def zkgate(self, *args: str) -> str:
        return subprocess.run(
            [str(self.bin), *args], check=True, capture_output=True, text=True
        ).stdout


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory):
    zk = zkgate_binary()
    if not zk.exists():
        pytest.fail(f"no zkgate binary at {zk}: cargo build --release (or set ZKGATE_BIN)")
    work = tmp_path_factory.mktemp("gw")
    data = work / "data"
    port = free_port()

    def run(*args: str) -> str:
        return subprocess.run(
            [str(zk), *args], check=True, capture_output=True, text=True
        ).stdout

    run("init", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}")
    lines = (ROOT / "fixtures/data/breast_cancer.csv").read_text().splitlines()
    csv = work / "breast_cancer.csv"
    csv.write_text("\n".join(lines[: ROWS + 1]) + "\n")
    run(
        "dataset", "import", str(csv),
        "--schema", str(ROOT / "fixtures/data/breast_cancer.schema.json"),
        "--name", "breast_cancer", "--data-dir", str(data),
    )
    token = run(
        "researcher", "add", "alice", "--org", "oncology", "--trust", "2",
        "--data-dir", str(data),
    ).strip()
    server, log = serve(zk, data, work, f"https://127.0.0.1:{port}")
    yield Running(f"https://127.0.0.1:{port}", token, data / "tls" / "cert.pem", data, zk)
    stop(server, log)


def serve(zk: Path, data: Path, work: Path, url: str, timeout: float = 30):
    """Starts `zkgate serve` on `data` and waits until `url` answers; the
    server and its log file (`work/server.log`)."""
    log = open(work / "server.log", "w")
    server = subprocess.Popen(
        [str(zk), "serve", "--data-dir", str(data)], stdout=log, stderr=subprocess.STDOUT
    )
    ctx = ssl.create_default_context(cafile=str(data / "tls" / "cert.pem"))
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", context=ctx, timeout=1)
            return server, log
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("the gateway did not start:\n" + (work / "server.log").read_text())
            time.sleep(0.1)


def stop(server: subprocess.Popen, log) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="session")
def gw(gateway):
    import zkgate

    return zkgate.Gateway(gateway.url, gateway.token, ca_cert=str(gateway.ca))


@pytest.fixture(scope="session")
def mock(gw):
    return gw.mock("breast_cancer")
