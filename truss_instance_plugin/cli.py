"""The `truss-instance` command line: a thin shell over the pipeline."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.config import Field, LoadedConfig, dirname, find_configs, is_chain_file, is_dir, join, read_bounded
from truss_instance_plugin.core.pipeline import analyze, analyze_loaded, begin, failed_model, host_catalog
from truss_instance_plugin.diagnostics import Diagnostic, clip, exit_code, location, safe_line, write_lines, write_text
from truss_instance_plugin.errors import (
    CatalogError,
    OutputError,
    PathError,
    PluginError,
    PolicyError,
    Terminated,
    UsageError,
    stop_on_signals,
)
from truss_instance_plugin.lock.drift import check_model, read_state, truss_dir
from truss_instance_plugin.plugins import Host, get_host

if TYPE_CHECKING:
    from typing import NoReturn

    from truss_instance_plugin.chains.load import Chainlet
    from truss_instance_plugin.lock.write import LockOutcome
    from truss_instance_plugin.model import Model

    Unit = tuple[Model, Chainlet | None]  # a model, or one chainlet of a chain file
    Found = tuple[str, str, tuple[Diagnostic, ...]]  # a unit's path, chainlet name and findings
    Locked = tuple[str, str, str, str | None, LockOutcome]  # path, chainlet, truss dir, summary (--verbose), outcome

# truss 0.18.36's commands (forwarded unchanged); kept here so did-you-mean never shadows one.
TRUSS_COMMANDS = frozenset(
    {"auth", "chains", "cleanup", "configure", "container", "download", "image", "init", "login", "loops", "migrate",
     "model-config", "model-logs", "predict", "push", "run-python", "ssh", "train", "upgrade", "watch", "whoami"}
)  # fmt: skip
_TRUSS_KEYS = r"(?m)^(model_name|resources|python_version|docker_server|trt_llm|model_class_name|model_cache|base_image|model_metadata)\s*:"


def _out(lines: Sequence[str], commands: bool = False, findings: dict[int, Diagnostic] | None = None, paint: bool = False) -> None:
    """Print `lines` through the choke point (diagnostics.safe_line); `findings`: the index of each diagnostic's first
    line (see _diagnostic), coloured with `paint`; with `commands` (github annotations) no line has a text header."""
    if not paint or not findings:
        write_lines(sys.stdout, lines, commands, () if commands or findings is None else findings)
        return
    safe = [safe_line(line, commands, i in findings) for i, line in enumerate(lines)]
    for i, d in findings.items():
        safe[i] = _paint(safe[i], d)
    write_text(sys.stdout, "\n".join(safe) + "\n")


def _diagnostic(lines: list[str], findings: dict[int, Diagnostic], path: str, d: Diagnostic, fmt: str, chainlet: str = "") -> None:
    """Append a diagnostic's lines, noting where its first line is (the only place a finding's header may be)."""
    from truss_instance_plugin.report import diagnostic_lines

    findings[len(lines)] = d
    lines += diagnostic_lines(path, d, fmt, chainlet)


def _err(message: str) -> None:
    write_lines(sys.stderr, [f"truss-instance: {message}"])


def _format(args: argparse.Namespace) -> str:
    fmt: str | None = args.format
    if fmt is None:
        fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    return fmt


def looks_like_truss(config: str) -> bool:
    """A config.yaml found by walking (or named by pre-commit) is a truss's, not some other tool's."""
    if is_dir(join(dirname(config), "model")):
        return True

    try:
        head = read_bounded(config, 1 << 16).decode("utf-8-sig", "replace")
    except OSError:
        return True  # let the loader report it (a FIFO, a device, no permission)
    return has_truss_keys(head)


def has_truss_keys(text: str) -> bool:
    """Whether a config.yaml's text has a top-level key only truss configs have (compiled on first use)."""
    return re.search(_TRUSS_KEYS, text) is not None


def color() -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


_ANSI = {"error": "\033[1;31m", "warning": "\033[33m", "info": "\033[36m"}


def _paint(line: str, d: Diagnostic) -> str:
    marker = f": {d.severity} {d.code} "
    return line.replace(marker, f": {_ANSI.get(d.severity, '')}{d.severity}\033[0m {d.code} ", 1)


def collect_configs(paths: Sequence[str], hook: bool = False, chains: bool = False) -> list[str]:
    """Config files for PATH arguments (files, truss dirs, trees, lockfiles), each once, in order.

    With `hook` (pre-commit passes file names), lockfiles map to their config and config.yaml
    files of other tools are skipped silently. With `chains`, chain files (.py) too: named ones,
    and those a walk finds, except the modules another chain file found there imports.
    """
    from truss_instance_plugin.lock.format import config_for_lock

    out: dict[str, None] = {}  # ordered and de-duplicated
    for p in paths or ["."]:
        config = config_for_lock(p)
        if config is not None:
            if not os.path.isfile(config):
                if hook:
                    continue
                raise PathError(f"{p}: lockfile without {os.path.basename(config)} beside it")
            p = config
        found = find_configs(p, chains)
        explicit = (p, os.path.join(p, "config.yaml"))  # what the user named directly is checked as is
        py = {c: None for c in found if chains and c.endswith(".py")}
        if len(py) > 1:
            from truss_instance_plugin.chains.load import chain_roots

            py = dict.fromkeys(chain_roots(list(py))) if os.path.isdir(p) else py
        trusses = [
            c for c in found
            if (c in py and (not hook or is_chain_file(c))) or (c not in py and ((not hook and c in explicit) or looks_like_truss(c)))
        ]  # fmt: skip
        if found and not trusses and not hook:
            raise PathError(f"{p}: no truss below (the config.yaml files here have no model/ folder and no truss keys)")
        out.update(dict.fromkeys(map(_normpath_below(p), trusses)))  # "./m/config.yaml" -> "m/config.yaml"
    return _each_once(list(out)) if len(paths) > 1 else list(out)  # one PATH: a walk follows no symlink, so no repeats


def _each_once(configs: list[str]) -> list[str]:
    """Each model once, however its folder is spelt (m, $PWD/m, a symlink to m, ../m from inside m): the first spelling.

    A model is its folder (where its lock goes) and its file's name; locking one twice would wait for itself."""
    seen: dict[object, str] = {}
    for c in configs:
        try:
            st = os.stat(dirname(c) or ".")
            key: object = (st.st_dev, st.st_ino, os.path.basename(c))
        except OSError:  # reported when the model is read
            key = c
        seen.setdefault(key, c)
    return list(seen.values())


def _normpath_below(root: str) -> Callable[[str], str]:
    """os.path.normpath for the paths a walk of `root` gives, normalizing only `root`: what a walk appends below it is
    folder and file names, never ".", ".." or an empty name."""
    given, normal = os.path.join(root, ""), os.path.join(os.path.normpath(root), "")
    if normal == os.curdir + os.sep:
        normal = ""
    return lambda path: normal + path[len(given) :] if path.startswith(given) else os.path.normpath(path)


# check --------------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace, host: Host) -> int:
    """Validate and resolve every model; quiet when all is well."""
    fmt = _format(args)
    named = frozenset(os.path.normpath(p) for p in args.paths)
    configs = collect_configs(args.paths, args.hook, chains=True)
    state = (host, not args.no_lock, named)
    units: list[Unit] = []
    if fmt == "json" or args.verbose or args.online:  # these need each whole model
        units = [u for c in configs for u in check_units(c, host, not args.no_lock, c not in named)]
        if args.online:  # chainlets have no lockfile (yet), so no recorded deployment to compare
            from truss_instance_plugin.integrations.online import check_online

            plain = [i for i, (_, chainlet) in enumerate(units) if chainlet is None]
            for i, checked in zip(plain, check_online([units[i][0] for i in plain], args), strict=True):
                units[i] = (checked, None)
        found = [_found(m, c) for m, c in units]
    elif len(configs) == 1 or args.hook or host.has_plugins():  # pre-commit runs --hook batches in parallel itself
        found = _findings(state, configs)  # and a plugin may not expect other processes
    else:  # only findings: many models are checked on every CPU
        from truss_instance_plugin.core.parallel import jobs, ordered_map

        found = ordered_map(_findings, state, configs, jobs(len(configs)))
    if fmt == "text" and not args.verbose and not any(diags for _, _, diags in found):
        return 0  # quiet when all is well (and no renderer to import)
    from truss_instance_plugin.report import dumps, model_json, summary

    all_diags = [d for _, _, diags in found for d in diags]
    lines: list[str] = []
    findings: dict[int, Diagnostic] = {}
    if fmt == "json":
        docs = [model_json(m, c.name, c.entrypoint) if c else model_json(m) for m, c in units]
        lines = dumps({"models": docs}).split("\n")
    else:
        for i, (path, name, diags) in enumerate(found):
            m = units[i][0] if units else None
            if m is not None and args.verbose and m.chosen is not None and fmt == "text":
                from truss_instance_plugin.core.policy import find_policy, policy_name

                policy = find_policy(m.path) if m.path else None
                applied = f"  (policy: {policy_name(policy.source)})" if policy is not None else ""
                lines.append(f"{location(m.path)}{f' [{location(name)}]' if name else ''}: {summary(m)}{applied}")
            for d in diags:
                _diagnostic(lines, findings, path, d, fmt, name)
        if fmt == "text" and all_diags:
            lines.append(counts(len(found), all_diags))
    _out(lines, fmt == "github", findings, paint=fmt == "text" and color())
    return exit_code(all_diags, strict=args.strict)


def _findings(state: tuple[Host, bool, frozenset[str]], configs: Sequence[str]) -> list[Found]:
    """Each unit's path, chainlet name ("" for a model) and findings, for `configs` (what `check` prints)."""
    host, lock, named = state
    return [_found(m, c) for p in configs for m, c in check_units(p, host, lock, p not in named)]


def _found(model: Model, chainlet: Chainlet | None) -> Found:
    """What `check` prints about one unit: its path, chainlet name ("" for a model) and findings."""
    return model.path, chainlet.name if chainlet else "", model.diagnostics


def counts(n_models: int, diags: Sequence[Diagnostic]) -> str:
    """'376 models: 2 errors, 33 warnings' (ruff's closing line)."""
    parts = []
    for severity in ("error", "warning", "info"):
        n = sum(d.severity == severity for d in diags)
        if n:
            parts.append(f"{n} {severity}{'s' if n != 1 and severity != 'info' else ''}")
    return f"{n_models} model{'s' if n_models != 1 else ''}: {', '.join(parts)}"


def check_units(path: str, host: Host, lock: bool, walked: bool) -> list[Unit]:
    """A config file's model, or each chainlet of a chain file (with its entry in the chain file's lock)."""
    if not path.endswith(".py"):
        return [(check_one(path, host, lock=lock), None)]
    from truss_instance_plugin.chains.load import analyze_chain  # only when a .py file is named or found

    try:
        units = analyze_chain(path, host, walked=walked)
        if lock:
            units = [(check_model(m, c.name)[0], c) if c else (m, c) for m, c in units]
        return units
    except (PluginError, PolicyError, CatalogError):
        raise
    except Exception as e:
        if os.environ.get("TRUSS_INSTANCE_DEBUG"):
            raise
        return [(failed_model(path, e), None)]


def check_one(config: str, host: Host, *, lock: bool = True) -> Model:
    """One model through the pipeline (and its lockfile); an unexpected failure becomes its TI099 finding."""
    try:
        model = analyze(config, host)
        if lock:
            model = check_model(model)[0]
        return model
    except (PluginError, PolicyError, CatalogError):
        raise
    except Exception as e:
        if os.environ.get("TRUSS_INSTANCE_DEBUG"):
            raise
        return failed_model(config, e)


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
        if key == "accelerator":  # typed on a command line: any case (a config file must spell it as truss does)
            from truss_instance_plugin.catalog import TRUSS_ACCELERATORS

            name, sep, count = str(value).partition(":")
            known = {a.upper(): a for a in TRUSS_ACCELERATORS}
            value = known.get(name.strip().upper(), name) + sep + count
        fields[key] = Field(value, kind, 0, 0, 0, 0)
    line, col = (res.key_line, res.key_col) if res is not None else (0, 0)
    return config._replace(resources=Field(fields, "map", line, col, line, col))


def cmd_explain(args: argparse.Namespace, host: Host) -> int:
    """Explain the resolution of one model (or of a what-if request)."""
    from truss_instance_plugin.config import load_config
    from truss_instance_plugin.report import chain_json, chain_total_text, dumps, explain_json, explain_text

    if args.replicas < 1:
        raise UsageError("--replicas must be at least 1")
    paths = collect_configs(args.paths, chains=True) if args.paths else [""]
    if any(p.endswith(".py") for p in paths) and any(getattr(args, key) is not None for key, _ in _WHAT_IF):
        raise UsageError("--cpu, --memory, --accelerator, --instance-type and --node-count are for a config.yaml, not a chain file")
    named = {os.path.normpath(p) for p in args.paths}
    groups: list[tuple[str, list[Unit]]] = []
    for p in paths:
        if p.endswith(".py"):
            groups.append((p, check_units(p, host, False, p not in named)))
        else:
            groups.append((p, [(_explain_one(load_config(p) if p else LoadedConfig("", None, None, []), args, host), None)]))
    if _format(args) == "json":
        docs: list[dict[str, object]] = []
        for path, units in groups:
            chainlets = [(m, c.name, c.entrypoint) for m, c in units if c]
            each = [explain_json(m, args.replicas, args.why_not) for m, c in units if c is None]
            docs += [chain_json(path, chainlets, args.replicas, args.why_not)] if chainlets else each
        _out(dumps(docs[0] if len(docs) == 1 else {"models": docs}).split("\n"))
    else:
        lines: list[str] = []
        for path, units in groups:
            for m, c in units:
                label = f"{c.name}{', entrypoint' if c.entrypoint else ''}" if c else ""
                lines += explain_text(m, args.replicas, args.why_not, chainlet=label)
            if any(c for _, c in units):
                lines.append(chain_total_text(path, [(m, c.name) for m, c in units if c], args.replicas))
        _out(lines)
    return exit_code([d for _, units in groups for m, _ in units for d in m.diagnostics], strict=args.strict)


def _explain_one(config: LoadedConfig, args: argparse.Namespace, host: Host) -> Model:
    try:
        return analyze_loaded(_what_if(config, args), host)
    except (PluginError, PolicyError, CatalogError):
        raise
    except Exception as e:
        if os.environ.get("TRUSS_INSTANCE_DEBUG"):
            raise
        return failed_model(config.path, e)


# lock, adopt --------------------------------------------------------------------------------


def cmd_lock(args: argparse.Namespace, host: Host) -> int:
    """Write each model's lockfile when its bytes change (exit 1 when one was written only with --hook or --check)."""
    from truss_instance_plugin.report import price_delta_text

    lines: list[str] = []
    findings: dict[int, Diagnostic] = {}
    codes = [0]
    configs = collect_configs(args.paths, args.hook, chains=True)
    named = {os.path.normpath(p) for p in args.paths}
    trusses = [c for c in configs if not c.endswith(".py")]
    if len(trusses) > 1 and not host.has_plugins():  # a plugin may not expect other processes
        from truss_instance_plugin.core.parallel import jobs, ordered_map
        from truss_instance_plugin.core.policy import find_policy

        for c in trusses:  # a malformed policy or catalog snapshot stops `lock` here, before any process writes (as in one)
            find_policy(c)  # each folder's policy and catalog, remembered for the processes
            host_catalog(host, c)
        from truss_instance_plugin.lock.write import BATCH  # each call of lock_models syncs its batches once

        results = ordered_map(_lock_trusses, (host, args), trusses, jobs(len(trusses)), min_chunk=BATCH)
    else:
        results = _lock_trusses((host, args), trusses)
    for c in configs:
        if c.endswith(".py"):
            results += _lock_chain_file(c, host, args, walked=c not in named)
    for path, chainlet, where, summary, out in results:
        for d in out.diagnostics:
            _diagnostic(lines, findings, path, d, "text", chainlet)
        if out.status == "error":
            codes.append(2 if any(d.fatal for d in out.diagnostics) else 1)
        elif out.status == "unchanged":
            if summary is not None:
                lines.append(f"{location(out.path)} is up to date: {f'[{chainlet}] ' if chainlet else ''}{summary}")
        else:
            assert out.new is not None
            codes.append(1 if args.hook or args.check else 0)
            new_price = out.new.price_per_min * out.nodes
            price = f"${new_price}/min"
            moved = f"  {price_delta_text(out.old_price, new_price)}" if out.old_price is not None and out.old_price != new_price else ""
            unit = f"[{chainlet}] " if chainlet else ""
            if args.check:
                state = "missing" if out.status == "new" else "out of date"
                line = f"{location(out.path)} is {state}; run `truss-instance lock {where}`"
                lines += [] if line in lines else [line]
            elif out.status == "new":
                lines.append(f"wrote {out.path} (new): {unit}{out.new.name} {price}")
            elif out.old == out.new.name:
                lines.append(f"wrote {out.path} (updated): {unit}{out.new.name} {price} (request or catalog changed, same type){moved}")
            else:
                lines.append(f"wrote {out.path} (updated): {unit}{out.old or '?'} → {out.new.name} {price}{moved}")
    _out(lines, findings=findings)
    return max(codes)


def _locked(model: Model, chainlet: str, out: LockOutcome, verbose: bool) -> Locked:
    """What `lock` prints about one unit: its path, chainlet, folder, summary (--verbose) and what was done."""
    from truss_instance_plugin.report import summary

    return model.path, chainlet, truss_dir(model), summary(model) if verbose and model.chosen is not None else None, out


def _lock_trusses(state: tuple[Host, argparse.Namespace], configs: Sequence[str]) -> list[Locked]:
    """Analyze and lock the models of `configs` (config files, no chain files)."""
    from truss_instance_plugin.lock.write import lock_models

    host, args = state
    models = [check_one(c, host, lock=False) for c in configs]
    outs = lock_models(models, upgrade=args.upgrade, check_only=args.check)
    return [_locked(m, "", out, args.verbose) for m, out in zip(models, outs, strict=True)]


def _lock_chain_file(path: str, host: Host, args: argparse.Namespace, walked: bool) -> list[Locked]:
    """Lock every chainlet of a chain file into its one lockfile (nothing is written while one has errors)."""
    from truss_instance_plugin.lock.format import lock_path
    from truss_instance_plugin.lock.write import LockOutcome, lock_chain

    units = check_units(path, host, lock=False, walked=walked)
    chainlets = [(m, c) for m, c in units if c is not None]
    if len(chainlets) != len(units) or not units:  # the file itself cannot be read
        return [_locked(m, "", LockOutcome(lock_path(path), "error", None, None, list(m.diagnostics)), args.verbose) for m, _ in units]
    entry = next((c.name for _, c in chainlets if c.entrypoint), None)
    outs = lock_chain([(m, c.name) for m, c in chainlets], entry, upgrade=args.upgrade, check_only=args.check)
    return [_locked(m, c.name, out, args.verbose) for (m, c), out in zip(chainlets, outs, strict=True)]


def cmd_adopt(args: argparse.Namespace, host: Host) -> int:
    """Record a deployment in the lockfile: the baseline later edits are compared with."""
    from truss_instance_plugin.lock.format import implausible
    from truss_instance_plugin.lock.write import record_deployment

    configs = collect_configs(args.paths, chains=True)
    if len(configs) != 1:
        raise UsageError(f"adopt takes one model; {args.paths[0]} holds {len(configs)}")
    chain: list[tuple[Model, str]] = []
    entry: str | None = None
    if configs[0].endswith(".py"):
        units = check_units(configs[0], host, lock=False, walked=False)
        names = [c.name for _, c in units if c is not None]
        chosen = args.chainlet or (names[0] if len(names) == 1 else None)
        if chosen not in names:
            raise UsageError(f"pass --chainlet NAME, one of: {', '.join(names) or '(no chainlet could be read)'}")
        chain = [(m, c.name) for m, c in units if c is not None]
        entry = next((c.name for _, c in units if c is not None and c.entrypoint), None)
        model = next(m for m, n in chain if n == chosen)
        name = args.model or chosen
    else:
        if args.chainlet:
            raise UsageError("--chainlet is for a chain file (.py)")
        model = analyze(configs[0], host)
        name = args.model or model.config.model_name
    lines: list[str] = []
    findings: dict[int, Diagnostic] = {}
    if not name:
        errors = [d for d in model.diagnostics if d.severity == "error"]
        if errors:  # e.g. invalid YAML: the model_name could not be read, and that is not the user's usage error
            for d in errors:
                _diagnostic(lines, findings, model.path, d, "text")
            _out(lines, findings=findings)
            return 1
        raise UsageError(f"no model_name in {os.path.basename(configs[0])}; pass --model NAME")
    given = (
        ("--model", "model_name", name), ("--instance", "instance_type", args.instance), ("--model-id", "model_id", args.model_id),
        ("--environment", "environment", args.environment), ("--deployment-id", "deployment_id", args.deployment_id),
    )  # fmt: skip
    for flag, key, value in given:
        if value is not None and (what := implausible(key, value)) is not None:  # what the lockfile would refuse to read back
            named = flag if flag != "--model" or args.model else "the model name"  # a chainlet's, or model_name in the config
            fix = "" if named == flag else "; pass --model NAME"
            raise UsageError(f"{named} {clip(repr(value))} cannot be recorded: use {what}{fix}")
    instance, model_id, deployment_id = args.instance, args.model_id, args.deployment_id
    environment = None if deployment_id else args.environment
    if args.from_baseten:
        from truss_instance_plugin.integrations.online import adopt_from_baseten

        if instance is not None:
            raise UsageError("--instance and --from-baseten exclude each other: Baseten says which type runs")
        instance, model_id, deployment_id, environment = adopt_from_baseten(args, name)
    if instance is not None and model.catalog.get(instance) is None:
        from truss_instance_plugin.request import did_you_mean

        guess = did_you_mean(instance, [t.name for t in model.catalog.types])
        _err(f"warning: {instance} is not in the catalog" + (f' (did you mean "{guess}"?)' if guess else "") + "; recording it as given")

    before = read_state(model, next((n for m, n in chain if m is model), ""))
    first = before.lock is None or before.lock.deployment is None  # nothing recorded yet: this is the first deployment
    how = {"instance": instance, "model_name": name, "model_id": model_id, "deployment_id": deployment_id, "environment": environment}
    source = "baseten" if args.from_baseten else "adopt"
    if chain:
        from truss_instance_plugin.lock.write import deployment_record, lock_chain

        record = deployment_record(model, source=source, **how)
        if record is None:
            for d in model.diagnostics:
                _diagnostic(lines, findings, model.path, d, "text", name)
            _out(lines, findings=findings)
            return 1
        outs = lock_chain(chain, entry, deployment=record, only=name)
        out = next(o for (_, n), o in zip(chain, outs, strict=True) if n == name)
        bad = next((o for o in outs if o.status == "error" and o.diagnostics), None)
        out = bad or out
    else:
        out = record_deployment(model, source=source, **how)
    for d in out.diagnostics:
        _diagnostic(lines, findings, model.path, d, "text", next((n for m, n in chain if m is model), ""))
    if out.status == "error":
        _out(lines, findings=findings)
        return 2 if any(d.fatal for d in out.diagnostics) else 1
    shown = instance or (out.new.name if out.new else "?")
    lines.append(f"recorded deployment of {name} ({shown}) in {out.path}")
    if first:
        from truss_instance_plugin.lock.write import FIRST_DEPLOYMENT

        lines.append(FIRST_DEPLOYMENT.format(instance=shown))
    _out(lines, findings=findings)
    return 0


# catalog, plugins ---------------------------------------------------------------------------


def cmd_catalog(args: argparse.Namespace, host: Host) -> int:
    """List the catalog (optionally one accelerator)."""
    from truss_instance_plugin.report import catalog_text, dumps
    from truss_instance_plugin.request import did_you_mean

    catalog = host_catalog(host)
    types = list(catalog.types)
    if args.accelerator:
        wanted = "" if args.accelerator.lower() in ("cpu", "none") else args.accelerator.strip().upper()
        types = [t for t in types if (t.gpu_type or "").upper() == wanted]
        if not types:
            guess = did_you_mean(args.accelerator, catalog.gpu_types())
            hint = f'did you mean "{guess}"?' if guess else f"known: CPU, {', '.join(catalog.gpu_types())}"
            raise UsageError(f'no instance type has accelerator "{args.accelerator}"; {hint}')
    if _format(args) == "json":
        doc = catalog.as_json()
        doc["types"] = [t.as_json() for t in types]
        _out(dumps(doc).split("\n"))
    else:
        _out(catalog_text(catalog, types))
    return 0


def cmd_plugins(args: argparse.Namespace, host: Host) -> int:
    """List registered plugins with their distribution, version and hooks."""
    from truss_instance_plugin.report import dumps

    infos = host.plugins()
    if _format(args) == "json":
        _out(dumps([{"name": p.name, "distribution": p.dist, "version": p.version, "hooks": list(p.hooks)} for p in infos]).split("\n"))
    else:
        _out([f"{p.name} ({p.dist} {p.version}): {', '.join(p.hooks)}" for p in infos])
    return 0


# parser -------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")

    def _print_message(self, message: str, file: object = None) -> None:
        """--help and --version as argparse prints them, but a full disk is exit 2 (argparse ignores a failed write)."""
        if message and id(file) == id(sys.stdout):  # `is` would narrow sys.stdout to `object` for mypy
            write_text(sys.stdout, message)
        else:
            super()._print_message(message, file)  # type: ignore[arg-type]


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


def _catalog_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--catalog", dest="catalog_file", metavar="FILE",
        help="a catalog snapshot (`catalog fetch`) instead of the embedded catalog (default: `catalog` in [tool.truss-instance])",
    )  # fmt: skip


def _online_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--remote", metavar="NAME", help="remote in ~/.trussrc, as for `truss push` (default: the only one)")
    p.add_argument("--rest-url", metavar="URL", help="REST API base URL (default: truss's for the remote; env TRUSS_INSTANCE_REST_URL)")
    p.add_argument("--timeout", metavar="SECONDS", help="for connecting and for each read (default 5; env TRUSS_INSTANCE_TIMEOUT)")
    p.add_argument("--deadline", metavar="SECONDS", help="for the whole command (default 30; env TRUSS_INSTANCE_DEADLINE)")


def _add_check(c: argparse.ArgumentParser) -> None:
    c.add_argument("paths", nargs="*", metavar="PATH", help="truss dir, config file, or a tree (default .)")
    _fmt(c, ("text", "parsable", "json", "github"))
    c.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    c.add_argument("-v", "--verbose", action="store_true", help="one line per model")
    c.add_argument("--no-lock", action="store_true", help="skip lockfile checks")
    c.add_argument("--hook", action="store_true", help="PATHs are file names from pre-commit")
    c.add_argument("--online", action="store_true", help="ask Baseten what each recorded deployment runs now (TI111, TI112)")
    _online_options(c)
    _catalog_option(c)
    c.set_defaults(func=cmd_check)


def _add_lock(lk: argparse.ArgumentParser) -> None:
    lk.add_argument("paths", nargs="*", metavar="PATH", help="truss dir, config file, lockfile, or a tree (default .)")
    lk.add_argument("--check", action="store_true", help="write nothing; exit 1 if a lock is missing or stale")
    lk.add_argument("--upgrade", action="store_true", help="re-resolve even when the locked type still fits")
    lk.add_argument("--hook", action="store_true", help="PATHs are file names from pre-commit (exit 1 when a lock was written)")
    lk.add_argument("-v", "--verbose", action="store_true", help="also name the locks that are up to date")
    _catalog_option(lk)
    lk.set_defaults(func=cmd_lock)


def _add_adopt(a: argparse.ArgumentParser) -> None:
    a.add_argument("paths", nargs=1, metavar="PATH", help="truss dir, config file, or chain file (.py)")
    a.add_argument("--instance", metavar="NAME", help="the instance type it runs on (default: the predicted one)")
    a.add_argument("--model", metavar="NAME", help="model name (default: model_name in config.yaml)")
    a.add_argument("--model-id", metavar="ID", help="Baseten model id")
    which = a.add_mutually_exclusive_group()
    which.add_argument("--environment", metavar="NAME", default="production", help="environment (default production)")
    which.add_argument("--deployment-id", metavar="ID", help="the deployment (instead of an environment)")
    a.add_argument("--from-baseten", action="store_true", help="ask Baseten which instance type the deployment runs on")
    a.add_argument("--chainlet", metavar="NAME", help="for a chain file: the chainlet that is deployed")
    _online_options(a)
    _catalog_option(a)
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
    _catalog_option(e)
    e.set_defaults(func=cmd_explain)


def _add_catalog(k: argparse.ArgumentParser) -> None:
    k.add_argument("--accelerator", metavar="X", help="only types with this GPU (CPU for CPU-only)")
    _fmt(k, ("text", "json"))
    _catalog_option(k)
    k.set_defaults(func=cmd_catalog)
    text = "write the account's live catalog as a snapshot file (for --catalog, or `catalog` in [tool.truss-instance])"
    fetch = k.add_subparsers(dest="catalog_command", metavar="[fetch]", parser_class=_Parser).add_parser(
        "fetch", help=text, description=text, formatter_class=_Formatter
    )
    fetch.add_argument("-o", "--output", metavar="FILE", help="the snapshot file (default: standard output)")
    _online_options(fetch)
    fetch.set_defaults(
        func=lambda args, host: __import__("truss_instance_plugin.integrations.online").integrations.online.cmd_catalog_fetch(args, host)
    )


def _add_plugins(g: argparse.ArgumentParser) -> None:
    _fmt(g, ("text", "json"))
    g.set_defaults(func=cmd_plugins)


_SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "check": ("validate and resolve every model (exit 0 clean, 1 findings, 2 bad input)", _add_check),
    "explain": ("why this instance type, at what price", _add_explain),
    "lock": ("write truss-instance.lock beside each config (only when its bytes change)", _add_lock),
    "adopt": ("record that the current resources are deployed (baseline for drift warnings)", _add_adopt),
    "catalog": ("list instance types and prices", _add_catalog),
    "plugins": ("list plugins and their hooks", _add_plugins),
    "diff": (  # diff.py is imported only when `diff` is the command (never on the check path)
        "cost review: instance types and prices between git revisions",
        lambda d: __import__("truss_instance_plugin.review.diff").review.diff.add_parser(d),
    ),
}


def _build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that subcommand's (argparse setup is a visible part of a check)."""
    from truss_instance_plugin import __version__

    p = _Parser(
        prog="truss-instance",
        description="Validate, resolve, explain and lock Truss resources.",
        epilog="Any other COMMAND is truss's own and runs unchanged: " + ", ".join(sorted(TRUSS_COMMANDS - {"push"})) + ".",
        formatter_class=_Formatter,
    )
    p.add_argument("--version", action="version", version=f"truss-instance {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (text, add) in _SUBCOMMANDS.items():
        if only is None or name == only:
            add(sub.add_parser(name, help=text, description=text, formatter_class=_Formatter))
    if only is None:  # listed for --help; main() hands `push` (and every truss command) to truss itself
        sub.add_parser("push", help="truss's own `truss push` behind the check (same options; needs truss)")
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


def main(argv: Sequence[str] | None = None, *, signals: bool = False) -> int:
    """Run the CLI; returns the exit code (never raises for bad input).

    With `signals` (the command itself, not a caller in this process), SIGTERM and SIGHUP end one of our commands as
    Ctrl-C does: its workers stopped, its temp files removed, exit 128 + the signal's number (130, 143, 129).
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    handling = False
    for stream in (sys.stdout, sys.stderr):  # a config may hold "\udc00" (truss loads it): print it escaped
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        if args_list and not args_list[0].startswith("-") and args_list[0] not in _SUBCOMMANDS:
            code = _unknown_command(args_list)
            if code is not None:
                return code
            from truss_instance_plugin.integrations.push import run_truss

            return run_truss(args_list, prog_name="truss-instance")  # `push` and every other truss command
        parser = _build_parser(args_list[0] if args_list and args_list[0] in _SUBCOMMANDS else None)
        try:
            args = parser.parse_args(args_list)
        except SystemExit as e:  # --help, --version
            return e.code if isinstance(e.code, int) else 0
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        func: Callable[[argparse.Namespace, Host], int] = args.func
        if signals:  # only for our commands: truss's handle signals their own way
            stop_on_signals()
            handling = True
        return func(args, begin(get_host(), getattr(args, "catalog_file", None)))
    except UsageError as e:
        _err(str(e))
        return 2
    except (PathError, PluginError, PolicyError, CatalogError) as e:
        _err(str(e))
        return 2
    except OutputError as e:
        _drop_output()
        _err(str(e))
        return 2
    except BrokenPipeError:
        _drop_output()
        return 1
    except Terminated as e:
        return 128 + e.signum
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if os.environ.get("TRUSS_INSTANCE_DEBUG"):
            raise
        _err(f"internal error: {type(e).__name__}: {e} (set TRUSS_INSTANCE_DEBUG=1 for the traceback and please report it)")
        return 2
    finally:
        if handling:  # returned: a signal now has nothing to clean up
            stop_on_signals(False)


def run() -> NoReturn:
    """Run the command line and exit with its code (the console script enters through __main__.run)."""
    exit_now(_flushed(main(signals=True)))


def _flushed(code: int) -> int:
    """The exit code once standard output is flushed: 2 with one line when it cannot be (a full disk), 1 when its reader
    left (`| head`). What is left of it is then dropped, so that no later flush fails again."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _drop_output()
        return code or 1
    except OSError as e:
        _drop_output()
        _err(f"cannot write to standard output: {e.strerror or e}")
        return 2
    return code


def _drop_output() -> None:
    """Point standard output at /dev/null: what it still buffers is lost anyway, and flushing it again must not fail."""
    import contextlib

    with contextlib.suppress(OSError, ValueError):  # ValueError: no file descriptor (stdout replaced or closed)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


def exit_now(code: int) -> NoReturn:
    """sys.exit(code), skipping the interpreter's teardown when only this package's code ran (mypy exits so too).

    Teardown frees every object one by one after a last full collection: a tenth of a second after 10,000 models,
    for nothing. atexit handlers still run. Not with `threading` imported (a thread may still be running) nor with
    `pluggy` (a plugin may rely on teardown, e.g. to flush a file it never closed); truss imports both.
    """
    import atexit
    import contextlib

    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is None or "threading" in sys.modules or "pluggy" in sys.modules:
        sys.exit(_flushed(code))
    run_exitfuncs()
    code = _flushed(code)
    with contextlib.suppress(OSError):  # nowhere left to say it
        sys.stderr.flush()
    os._exit(code)
