"""truss-instance-plugin: validate, resolve, explain and lock a Truss model's instance type."""

from truss_instance_plugin.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]
