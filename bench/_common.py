"""Pieces the benchmark scripts share."""

from __future__ import annotations

import subprocess


def stop_all(procs: list[subprocess.Popen], server) -> None:
    """Stop the child processes a benchmark started (all asked first, then waited for), then its Redis."""
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=20)
    server.stop()
