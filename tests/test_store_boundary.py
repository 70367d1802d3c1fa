"""Redis errors and bad URLs become the project's own exceptions, with no password in the message."""

import socket
import threading

import pytest

from dashboard.errors import ConfigError, StoreUnavailable
from dashboard.store import connect, translated


@pytest.mark.parametrize("url", ["localhost:6379", "http://127.0.0.1:8050/", "redis://:secret@host:notaport/0"])
def test_malformed_urls_are_configuration_errors(url):
    with pytest.raises(ConfigError) as info:
        connect(url)
    assert "secret" not in str(info.value)


def test_refused_connection_is_store_unavailable_without_the_password():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # bound but not listening: connections are refused
        client = connect(f"redis://:hunter2@127.0.0.1:{port}/0", socket_timeout=1, retries=0)
        with pytest.raises(StoreUnavailable) as info, translated("pinging"):
            client.ping()
    assert "hunter2" not in str(info.value) and "pinging" in str(info.value)


def test_a_server_that_is_not_redis_is_store_unavailable():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer_http():
        conn, _ = server.accept()
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        conn.close()

    threading.Thread(target=answer_http, daemon=True).start()
    client = connect(f"redis://127.0.0.1:{server.getsockname()[1]}/0", socket_timeout=2, retries=0)
    with pytest.raises(StoreUnavailable), translated("pinging"):
        client.ping()
    server.close()


def test_dead_letter_keeps_only_the_start_of_a_huge_value(client, nyc, settings):
    from dashboard.aggregator import DEAD_LETTER_VALUE_BYTES, Aggregator
    from dashboard.keys import Keys

    keys = Keys(nyc.city)
    client.xadd(keys.stream, {"v": "1", "event_id": "big", "type": "created", "request_id": "r",
                              "ts": "2024-05-27T01:00:00Z", "text": "x" * (5 * 1024 * 1024)})
    Aggregator(client, nyc, settings).run_until_idle()
    [(_, dead)] = client.xrange(keys.deadletter)
    assert dead[b"reason"] == b"field_too_large:text"
    assert len(dead[b"f:text"]) == DEAD_LETTER_VALUE_BYTES


def test_a_missing_database_number_is_a_configuration_error(redis_url):
    base = redis_url.rsplit("/", 1)[0]
    client = connect(f"{base}/99", retries=0)
    with pytest.raises(ConfigError, match="database number"), translated("pinging"):
        client.ping()
