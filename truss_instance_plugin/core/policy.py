"""Built-in policy from `[tool.truss-instance]` in the nearest pyproject.toml up the tree.

```toml
[tool.truss-instance]
max-usd-per-hour = 5                           # TI200: the chosen type (× nodes) costs more
allowed-accelerators = ["A10G", "L4", "H100"]  # TI201: a GPU type not in the list ([] = CPU only)
denied-instance-types = ["H100:8"]             # TI202: one of these types was chosen
require-lock = true                            # TI203: no truss-instance.lock beside the config
catalog = "baseten-catalog.json"               # the catalog snapshot to use (relative to this file)
ignore = ["TI023"]                             # findings of these codes are suppressed (core/suppress.py)
per-file-ignores = {"models/legacy/**" = ["TI101"]}  # ... in the files these globs match (relative to this file)
```

The nearest pyproject.toml above a config decides: a project root without the table ends the
search (a nested project is not governed by an outer one's policy). A malformed table raises
PolicyError (exit 2) whether or not the model would violate it.
"""

from __future__ import annotations

import functools
import os
import re
from decimal import Decimal

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.catalog import plausible, round_half_up
from truss_instance_plugin.config import basename, dirname, exists, is_dir, join, read_bounded
from truss_instance_plugin.diagnostics import CODES, ERROR, FATAL_CODES, UNSUPPRESSIBLE, Diagnostic, clip
from truss_instance_plugin.discover import lock_path
from truss_instance_plugin.errors import PolicyError
from truss_instance_plugin.request import did_you_mean

if TYPE_CHECKING:
    from truss_instance_plugin.model import Model

TABLE = "[tool.truss-instance]"
KEYS = ("max-usd-per-hour", "allowed-accelerators", "denied-instance-types", "require-lock", "catalog", "ignore", "per-file-ignores")
MAX_PYPROJECT_BYTES = 1 << 20
MAX_IGNORES = 1024  # codes in `ignore`, globs in `per-file-ignores`, codes per glob
MAX_GLOB = 1024  # characters in a glob


class Policy(NamedTuple):
    """A validated policy table and the pyproject.toml it came from."""

    source: str  # the pyproject.toml (absolute once found by find_policy)
    max_usd_per_hour: Decimal | None = None
    allowed_accelerators: tuple[str, ...] | None = None  # None: any accelerator
    denied_instance_types: tuple[str, ...] = ()
    require_lock: bool = False
    catalog: str | None = None  # a catalog snapshot, relative to `source`
    ignore: frozenset[str] = frozenset()  # codes suppressed in every file this policy governs
    per_file_ignores: tuple[tuple[str, frozenset[str]], ...] = ()  # (glob relative to `source`'s folder, codes)


def _display(path: str) -> str:
    """`path` relative to the working directory when it is below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if rel.startswith("..") else rel


def _shown(value: object) -> str:
    """A policy value as a message quotes it: TOML's spelling for numbers, Python's for the rest, shortened."""
    if isinstance(value, Decimal):
        return "nan" if value.is_nan() else ("-inf" if value < 0 else "inf") if value.is_infinite() else clip(str(value))
    try:
        return clip(repr(value))
    except RecursionError:  # a list nested almost as deep as the TOML reader goes
        return "a value nested too deeply to show"


def _strings(source: str, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and plausible(v.strip()) for v in value):
        raise PolicyError(f'{source}: {TABLE} {key} must be a list of names, like ["A10G", "L4"]; got {_shown(value)}')
    return tuple(v.strip() for v in value)


_OTHER_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,31}")  # a plugin's code (ORG001, NOA10G)


def code_problem(code: str) -> str | None:
    """Why `code` cannot be suppressed (None: it can): a TI code that does not exist, one no suppression hides (unreadable
    input, our own failure), or no code at all. Another upper-case code (ORG001) is a plugin's."""
    if code in UNSUPPRESSIBLE:
        why = "the input cannot be read (exit 2)" if code in FATAL_CODES else "truss-instance itself failed; please report it"
        return f"{code} cannot be suppressed: it means {why}"
    if code in CODES:
        return None
    if re.fullmatch(r"TI\d*", code, re.IGNORECASE) or code.upper() in CODES:
        guess = _guess(code.upper())
        return f'"{clip(code, 40)}" is not a truss-instance code' + (f' (did you mean "{guess}"?)' if guess else "")
    if _OTHER_CODE.fullmatch(code):
        return None
    return f'"{clip(code, 40)}" is not a code, like TI023 (or a plugin\'s, like ORG001)'


@functools.lru_cache(maxsize=2048)  # a hostile file may name thousands of codes: each guess once (at most 1000 are made)
def _guess(code: str) -> str | None:
    """The code an upper-case `TI…` not in CODES was meant to be: TI23 → TI023, else the closest of five characters."""
    digits = code[2:]
    padded = f"TI{digits:0>3}" if digits.isascii() and digits.isdigit() and len(digits) < 3 else ""
    if padded in CODES:
        return padded
    return did_you_mean(code, tuple(c for c in CODES if c not in UNSUPPRESSIBLE)) if len(code) == 5 else None


def _codes(source: str, key: str, value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > MAX_IGNORES:
        raise PolicyError(f'{source}: {TABLE} {key} must be a list of finding codes, like ["TI023"]; got {_shown(value)}')
    for code in value:
        problem = code_problem(code)
        if problem:
            raise PolicyError(f"{source}: {TABLE} {key}: {problem}")
    return frozenset(value)


def _globs(source: str, value: object) -> tuple[tuple[str, frozenset[str]], ...]:
    if not isinstance(value, dict) or len(value) > MAX_IGNORES:
        example = '{"models/legacy/**" = ["TI023"]}'
        raise PolicyError(f"{source}: {TABLE} per-file-ignores must be a table of globs and codes, like {example}; got {_shown(value)}")
    out = []
    for glob, codes in value.items():
        pattern = glob.removeprefix("./").rstrip("/")
        parts = pattern.split("/")
        if not pattern or len(glob) > MAX_GLOB or not glob.isprintable() or glob.startswith("/") or ".." in parts or "" in parts:
            why = 'a glob relative to this pyproject.toml\'s folder, like "models/**" or "config.yaml"'
            raise PolicyError(f"{source}: {TABLE} per-file-ignores: {_shown(glob)} is not {why}")
        out.append((pattern, _codes(source, f"per-file-ignores {_shown(glob)}", codes)))
    return tuple(out)


def _usd_limit(value: object) -> Decimal | None:
    """An hourly limit as an exact Decimal: finite, ≥ 0, below 10^15 and with at most 30 decimal places; else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    if isinstance(value, int) and not 0 <= value < 10**15:  # before any conversion: an int may have 4,000 digits
        return None
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not amount.is_finite() or amount < 0:
        return None
    places = amount.as_tuple().exponent
    assert isinstance(places, int)  # a finite Decimal's
    return None if amount and (amount.adjusted() >= 15 or places < -30) else amount


def _toml_float(text: str) -> Decimal:
    """A TOML float, exactly (float() would round 0.1 and overflow past 1e308); a ValueError for an absurd exponent."""
    try:
        return Decimal(text)
    except ArithmeticError:  # an exponent past what Decimal can hold
        raise ValueError(text) from None


def parse_policy(table: object, source: str) -> Policy:
    """Validate a [tool.truss-instance] table; PolicyError names the file, the key and the value."""
    if not isinstance(table, dict):
        raise PolicyError(f"{source}: {TABLE} must be a table, not {type(table).__name__}")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        guesses = [g for g in (did_you_mean(k, KEYS) for k in unknown) if g]
        hint = f' (did you mean "{guesses[0]}"?)' if len(unknown) == 1 and guesses else ""
        raise PolicyError(f"{source}: unknown key(s) in {TABLE}: {', '.join(unknown)}{hint}; known: {', '.join(KEYS)}")
    policy = Policy(source)
    if "max-usd-per-hour" in table:
        limit = table["max-usd-per-hour"]
        amount = _usd_limit(limit)
        if amount is None:
            raise PolicyError(f"{source}: {TABLE} max-usd-per-hour must be a number of US dollars ≥ 0, like 5 or 2.5; got {_shown(limit)}")
        policy = policy._replace(max_usd_per_hour=amount)
    if "allowed-accelerators" in table:
        policy = policy._replace(allowed_accelerators=_strings(source, "allowed-accelerators", table["allowed-accelerators"]))
    if "denied-instance-types" in table:
        policy = policy._replace(denied_instance_types=_strings(source, "denied-instance-types", table["denied-instance-types"]))
    if "require-lock" in table:
        required = table["require-lock"]
        if not isinstance(required, bool):
            raise PolicyError(f"{source}: {TABLE} require-lock must be true or false; got {_shown(required)}")
        policy = policy._replace(require_lock=required)
    if "catalog" in table:
        path = table["catalog"]
        if not isinstance(path, str) or not path.strip() or len(path) > 1024 or not path.isprintable():  # no NUL: os refuses it
            raise PolicyError(f'{source}: {TABLE} catalog must be a catalog snapshot path, like "baseten-catalog.json"; got {_shown(path)}')
        policy = policy._replace(catalog=path)
    if "ignore" in table:
        policy = policy._replace(ignore=_codes(source, "ignore", table["ignore"]))
    if "per-file-ignores" in table:
        policy = policy._replace(per_file_ignores=_globs(source, table["per-file-ignores"]))
    return policy


@functools.lru_cache(maxsize=64)
def _read(path: str, mtime_ns: int, size: int) -> Policy | None:
    """The policy in one pyproject.toml (cached per path and version of the file)."""
    source = _display(path)
    try:
        raw = read_bounded(path, MAX_PYPROJECT_BYTES)  # a FIFO or a device is an error here, never a hang
    except OSError as e:
        raise PolicyError(f"{source}: cannot read it: {e.strerror or e}") from None
    if len(raw) > MAX_PYPROJECT_BYTES:
        raise PolicyError(f"{source}: larger than {MAX_PYPROJECT_BYTES >> 20} MiB; not read")
    if b"truss-instance" not in raw:  # no table for us: skip parsing TOML (tomllib is a visible part of a check)
        return None
    import tomllib  # noqa: PLC0415 (tomllib: only for a pyproject.toml that mentions truss-instance)

    try:
        data = tomllib.loads(raw.decode("utf-8"), parse_float=_toml_float)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise PolicyError(f"{source}: not valid TOML: {e}") from None
    except ValueError:  # an int of 4,300+ digits (int() refuses it), an exponent past Decimal's
        raise PolicyError(f"{source}: not valid TOML for truss-instance: a number with too many digits or too large an exponent") from None
    except RecursionError:
        raise PolicyError(f"{source}: not valid TOML for truss-instance: arrays or tables nested too deeply") from None
    tool = data.get("tool")
    if not isinstance(tool, dict) or "truss-instance" not in tool:
        return None
    return parse_policy(tool["truss-instance"], source)._replace(source=path)


def policy_name(path: str) -> str:
    """How to show the pyproject.toml a policy came from (relative to the working directory when below it)."""
    return _display(path)


_NEAREST: dict[str, str | None] = {}  # folder -> its nearest pyproject.toml, for one command (cli.main clears it)
_POLICIES: dict[str, Policy | None] = {}  # pyproject.toml -> its policy, for one command


def clear_cache() -> None:
    """Forget the pyproject.toml search results (each command starts afresh)."""
    _NEAREST.clear()
    _POLICIES.clear()


def _nearest_pyproject(folder: str) -> str | None:
    """The nearest pyproject.toml (an absolute path) at or above `folder`, never above the repository root (the folder
    with .git). `folder` is climbed as given, down to "", "." or ".." (then from its absolute path): a tree's
    models then cost no getcwd() each, and their parent's answer is found under the name it was stored with."""
    climbed: list[str] = []  # folders answered by the same search (siblings then share their parent's answer)
    found: str | None = None
    while folder not in _NEAREST:
        if not folder or basename(folder) in (os.curdir, os.pardir):
            folder = os.path.abspath(folder)  # where a path stops climbing as text
            continue
        climbed.append(folder)
        path = join(folder, "pyproject.toml")
        if exists(path) and not is_dir(path):  # most folders have none: one cheap test; a FIFO or device is read (refused)
            found = os.path.abspath(path)
            break
        if exists(join(folder, ".git")):  # an outer project's policy does not govern this repository
            break
        parent = dirname(folder)
        if parent == folder:
            break
        folder = parent
    else:
        found = _NEAREST[folder]
    _NEAREST.update(dict.fromkeys(climbed, found))
    return found


def find_policy(config_path: str) -> Policy | None:
    """The policy of the nearest pyproject.toml above a config file (None: no table there)."""
    path = _nearest_pyproject(dirname(config_path))
    if path is None:
        return None
    if path not in _POLICIES:  # read once per command
        try:
            st = os.stat(path)
        except OSError as e:
            raise PolicyError(f"{_display(path)}: cannot read it: {e.strerror or e}") from None
        _POLICIES[path] = _read(path, st.st_mtime_ns, st.st_size)
    return _POLICIES[path]


def catalog_setting(config_path: str) -> tuple[str, str] | None:
    """The catalog snapshot the nearest [tool.truss-instance] names for a config, and where it is named; or None."""
    policy = find_policy(config_path)
    if policy is None or policy.catalog is None:
        return None
    return _display(os.path.join(os.path.dirname(policy.source), policy.catalog)), f"`catalog` in {_display(policy.source)}"


def _usd(amount: Decimal) -> str:
    """Exact and short: 1.2072, 10, 0.5."""
    return format(amount.normalize(), "f")


def policy_diagnostics(model: Model) -> list[Diagnostic]:
    """Violations of the project's policy, positioned in config.yaml."""
    if not model.path:
        return []
    policy = find_policy(model.path)
    res = model.resolution
    if policy is None or res is None or res.chosen is None:
        return []
    source, chosen = _display(policy.source), res.chosen
    out: list[Diagnostic] = []
    if policy.max_usd_per_hour is not None:
        hourly = chosen.price_per_hour * res.nodes
        if hourly > policy.max_usd_per_hour:
            line, col = model.position("instance_type", "accelerator", "cpu", "memory")
            nodes = f" ({res.nodes} nodes)" if res.nodes > 1 else ""
            cents = round_half_up(hourly, "0.01")  # money as everywhere; exact only where cents would hide the excess
            over = f"${cents}/h, over" if cents > policy.max_usd_per_hour else f"${_usd(hourly)}/h, just over"
            message = f"{chosen.name}{nodes} costs {over} the ${_usd(policy.max_usd_per_hour)}/h limit"
            hint = f"max-usd-per-hour in {source}; request less, or raise the limit"
            out.append(Diagnostic("TI200", ERROR, message, hint, line, col))
    allowed = policy.allowed_accelerators
    if allowed is not None and chosen.gpu_type is not None and chosen.gpu_type not in allowed:
        line, col = model.position("accelerator", "instance_type")
        hint = f"allowed-accelerators in {source}: {', '.join(allowed) or 'none (CPU only)'}"
        out.append(Diagnostic("TI201", ERROR, f"accelerator {chosen.gpu_type} is not allowed", hint, line, col))
    if chosen.name in policy.denied_instance_types:
        line, col = model.position("instance_type", "accelerator", "cpu", "memory")
        out.append(Diagnostic("TI202", ERROR, f"instance type {chosen.name} is denied", f"denied-instance-types in {source}", line, col))
    if policy.require_lock:
        lock = lock_path(model.path)
        if not os.path.exists(lock):
            line, col = model.position()
            message = f"{os.path.basename(lock)} is required"
            out.append(Diagnostic("TI203", ERROR, message, f"require-lock in {source}; run `truss-instance lock`", line, col))
    return out
