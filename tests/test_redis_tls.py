"""Redis with a password and TLS (rediss://): civicwall works through it, and never prints the secret."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from dashboard.aggregator import Aggregator
from dashboard.errors import StoreUnavailable
from dashboard.keys import Keys
from dashboard.settings import Settings
from dashboard.store import connect, free_port, translated

pytestmark = pytest.mark.slow
PASSWORD = "tls-s3cret-pw"


def tls_capable_server() -> str | None:
    binary = os.environ.get("REDIS_SERVER_BINARY") or shutil.which("redis-server")
    if not binary or not shutil.which("openssl"):
        return None
    linked = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return binary if "libssl" in linked else None


def make_certificates(folder: Path) -> None:
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "2", "-subj", "/CN=civicwall test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "san.ext")


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    binary = tls_capable_server()
    if binary is None:
        pytest.skip("no redis-server with TLS support on this machine (.ci/run installs Debian's)")
    folder = tmp_path_factory.mktemp("tls")
    make_certificates(folder)
    port = free_port()
    proc = subprocess.Popen([binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                             "--tls-cert-file", "server.crt", "--tls-key-file", "server.key",
                             "--tls-ca-cert-file", "ca.crt", "--tls-auth-clients", "no",
                             "--requirepass", PASSWORD, "--save", "", "--appendonly", "no", "--dir", str(folder)],
                            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={folder / 'ca.crt'}"
    deadline = time.monotonic() + 15
    while True:
        try:
            if redis.Redis.from_url(url).ping():
                break
        except redis.RedisError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("TLS redis-server did not start")
            time.sleep(0.1)
    yield url, port, folder
    proc.terminate()
    proc.wait(timeout=10)


def test_the_aggregator_and_snapshot_work_over_tls_with_a_password(tls_redis, nyc):
    url, _, _ = tls_redis
    client = connect(url)
    client.flushdb()
    keys = Keys(nyc.city)
    client.xadd(keys.stream, {"v": "1", "event_id": "e1", "type": "created", "request_id": "r1",
                              "ts": "2024-05-27T01:00:00-04:00", "district": "BRONX"})
    Aggregator(client, nyc, Settings(redis_url=url)).run_until_idle()
    assert client.get(keys.snapshot) is not None
    assert b'"received":1' in client.get(keys.snapshot)


def test_a_wrong_password_is_reported_without_any_password(tls_redis):
    url, _, _ = tls_redis
    wrong = url.replace(PASSWORD, "not-the-pw")
    with pytest.raises(StoreUnavailable) as info, translated("pinging"):
        connect(wrong, retries=0).ping()
    assert PASSWORD not in str(info.value) and "not-the-pw" not in str(info.value)


def test_plain_redis_to_the_tls_port_fails_cleanly(tls_redis):
    _, port, _ = tls_redis
    with pytest.raises(StoreUnavailable), translated("pinging"):
        connect(f"redis://:{PASSWORD}@127.0.0.1:{port}/0", retries=0, socket_timeout=2).ping()


def test_the_cli_never_prints_the_password(tls_redis):
    url, _, _ = tls_redis
    wrong = url.replace(PASSWORD, "cli-wrong-pw")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICWALL_")} | {"REDIS_URL": wrong}
    proc = subprocess.run([sys.executable, "-m", "dashboard.cli", "snapshot", "--profile", "nyc"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "cli-wrong-pw" not in proc.stdout + proc.stderr and "Redis unavailable" in proc.stderr
