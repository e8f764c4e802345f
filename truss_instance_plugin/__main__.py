"""The `truss-instance` command, and `python -m truss_instance_plugin`."""

import gc


def run() -> None:
    """Console-script entry point: cli.run, with the objects start-up builds kept out of every garbage collection."""
    # A command's modules, classes and functions live until it exits: collecting while importing them, then again and
    # again (and once more at exit), only walks them. gc.freeze is made for this (mypy tunes its collector too); what
    # the command itself creates is still collected.
    gc.disable()
    from truss_instance_plugin.cli import run as cli_run  # noqa: PLC0415 (after gc.disable(): what the import builds is frozen out of collections)

    gc.freeze()
    gc.enable()
    cli_run()


if __name__ == "__main__":
    run()
