"""The `truss-instance` command line: a thin shell over the pipeline."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence

from truss_instance_plugin.config import Field, LoadedConfig, PathError, find_configs
from truss_instance_plugin.diagnostics import Diagnostic, exit_code
from truss_instance_plugin.plugins import Host, PluginError, get_host
from truss_instance_plugin.policy import PolicyError

# truss 0.18.36's commands (forwarded unchanged); kept here so did-you-mean never shadows one.
TRUSS_COMMANDS = frozenset(
    {"auth", "chains", "cleanup", "configure", "container", "download", "image", "init", "login", "loops", "migrate",
     "model-config", "model-logs", "predict", "push", "run-python", "ssh", "train", "upgrade", "watch", "whoami"}
)  # fmt: skip
_TRUSS_KEYS = re.compile(
    r"^(model_name|resources|python_version|docker_server|trt_llm|model_class_name|model_cache|base_image|model_metadata)\s*:", re.M
)


class UsageError(Exception):
    """Bad arguments: exit 2."""


def _out(lines: Sequence[str]) -> None:
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")


def _err(message: str) -> None:
    sys.stderr.write(f"truss-instance: {message}\n")


def _format(args: argparse.Namespace) -> str:
    fmt: str | None = args.format
    if fmt is None:
        fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    return fmt


def looks_like_truss(config: str) -> bool:
    """A config.yaml found by walking (or named by pre-commit) is a truss's, not some other tool's."""
    if os.path.isdir(os.path.join(os.path.dirname(config), "model")):
        return True
    try:
        with open(config, "rb") as f:
            head = f.read(1 << 16).decode("utf-8-sig", "replace")
    except OSError:
        return True  # let the loader report it
    return bool(_TRUSS_KEYS.search(head))


def color() -> bool:
    """Colour and rich tables only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


_ANSI = {"error": "\033[1;31m", "warning": "\033[33m", "info": "\033[36m"}


def _paint(line: str, d: Diagnostic) -> str:
    marker = f": {d.severity} {d.code} "
    return line.replace(marker, f": {_ANSI.get(d.severity, '')}{d.severity}\033[0m {d.code} ", 1)


def collect_configs(paths: Sequence[str], hook: bool = False) -> list[str]:
    """Config files for PATH arguments (files, truss dirs, trees, lockfiles), each once, in order.

    With `hook` (pre-commit passes file names), lockfiles map to their config and config.yaml
    files of other tools are skipped silently.
    """
    from truss_instance_plugin.lockfile import config_for_lock

    out: dict[str, None] = {}  # ordered and de-duplicated
    for p in paths or ["."]:
        config = config_for_lock(p)
        if config is not None:
            if not os.path.isfile(config):
                if hook:
                    continue
                raise PathError(f"{p}: lockfile without {os.path.basename(config)} beside it")
            p = config
        found = find_configs(p)
        explicit = (p, os.path.join(p, "config.yaml"))  # what the user named directly is checked as is
        trusses = [c for c in found if (not hook and c in explicit) or looks_like_truss(c)]
        if found and not trusses and not hook:
            raise PathError(f"{p}: no truss below (the config.yaml files here have no model/ folder and no truss keys)")
        found = trusses
        out.update(dict.fromkeys(os.path.normpath(c) for c in found))  # "./m/config.yaml" -> "m/config.yaml"
    return list(out)


# check --------------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace, host: Host) -> int:
    """Validate and resolve every model; quiet when all is well."""
    from truss_instance_plugin.pipeline import analyze

    fmt = _format(args)
    models = [analyze(c, host) for c in collect_configs(args.paths, args.hook)]
    if not args.no_lock:
        from truss_instance_plugin.drift import lock_diagnostics, read_state
        from truss_instance_plugin.pipeline import sort_diagnostics

        models = [m._replace(diagnostics=sort_diagnostics([*m.diagnostics, *lock_diagnostics(m, read_state(m))])) for m in models]
    if fmt == "text" and not args.verbose and not any(m.diagnostics for m in models):
        return 0  # quiet when all is well (and no renderer to import)
    from truss_instance_plugin.report import diagnostic_lines, dumps, model_json, summary

    all_diags: list[Diagnostic] = []
    lines: list[str] = []
    for m in models:
        all_diags.extend(m.diagnostics)
        if fmt == "json":
            continue
        if args.verbose and m.chosen is not None and fmt == "text":
            lines.append(f"{m.path}: {summary(m)}")
        paint = fmt == "text" and color()
        for d in m.diagnostics:
            got = diagnostic_lines(m.path, d, fmt)
            lines += [_paint(got[0], d), *got[1:]] if paint else got
    if fmt == "json":
        lines = [dumps({"models": [model_json(m) for m in models]})]
    _out(lines)
    return exit_code(all_diags, strict=args.strict)


# explain ------------------------------------------------------------------------------------

_WHAT_IF = (("cpu", "str"), ("memory", "str"), ("accelerator", "str"), ("instance_type", "str"), ("node_count", "int"))


def _what_if(config: LoadedConfig, args: argparse.Namespace) -> LoadedConfig:
    """The config with resources keys replaced by the --cpu/--memory/... flags."""
    given = {k: (getattr(args, k), kind) for k, kind in _WHAT_IF if getattr(args, k) is not None}
    if not given:
        return config
    res = config.resources
    fields: dict[str, Field] = dict(res.value) if res is not None and isinstance(res.value, dict) else {}
    for key, (value, kind) in given.items():
        fields[key] = Field(value, kind, 0, 0, 0, 0)
    line, col = (res.key_line, res.key_col) if res is not None else (0, 0)
    return config._replace(resources=Field(fields, "map", line, col, line, col))


def cmd_explain(args: argparse.Namespace, host: Host) -> int:
    """Explain the resolution of one model (or of a what-if request)."""
    from truss_instance_plugin.config import load_config
    from truss_instance_plugin.pipeline import analyze_loaded
    from truss_instance_plugin.report import dumps, explain_json, explain_text

    if args.replicas < 1:
        raise UsageError("--replicas must be at least 1")
    configs = [load_config(c) for c in collect_configs(args.paths)] if args.paths else [LoadedConfig("", None, None, [])]
    models = [analyze_loaded(_what_if(c, args), host) for c in configs]
    if _format(args) == "json":
        docs = [explain_json(m, args.replicas, args.why_not) for m in models]
        _out([dumps(docs[0] if len(docs) == 1 else {"models": docs})])
    else:
        lines: list[str] = []
        for m in models:
            lines += explain_text(m, args.replicas, args.why_not)
        _out(lines)
    return exit_code([d for m in models for d in m.diagnostics], strict=args.strict)


# lock, adopt --------------------------------------------------------------------------------


def cmd_lock(args: argparse.Namespace, host: Host) -> int:
    """Write each model's lockfile when its bytes change; exit 1 whenever one was written."""
    from truss_instance_plugin.drift import lock_model, truss_dir
    from truss_instance_plugin.pipeline import analyze
    from truss_instance_plugin.report import diagnostic_lines

    lines: list[str] = []
    codes = [0]
    for c in collect_configs(args.paths, args.hook):
        model = analyze(c, host)
        out = lock_model(model, upgrade=args.upgrade, check_only=args.check)
        for d in out.diagnostics:
            lines += diagnostic_lines(model.path, d, "text")
        if out.status == "error":
            codes.append(2 if any(d.fatal for d in out.diagnostics) else 1)
        elif out.status != "unchanged":
            assert out.new is not None
            codes.append(1)
            price = f"${out.new.price_per_min}/min"
            if args.check:
                state = "missing" if out.status == "new" else "out of date"
                lines.append(f"{out.path} is {state}; run `truss-instance lock {truss_dir(model)}`")
            elif out.status == "new":
                lines.append(f"wrote {out.path} (new): {out.new.name} {price}")
            elif out.old == out.new.name:
                lines.append(f"wrote {out.path} (updated): {out.new.name} {price} (request or catalog changed, same type)")
            else:
                lines.append(f"wrote {out.path} (updated): {out.old or '?'} → {out.new.name} {price}")
    _out(lines)
    return max(codes)


def cmd_adopt(args: argparse.Namespace, host: Host) -> int:
    """Record a deployment in the lockfile: the baseline later edits are compared with."""
    from truss_instance_plugin.drift import record_deployment
    from truss_instance_plugin.pipeline import analyze
    from truss_instance_plugin.report import diagnostic_lines

    configs = collect_configs(args.paths)
    if len(configs) != 1:
        raise UsageError(f"adopt takes one model; {args.paths[0]} holds {len(configs)}")
    model = analyze(configs[0], host)
    name = args.model or model.config.model_name
    if not name:
        raise UsageError("no model_name in config.yaml; pass --model NAME")
    instance = args.instance
    if instance is not None and model.catalog.get(instance) is None:
        from truss_instance_plugin.request import did_you_mean

        guess = did_you_mean(instance, [t.name for t in model.catalog.types])
        _err(f"warning: {instance} is not in the catalog" + (f' (did you mean "{guess}"?)' if guess else "") + "; recording it as given")
    out = record_deployment(
        model, instance=instance, model_name=name, model_id=args.model_id,
        deployment_id=None, environment=args.environment, source="adopt",
    )  # fmt: skip
    lines: list[str] = []
    for d in out.diagnostics:
        lines += diagnostic_lines(model.path, d, "text")
    if out.status == "error":
        _out(lines)
        return 2 if any(d.fatal for d in out.diagnostics) else 1
    lines.append(f"recorded deployment of {name} ({instance or (out.new.name if out.new else '?')}) in {out.path}")
    _out(lines)
    return 0


# catalog, plugins ---------------------------------------------------------------------------


def cmd_catalog(args: argparse.Namespace, host: Host) -> int:
    """List the catalog (optionally one accelerator)."""
    from truss_instance_plugin.pipeline import host_catalog
    from truss_instance_plugin.report import catalog_text, dumps
    from truss_instance_plugin.request import did_you_mean

    catalog = host_catalog(host)
    types = list(catalog.types)
    if args.accelerator:
        wanted = "" if args.accelerator.lower() in ("cpu", "none") else args.accelerator
        types = [t for t in types if (t.gpu_type or "") == wanted]
        if not types:
            guess = did_you_mean(args.accelerator, catalog.gpu_types())
            hint = f'did you mean "{guess}"?' if guess else f"known: CPU, {', '.join(catalog.gpu_types())}"
            raise UsageError(f'no instance type has accelerator "{args.accelerator}"; {hint}')
    if _format(args) == "json":
        doc = catalog.as_json()
        doc["types"] = [t.as_json() for t in types]
        _out([dumps(doc)])
    elif color():
        from truss_instance_plugin.report import catalog_table

        catalog_table(catalog, types)
    else:
        _out(catalog_text(catalog, types))
    return 0


def cmd_plugins(args: argparse.Namespace, host: Host) -> int:
    """List registered plugins with their distribution, version and hooks."""
    from truss_instance_plugin.report import dumps

    infos = host.plugins()
    if _format(args) == "json":
        _out([dumps([{"name": p.name, "distribution": p.dist, "version": p.version, "hooks": list(p.hooks)} for p in infos])])
    else:
        _out([f"{p.name} ({p.dist} {p.version}): {', '.join(p.hooks)}" for p in infos])
    return 0


# parser -------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter without its `shutil` import (terminal width from COLUMNS, else 100)."""

    def __init__(self, prog: str) -> None:
        try:
            width = int(os.environ.get("COLUMNS", "")) - 2
        except ValueError:
            width = 98
        super().__init__(prog, width=max(width, 40))


def _fmt(sp: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    sp.add_argument("--format", choices=choices, help="output format (github under GitHub Actions, else text)")


def _add_check(c: argparse.ArgumentParser) -> None:
    c.add_argument("paths", nargs="*", metavar="PATH", help="truss dir, config file, or a tree (default .)")
    _fmt(c, ("text", "parsable", "json", "github"))
    c.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    c.add_argument("-v", "--verbose", action="store_true", help="one line per model")
    c.add_argument("--no-lock", action="store_true", help="skip lockfile checks")
    c.add_argument("--hook", action="store_true", help="PATHs are file names from pre-commit")
    c.set_defaults(func=cmd_check)


def _add_lock(lk: argparse.ArgumentParser) -> None:
    lk.add_argument("paths", nargs="*", metavar="PATH", help="truss dir, config file, lockfile, or a tree (default .)")
    lk.add_argument("--check", action="store_true", help="write nothing; exit 1 if a lock is missing or stale")
    lk.add_argument("--upgrade", action="store_true", help="re-resolve even when the locked type still fits")
    lk.add_argument("--hook", action="store_true", help="PATHs are file names from pre-commit")
    lk.set_defaults(func=cmd_lock)


def _add_adopt(a: argparse.ArgumentParser) -> None:
    a.add_argument("paths", nargs=1, metavar="PATH", help="truss dir or config file")
    a.add_argument("--instance", metavar="NAME", help="the instance type it runs on (default: the predicted one)")
    a.add_argument("--model", metavar="NAME", help="model name (default: model_name in config.yaml)")
    a.add_argument("--model-id", metavar="ID", help="Baseten model id")
    a.add_argument("--environment", metavar="NAME", default="production", help="environment (default production)")
    a.set_defaults(func=cmd_adopt)


def _add_explain(e: argparse.ArgumentParser) -> None:
    e.add_argument("paths", nargs="*", metavar="PATH", help="truss dir or config file (omit for a what-if)")
    for key, _ in _WHAT_IF:
        flag = "--" + key.replace("_", "-")
        e.add_argument(flag, dest=key, type=int if key == "node_count" else str, help=f"what-if {key}")
    e.add_argument("--replicas", type=int, default=1, help="price N replicas")
    e.add_argument("--why-not", metavar="NAME", help="say which constraint or price rule rejected NAME")
    e.add_argument("--strict", action="store_true", help=argparse.SUPPRESS)
    _fmt(e, ("text", "json"))
    e.set_defaults(func=cmd_explain)


def _add_catalog(k: argparse.ArgumentParser) -> None:
    k.add_argument("--accelerator", metavar="X", help="only types with this GPU (CPU for CPU-only)")
    _fmt(k, ("text", "json"))
    k.set_defaults(func=cmd_catalog)


def _add_plugins(g: argparse.ArgumentParser) -> None:
    _fmt(g, ("text", "json"))
    g.set_defaults(func=cmd_plugins)


_SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "check": ("validate and resolve every model (exit 0 clean, 1 findings, 2 bad input)", _add_check),
    "explain": ("why this instance type, at what price", _add_explain),
    "lock": ("write truss-instance.lock beside each config (exit 1 when a file was written)", _add_lock),
    "adopt": ("record that the current resources are deployed (baseline for drift warnings)", _add_adopt),
    "catalog": ("list instance types and prices", _add_catalog),
    "plugins": ("list plugins and their hooks", _add_plugins),
}


def _build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that subcommand's (argparse setup is a visible part of a check)."""
    from truss_instance_plugin import __version__

    p = _Parser(
        prog="truss-instance",
        description="Validate, resolve, explain and lock Truss resources.",
        epilog="Any other COMMAND (push, predict, ...) is truss's own; `truss-instance push` runs it behind the check.",
        formatter_class=_Formatter,
    )
    p.add_argument("--version", action="version", version=f"truss-instance {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (text, add) in _SUBCOMMANDS.items():
        if only is None or name == only:
            add(sub.add_parser(name, help=text, description=text, formatter_class=_Formatter))
    return p


def _unknown_command(argv: list[str]) -> int | None:
    """Did-you-mean for a misspelt command of ours; None lets truss take the command."""
    import difflib

    word = argv[0]
    if word in TRUSS_COMMANDS:
        return None
    guess = difflib.get_close_matches(word, list(_SUBCOMMANDS), n=1, cutoff=0.75)
    if guess:
        _err(f"unknown command {word!r}; did you mean {guess[0]!r}?")
        return 2
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (never raises for bad input)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and not args_list[0].startswith("-") and args_list[0] not in _SUBCOMMANDS:
            code = _unknown_command(args_list)
            if code is not None:
                return code
            from truss_instance_plugin.push import run_truss

            return run_truss(args_list, prog_name="truss-instance")  # `push` and every other truss command
        parser = _build_parser(args_list[0] if args_list and args_list[0] in _SUBCOMMANDS else None)
        args = parser.parse_args(args_list)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        func: Callable[[argparse.Namespace, Host], int] = args.func
        return func(args, get_host())
    except UsageError as e:
        _err(str(e))
        return 2
    except (PathError, PluginError, PolicyError) as e:
        _err(str(e))
        return 2
    except BrokenPipeError:
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if os.environ.get("TRUSS_INSTANCE_DEBUG"):
            raise
        _err(f"internal error: {type(e).__name__}: {e} (set TRUSS_INSTANCE_DEBUG=1 for the traceback and please report it)")
        return 2


def run() -> None:
    """Console-script entry point."""
    code = main()
    sys.stdout.flush()
    sys.exit(code)
