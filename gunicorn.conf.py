"""gunicorn settings for the wall; read automatically by `gunicorn app:server` run from this folder,
and passed explicitly by `civicwall run`.

Wall screens stay connected for weeks. By default (CIVICWALL_PUSH=on) each holds one event stream, and
uvicorn workers keep hundreds of them on one event loop each. With push off, screens poll every few
seconds, and threaded workers keep each screen's connection open between refreshes (as browsers
expect), so a slow or far-away screen occupies one thread, not a whole worker. gunicorn's sync workers
close every connection and then wait for the client to close its side, so under a few hundred screens
they spent most of their time waiting (docs/performance.md).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard.errors import ConfigError  # noqa: E402
from dashboard.settings import Settings  # noqa: E402

try:
    _settings = Settings.from_env()
except ConfigError as exc:
    # One clear line instead of gunicorn's traceback of its config file.
    sys.exit(f"civicwall: {exc}")
bind = f"{_settings.host}:{_settings.port}"   # CIVICWALL_HOST, CIVICWALL_PORT; --bind overrides it
# With push on (CIVICWALL_PUSH, the default) app:server is an ASGI application: uvicorn workers hold
# every screen's event stream on one event loop and run the Flask part in a thread pool of
# CIVICWALL_THREADS. With push off it is the Flask application on threaded workers.
worker_class = "uvicorn_worker.UvicornWorker" if _settings.push == "on" else "gthread"
threads = _settings.threads               # CIVICWALL_THREADS
keepalive = 30                            # seconds; longer than any sensible refresh interval
timeout = 60
graceful_timeout = 10
# gunicorn 25+ opens a control socket at one path per user, which a second server on the same host
# would take over; the wall needs none.
control_socket_disable = True


def post_worker_init(worker):
    # The app's long-lived objects (Dash, Plotly, the district outlines) are several hundred thousand;
    # freezing them keeps the garbage collector's full passes, which otherwise stall a worker for
    # tens of milliseconds now and then, to what refreshes allocate.
    import gc
    gc.collect()
    gc.freeze()
