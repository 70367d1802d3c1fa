"""civicwall core: settings, Redis access, the event contract, aggregation, snapshots, profiles, CLI.

Nothing in this package registers Dash callbacks; the web layer lives in ``layouts/`` and ``callbacks/``.
"""

__version__ = "0.1.0"
