"""The project's own exceptions. Redis errors are translated into these at the boundary."""


class CivicwallError(Exception):
    """Base class for every error civicwall raises on purpose."""


class ConfigError(CivicwallError):
    """A setting or a profile is invalid; the message says which and why."""


class StoreUnavailable(CivicwallError):
    """Redis could not be reached or answered with an error (connection, timeout, loading)."""


class SnapshotMissing(CivicwallError):
    """Redis is reachable but no aggregator has written a snapshot yet."""


class FeedError(CivicwallError):
    """An input file for a feed could not be read or understood."""
