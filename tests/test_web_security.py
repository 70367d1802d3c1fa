"""Security headers on every response, and error bodies that reveal no secret."""

import pytest

from dashboard.settings import Settings
from dashboard.store import free_port
from dashboard.web import create_app


@pytest.fixture
def web(redis_url):
    return create_app(Settings(redis_url=redis_url, profile="nyc")).server.test_client()


@pytest.mark.parametrize("path", ["/", "/api/v1/snapshot", "/api/v1/wall", "/healthz", "/api/v1/nope",
                                  "/assets/wall.css"])
def test_every_response_carries_the_security_headers(web, client, path):
    r = web.get(path)
    csp = r.headers["Content-Security-Policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/api/v1/deadletter", "/api", "/api/", "/api/v1/wall/"])
def test_unknown_api_paths_are_json_404s(web, client, path):
    r = web.get(path)
    assert r.status_code == 404 and r.json["error"] == "not_found"


@pytest.mark.parametrize("method, path", [("POST", "/api/v1/wall"), ("DELETE", "/api/v1/snapshot"),
                                          ("PUT", "/api/v1/anything")])
def test_the_api_is_read_only_and_says_so_in_json(web, client, method, path):
    r = web.open(path, method=method)
    assert r.status_code == 405 and r.json["error"] == "method_not_allowed"
    assert r.headers["X-Frame-Options"] == "DENY"


def test_an_unreachable_redis_with_a_password_is_reported_without_it():
    url = f"redis://:s3cret-pass@127.0.0.1:{free_port()}/0"
    web = create_app(Settings(redis_url=url, profile="nyc")).server.test_client()
    r = web.get("/api/v1/snapshot")
    assert r.status_code == 503 and r.json["error"] == "store_unavailable"
    assert b"s3cret" not in r.data and b"127.0.0.1" not in r.data
    assert b"s3cret" not in web.get("/").data


def test_a_fresh_worker_serves_the_page_scripts_to_a_burst_of_first_requests(client, settings):
    """A browser asks a worker for a dozen scripts at once. Dash registers the scripts it may serve
    on a process's first request, and marks that done before it has finished, so a burst of first
    requests on several threads used to get 500s (and a screen stuck on "Loading..." after a
    restart). Each script the page names must load, even as one of a burst of first requests."""
    import re
    import threading

    from dashboard.web import create_app

    own = settings.with_(profile="jiaozuo", push="off")
    page = create_app(own).server.test_client().get("/").get_data(as_text=True)
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert sum("_dash-component-suites" in s for s in scripts) >= 5, scripts
    for attempt in range(5):
        server = create_app(own).server                  # another worker, just started
        start = threading.Barrier(len(scripts))
        codes = {}

        def fetch(src):
            c = server.test_client()
            start.wait()
            codes[src] = c.get(src).status_code

        threads = [threading.Thread(target=fetch, args=(src,)) for src in scripts]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert set(codes.values()) == {200}, (attempt, codes)
