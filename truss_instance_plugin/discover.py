"""Which files are models: the folder walk, PATH arguments, git-tree listings, and which lockfile belongs to which.

One rule for every entry point (check, lock, explain, adopt, diff, the pre-commit hooks, the push guard): a truss is a
`config.yaml` with a `model/` folder beside it or a key only truss configs have; a chain file is a `.py` file that
mentions truss_chains; hidden folders, node_modules, __pycache__ and virtualenvs (a folder with pyvenv.cfg) are never
entered. Nothing here parses YAML or runs a model.
"""

from __future__ import annotations

import codecs
import io
import os
import posixpath
import re
import stat
from collections.abc import Callable, Collection, Sequence

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.config import CONFIG_NAME, MAX_CHAIN_BYTES, basename, dirname, exists, is_dir, join, read_bounded
from truss_instance_plugin.errors import PathError

if TYPE_CHECKING:
    from truss_instance_plugin.chains.files import Files

# Lockfiles -----------------------------------------------------------------------------------------------------------

LOCK_NAME = "truss-instance.lock"


def lock_path(config_path: str) -> str:
    """truss-instance.lock beside config.yaml; truss-instance.NAME.lock beside NAME.yaml (and a chain file NAME.py)."""
    folder, name = dirname(config_path), basename(config_path)
    return join(folder, LOCK_NAME if name == "config.yaml" else f"truss-instance.{name.rsplit('.', 1)[0]}.lock")


_CONFIG_EXTS = (".yaml", ".yml", ".py")  # what a named lockfile's config may be: NAME.yaml, NAME.yml, a chain file NAME.py


def config_for_lock(path: str, exists: Callable[[str], bool] = os.path.exists) -> str | None:
    """The config file a lockfile belongs to (None when `path` is not a lockfile name); `exists` looks in a git tree."""
    folder, name = os.path.split(path)
    if name == LOCK_NAME:
        return os.path.join(folder, "config.yaml")
    stem = name[len("truss-instance.") : -len(".lock")]  # truss-instance.NAME.lock
    if not (name.startswith("truss-instance.") and name.endswith(".lock") and stem and "\n" not in stem):
        return None
    found = [c for c in (os.path.join(folder, stem + ext) for ext in _CONFIG_EXTS) if os.path.basename(c) != "config.yaml"]
    return next((c for c in found if exists(c)), found[0])


def lock_sharers(config_path: str) -> list[str]:
    """Other files in the folder whose lockfile would be this config's (NAME.yaml beside NAME.yml or a chain NAME.py)."""
    name = basename(config_path)
    if name == "config.yaml":
        return []
    folder = dirname(config_path)
    stem = name.rsplit(".", 1)[0]
    others = (os.path.join(folder, stem + ext) for ext in _CONFIG_EXTS if stem + ext not in (name, "config.yaml"))
    return [o for o in others if os.path.isfile(o) and (not o.endswith(".py") or is_chain_file(o))]


# The folder walk ----------------------------------------------------------------------------------------------------

SKIP_DIRS = frozenset({"node_modules", "__pycache__"})  # and hidden folders, and virtualenvs (pyvenv.cfg)


CHAIN_MARK = b"truss_chains"  # a chain or Python-file model imports it; cheaper than parsing every .py file


def _skip_dir(name: str, full: str) -> bool:
    return name.startswith(".") or name in SKIP_DIRS or exists(full + os.sep + "pyvenv.cfg")


def _entry_kind(path: str) -> str | None:
    """ "file" or "dir" as os.walk would list `path` (symlinks followed; a dangling one is a file); "" when there is
    nothing there; None when it cannot be told without listing the folder."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return ""
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except OSError:
            return "file"
    return "dir" if stat.S_ISDIR(st.st_mode) else "file"


def _subfolder(entry: os.DirEntry[str]) -> bool | None:
    """True for a folder os.walk would descend into, False for a symlink to one (listed, not followed), None for a file.

    An entry that cannot be examined is a file to is_dir(), and not a symlink to is_symlink() (as os.walk treats it).
    """
    try:
        if not entry.is_dir():
            return None
    except OSError:
        return None
    try:
        return not entry.is_symlink()
    except OSError:
        return True


def mentions_chains(data: bytes) -> bool:
    """Whether a .py file's bytes make it a chain file: truss_chains within its first MAX_CHAIN_BYTES + 1 bytes, as
    Python reads them. A byte check, unless a coding cookie (PEP 263, line 1 or 2) names a codec in which the name can
    be written otherwise (utf-7, unicode_escape...): that file is decoded first, and one that cannot be is a chain file
    (cannot tell; its parse then says why)."""
    if data.find(CHAIN_MARK, 0, MAX_CHAIN_BYTES + 1) >= 0:
        return True
    second = data.find(b"\n", data.find(b"\n") + 1)  # the end of line 2 (-1: the file has fewer lines)
    if data.find(b"coding", 0, second if second >= 0 else len(data)) < 0:
        return False  # no cookie: the bytes are what Python reads
    return _decoded_mentions_chains(data[: MAX_CHAIN_BYTES + 1])


# Codecs (as codecs.lookup names them) in which "truss_chains" has only its ASCII bytes: the byte check is exact.
_PLAIN_CODECS = frozenset({"utf-8", "utf-8-sig", "ascii", "iso8859-1"})


def cookie_may_hide(codec: str) -> bool:
    """Whether a coding cookie naming `codec` may hide truss_chains from a byte check (an unknown codec too)."""
    try:
        return codecs.lookup(codec).name not in _PLAIN_CODECS
    except LookupError:
        return True


def _decoded_mentions_chains(data: bytes) -> bool:
    import tokenize  # noqa: PLC0415 (only for a file with a coding cookie)

    try:
        codec, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return cookie_may_hide(codec) and CHAIN_MARK.decode() in data.decode(codec)
    except (SyntaxError, LookupError, UnicodeError, ValueError):
        return True  # cannot tell: the parse reports the file


def is_chain_file(path: str) -> bool:
    """A .py file that mentions truss_chains (a byte check on at most MAX_CHAIN_BYTES; nothing is parsed)."""
    try:
        return mentions_chains(read_bounded(path, MAX_CHAIN_BYTES))
    except OSError:
        return False


def find_configs(path: str, chains: bool = False) -> list[str]:
    """Config files named by PATH: a file, a truss directory, or every truss below a directory.

    With `chains`, a walk also yields chain files: `.py` files that import truss_chains (outside trusses)."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        if os.path.exists(path):
            raise PathError(f"{path}: not a regular file or directory")
        raise PathError(f"{path}: no such file or directory")
    if os.path.basename(os.path.normpath(path)) == CONFIG_NAME:
        raise PathError(f"{path}: is a directory, not a config file")
    found: list[str] = []
    errors: list[OSError] = []
    odd: list[str] = []  # directories called config.yaml
    # Depth first, in sorted order: what os.walk gives, without listing each truss's own folder. Each folder comes
    # with its path ending in a separator, so that a child's path, os.path.join(root, name), is one concatenation.
    folders = [(path, os.path.join(path, ""))]
    while folders:
        root, prefix = folders.pop()
        config = prefix + CONFIG_NAME
        kind = _entry_kind(config)
        if kind == "file":
            found.append(config)
            continue  # a truss's own subfolders (data/, packages/) are not trusses
        try:
            with os.scandir(root) as listing:
                entries = list(listing)
        except OSError as e:
            errors.append(e)  # an unreadable folder may hold a model: never skip it silently
            continue
        files: list[str] = []
        walk: list[str] = []  # subfolders, not followed when they are symlinks (as os.walk)
        for entry in entries:
            folder = _subfolder(entry)
            if folder is None:
                files.append(entry.name)
            elif entry.name == CONFIG_NAME:
                odd.append(config)
            elif folder:
                walk.append(entry.name)
        if kind is None and CONFIG_NAME in files:  # listed, but not stat-able (a folder without search permission)
            found.append(config)
            continue
        if chains:
            found += [prefix + f for f in sorted(files) if f.endswith(".py") and is_chain_file(prefix + f)]
        folders += [(full, full + os.sep) for d in sorted(walk, reverse=True) if not _skip_dir(d, full := prefix + d)]
    return _walked(path, found, errors, odd)


def _walked(path: str, found: list[str], errors: list[OSError], odd: list[str]) -> list[str]:
    """What a walk of `path` gives: the files it found, or a PathError (a folder it could not read, or nothing found)."""
    if errors:  # an unreadable folder may hold a model: never skip it silently
        raise PathError(f"{errors[0].filename}: cannot read this folder: {errors[0].strerror}")
    if not found and odd:  # directories called config.yaml
        raise PathError(f"{odd[0]}: is a directory, not a config file")
    if not found:
        raise PathError(
            f"{path}: no {CONFIG_NAME} in this directory or below (hidden directories, virtualenvs and node_modules are skipped)"
        )
    return found


# PATH arguments ------------------------------------------------------------------------------------------------------

_TRUSS_KEYS = r"(?m)^(model_name|resources|python_version|docker_server|trt_llm|model_class_name|model_cache|base_image|model_metadata)\s*:"


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


def collect_configs(paths: Sequence[str], hook: bool = False, chains: bool = False) -> list[str]:
    """Config files for PATH arguments (files, truss dirs, trees, lockfiles), each once, in order.

    With `hook` (pre-commit passes file names), lockfiles map to their config and config.yaml
    files of other tools are skipped silently. With `chains`, chain files (.py) too: named ones,
    and those a walk finds, except the modules another chain file found there imports.
    """
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


def chain_roots(paths: list[str], files: Files | None = None) -> list[str]:
    """Drop the .py files that another .py file in `paths` imports as a local module (its chainlets are read there)."""
    from truss_instance_plugin.chains.files import Files, local_imports  # noqa: PLC0415 (ast: only when several chain files are found)

    files = files if files is not None else Files(None)
    imports: dict[str, set[str]] = {}
    for p in paths:
        if p.endswith(".py"):
            imports[files.key(p)] = local_imports(p, files)
    imported = {q for p, qs in imports.items() for q in qs if q in imports and p not in imports.get(q, set())}
    return [p for p in paths if not p.endswith(".py") or files.key(p) not in imported]


# Git trees ------------------------------------------------------------------------------------------------------------


def posix(path: str) -> str:
    """A path with "/" separators (as git names files)."""
    return path.replace(os.sep, "/")


class Candidate(NamedTuple):
    """A config file that may be a unit, and its lockfile when there is one."""

    config: str
    lock: str | None
    sure: bool  # a named config with a lock, a sibling lock, or a model/ folder: a truss without reading it


def candidates(files: Collection[str], chains: Collection[str] = ()) -> list[Candidate]:
    """config.yaml files (not inside another truss), NAME.yaml files with a truss-instance.NAME.lock beside them, and
    the .py files among `chains` (those that mention truss_chains), skipping what config.find_configs skips: hidden
    folders, node_modules, virtualenvs (pyvenv.cfg), ..."""
    present = set(files)
    venvs = {p[: -len("/pyvenv.cfg")] for p in present if p.endswith("/pyvenv.cfg")}
    configs: list[str] = []
    model_dirs: set[str] = set()
    for p in present:
        *dirs, name = p.split("/")
        if any(d.startswith(".") or d in SKIP_DIRS or d == CONFIG_NAME for d in dirs):
            continue
        if venvs and any("/".join(dirs[:i]) in venvs for i in range(1, len(dirs) + 1)):
            continue
        if "model" in dirs:
            model_dirs.update("/".join(dirs[: i + 1]) for i, d in enumerate(dirs) if d == "model")
        if name == CONFIG_NAME or (name.endswith(".py") and p in chains):
            configs.append(p)
        elif name.startswith("truss-instance.") and name.endswith(".lock") and (c := config_for_lock(p, lambda c: posix(c) in present)):
            named = posix(c)
            if named in present and posixpath.basename(named) != CONFIG_NAME:
                configs.append(named)
    trusses = {posixpath.dirname(c) for c in configs if posixpath.basename(c) == CONFIG_NAME}
    out: list[Candidate] = []
    for config in sorted(set(configs)):
        folder = posixpath.dirname(config)
        parents = folder.split("/")[:-1] if folder else []
        if ("" in trusses and folder) or any("/".join(parents[: i + 1]) in trusses for i in range(len(parents))):
            continue  # a truss's own subfolders (data/, packages/) are not trusses
        if config.endswith(".py") and folder in trusses:
            continue  # nor are its Python files: a walk stops at a truss's folder
        lock = posix(lock_path(config))
        has_lock = lock in present
        sure = has_lock or config.endswith(".py") or posixpath.join(folder, "model") in model_dirs
        out.append(Candidate(config, lock if has_lock else None, sure))
    return out


def looks_like_truss_text(data: bytes) -> bool:
    """Whether a config.yaml's bytes (from a git tree) have a key only truss configs have."""
    return has_truss_keys(data[: 1 << 16].decode("utf-8-sig", "replace"))
