"""`python -m truss_instance_plugin`: the same as the `truss-instance` command."""

from truss_instance_plugin.cli import run

if __name__ == "__main__":
    run()
