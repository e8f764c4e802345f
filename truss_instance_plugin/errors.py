"""The errors that end a command with exit 2 (one line, no traceback); a leaf module every stage can import."""

from __future__ import annotations


class PathError(Exception):
    """A PATH argument that names nothing we can check (exit 2)."""


class UsageError(Exception):
    """Bad arguments: exit 2."""


class PolicyError(Exception):
    """A malformed policy table or an unreadable pyproject.toml (exit 2)."""


class PluginError(Exception):
    """A plugin failed to load or raised: exit 2, naming the plugin and its distribution."""


class CatalogError(Exception):
    """A catalog snapshot that cannot be used, or a Baseten account that cannot be asked: exit 2."""


class OutputError(Exception):
    """Standard output cannot be written (a full disk): exit 2."""


class GuardError(Exception):
    """truss changed its push options in a way we cannot read: fail closed."""
