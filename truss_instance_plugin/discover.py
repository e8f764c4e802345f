"""Which files are models: one rule, the drivers that apply it, and which lockfile belongs to which.

The rule, for check, lock, explain, adopt, diff (in the work tree and at a commit), the pre-commit hooks and the
push guard alike. A walk enters every folder except hidden ones (".name"), node_modules and __pycache__, a folder named
config.yaml, a virtualenv (a folder holding a pyvenv.cfg file) and a truss's code (the model/ folder beside a
config.yaml). In each folder it enters:
- config.yaml is a model when it is a truss's: a model/ folder or a truss-instance.lock beside it, or a top-level key
  only truss configs have (in its first 64 KiB; one that cannot be read counts, and its check says why). A truss inside
  another truss's folder is a model too; another tool's config.yaml is none, and hides nothing;
- NAME.yaml (or NAME.yml) is a model when its lockfile, truss-instance.NAME.lock, is beside it;
- a .py file is a chain file when it mentions truss_chains and no truss's folder holds it (a truss's Python files are
  its code), less the modules another chain file imports (their chainlets are read there).
A symbolic link is neither a file nor a folder to a walk, as in a git tree: never followed, never a model.

What is named is taken as named: a PATH's own config.yaml (or a file PATH) is checked as is. pre-commit's file names
stand for what a walk of the repository finds for them: a config the walk finds, a lockfile's config, a chain file or
the chain files that import it.

`walk` is the rule; its drivers answer its questions (list a folder, does a config.yaml have truss keys, does a .py
file mention truss_chains): the file system for PATH arguments and the hooks, a git file list for `diff`.
Nothing here parses YAML or runs a model.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
from collections.abc import Callable, Collection, Iterable, Sequence, Set

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.config import CONFIG_NAME, MAX_CHAIN_BYTES, basename, dirname, join, read_bounded
from truss_instance_plugin.errors import PathError

if TYPE_CHECKING:
    from truss_instance_plugin.chains.files import Files

# Lockfiles -----------------------------------------------------------------------------------------------------------

LOCK_NAME = "truss-instance.lock"


def lock_path(config_path: str) -> str:
    """truss-instance.lock beside config.yaml; truss-instance.NAME.lock beside NAME.yaml (and a chain file NAME.py)."""
    folder, name = dirname(config_path), basename(config_path)
    return join(folder, LOCK_NAME if name == "config.yaml" else f"truss-instance.{name.rsplit('.', 1)[0]}.lock")


_SIZES_EXT = ".sizes.json"  # truss-instance.sizes.json: the fit check's model sizes (core/sizes.py)
_CONFIG_EXTS = (".yaml", ".yml", ".py")  # what a named lockfile's config may be: NAME.yaml, NAME.yml, a chain file NAME.py


def config_for_lock(path: str, exists: Callable[[str], bool] = os.path.exists) -> str | None:
    """The config file a lockfile or a sizes file belongs to (None when `path` is neither name); `exists` looks in a
    git tree. truss-instance[.NAME].sizes.json sits beside its config as truss-instance[.NAME].lock does."""
    folder, name = os.path.split(path)
    if name.endswith(_SIZES_EXT):
        name = name[: -len(_SIZES_EXT)] + ".lock"
    if name == LOCK_NAME:
        return os.path.join(folder, "config.yaml")
    stem = name[len("truss-instance.") : -len(".lock")]  # truss-instance.NAME.lock
    if not (name.startswith("truss-instance.") and name.endswith(".lock") and stem and "\n" not in stem):
        return None
    found = [c for c in (os.path.join(folder, stem + ext) for ext in _CONFIG_EXTS) if os.path.basename(c) != "config.yaml"]
    return next((c for c in found if exists(c)), found[0])


def lock_sharers(config_path: str, files: Files | None = None) -> list[str]:
    """Other files in the folder whose lockfile would be this config's (NAME.yaml beside NAME.yml or a chain NAME.py):
    on disk, or in `files` (a commit's)."""
    name = basename(config_path)
    if name == "config.yaml":
        return []
    folder = dirname(config_path)
    stem = name.rsplit(".", 1)[0]
    others = [os.path.join(folder, stem + ext) for ext in _CONFIG_EXTS if stem + ext not in (name, "config.yaml")]
    if files is not None:
        return [o for o in others if files.isfile(o) and (not o.endswith(".py") or mentions_chains(files.read(o, MAX_CHAIN_BYTES)))]
    return [o for o in others if os.path.isfile(o) and (not o.endswith(".py") or is_chain_file(o))]


# The rule ------------------------------------------------------------------------------------------------------------

SKIP_DIRS = frozenset({"node_modules", "__pycache__"})  # and hidden folders, virtualenvs and a truss's model/ folder
VENV_MARK = "pyvenv.cfg"  # a folder holding this file is a virtualenv, whatever its name
MODEL_DIR = "model"  # beside a config.yaml: the truss's code (and it makes that config.yaml a truss's)

Scan = Callable[[str], "tuple[Collection[str], Collection[str]]"]  # a folder -> (its files' names, its subfolders')


class Walk(NamedTuple):
    """What a walk found below its top folder."""

    found: list[str]  # models and chain files: each folder's in sorted order (config.yaml first), then its subfolders'
    others: list[str]  # config.yaml files that are no truss's (another tool's)
    odd: list[str]  # folders named config.yaml
    errors: list[OSError]  # folders that could not be listed


def walk(
    top: str,
    prefix: str,
    scan: Scan,
    keys: Callable[[str], bool],
    chain: Callable[[str], bool] | None = None,
    sep: str = "/",
    named: bool = False,
    only: Set[str] | None = None,
) -> Walk:
    """The rule (see the module's docstring), depth first in sorted order from `top`, whose paths start with `prefix`.

    `scan` lists a folder (symbolic links left out), `keys` tells whether a config.yaml without a model/ folder or a
    lock beside it has truss keys, `chain` whether a .py file mentions truss_chains (None: no chain files). `named`:
    the top folder has a config.yaml, a model whatever it is (PATH named it), yet a truss's folder only by the rule.
    `only`: enter no folder but these."""
    found: list[str] = []
    others: list[str] = []
    odd: list[str] = []
    errors: list[OSError] = []
    folders = [(top, prefix, False)]  # a folder, its path ending in a separator, and whether a truss's folder holds it
    first = True
    while folders:
        root, prefix, inside = folders.pop()
        try:
            files, dirs = scan(root)
        except OSError as e:
            errors.append(e)  # an unreadable folder may hold a model: never skip it silently
            continue
        if VENV_MARK in files and not first:
            continue  # a virtualenv
        code = False  # whether model/ is this truss's code (not entered)
        if CONFIG_NAME in files:
            code = MODEL_DIR in dirs
            if code or LOCK_NAME in files or keys(prefix + CONFIG_NAME):
                found.append(prefix + CONFIG_NAME)
                inside = True
            elif named and first:
                found.append(prefix + CONFIG_NAME)  # PATH names it, but by the rule it makes no truss's folder
            else:
                others.append(prefix + CONFIG_NAME)
        elif named and first:
            found.append(prefix + CONFIG_NAME)  # PATH names it: a symbolic link
        first = False
        here: list[str] = []
        names: Set[str] | None = None  # the files as a set, once a named lockfile asks (a folder may hold many)
        for name in files:
            if name[-3:] == ".py":
                if chain is not None and not inside and chain(prefix + name):
                    here.append(prefix + name)
            elif name[-5:] == ".lock" and name != LOCK_NAME and name.startswith("truss-instance."):
                names = names if names is not None else set(files)
                beside = config_for_lock(name, names.__contains__)
                if beside is not None and beside in names and beside != CONFIG_NAME and not beside.endswith(".py"):
                    here.append(prefix + beside)  # NAME.yaml beside its lock
        if here:
            found += sorted(here)
        if not dirs or (code and len(dirs) == 1):
            continue  # no subfolder, or only the truss's model/
        subfolders: list[str] = []
        for name in dirs:
            if name == CONFIG_NAME:
                odd.append(prefix + name)
            elif not (name[0] == "." or name in SKIP_DIRS or (code and name == MODEL_DIR)):
                subfolders.append(name)
        if only is not None:
            subfolders = [d for d in subfolders if prefix + d in only]
        folders += [(full, full + sep, inside) for d in sorted(subfolders, reverse=True) for full in (prefix + d,)]
    return Walk(found, others, odd, errors)


# The file system -----------------------------------------------------------------------------------------------------


def scan_folder(folder: str) -> tuple[list[str], list[str]]:
    """A folder's files and subfolders, without its symbolic links; an entry that cannot be examined is a file."""
    files: list[str] = []
    dirs: list[str] = []
    with os.scandir(folder) as listing:
        for entry in listing:
            try:
                if entry.is_dir(follow_symlinks=False):
                    dirs.append(entry.name)
                    continue
                if entry.is_symlink():
                    continue
            except OSError:
                pass
            files.append(entry.name)
    return files, dirs


def has_keys_on_disk(config: str) -> bool:
    """Whether a config.yaml has a truss key in its first 64 KiB; one that cannot be read counts (its check says why)."""
    try:
        head = read_bounded(config, 1 << 16)
    except OSError:
        return True  # let the loader report it (a FIFO, a device, no permission)
    return has_truss_keys(head.decode("utf-8-sig", "replace"))


def _entry_kind(path: str) -> str | None:
    """ "file" or "dir" for what `path` names (symlinks followed; a dangling one is a file); "" when there is nothing
    there; None when it cannot be told."""
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


def walk_folder(path: str, chains: bool = False, only: Set[str] | None = None, named: bool = True) -> Walk:
    """The rule on the file system below the folder `path` (named: its own config.yaml, even a link, is a model)."""
    top_config = named and _entry_kind(os.path.join(path, CONFIG_NAME)) == "file"
    got = walk(path, os.path.join(path, ""), scan_folder, has_keys_on_disk, is_chain_file if chains else None, os.sep, top_config, only)
    if got.errors:  # a virtualenv that cannot be listed is still a virtualenv
        got.errors[:] = [e for e in got.errors if e.filename == path or not os.path.isfile(os.path.join(str(e.filename), VENV_MARK))]
    return got


def holds_truss(folder: str) -> bool:
    """Whether `folder`'s own config.yaml is a truss's by the rule (what `explain` takes for `.`); nothing below it."""
    return bool(walk_folder(folder, only=frozenset(), named=False).found)


def find_configs(path: str, chains: bool = False, quiet: bool = False) -> list[str]:
    """The models PATH names: a file itself; for a directory, what a walk finds below it (its own config.yaml first).

    With `chains`, a walk also yields chain files (before `chain_roots` drops the modules among them); `quiet`: no
    error for a tree whose config.yaml files are all other tools'."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        if os.path.exists(path):
            raise PathError(f"{path}: not a regular file or directory")
        raise PathError(f"{path}: no such file or directory")
    if os.path.basename(os.path.normpath(path)) == CONFIG_NAME:
        raise PathError(f"{path}: is a directory, not a config file")
    return walked(path, walk_folder(path, chains), quiet)


def walked(path: str, got: Walk, quiet: bool = False) -> list[str]:
    """A walk's models, or a PathError: a folder it could not read, or nothing found (`quiet`: no error for a tree
    whose config.yaml files are all other tools')."""
    unreadable(got)
    if not got.found and not got.others and got.odd:  # directories called config.yaml
        raise PathError(f"{got.odd[0]}: is a directory, not a config file")
    if not got.found and not got.others:
        raise PathError(
            f"{path}: no {CONFIG_NAME} in this directory or below (hidden directories, virtualenvs and node_modules are skipped)"
        )
    if not got.found and not quiet:
        raise PathError(f"{path}: no truss below (the config.yaml files here have no model/ folder, no lock and no truss keys)")
    return got.found


def unreadable(got: Walk) -> None:
    """PathError for the first folder a walk could not list: it may hold a model, so it is never skipped silently."""
    if got.errors:
        raise PathError(f"{got.errors[0].filename}: cannot read this folder: {got.errors[0].strerror}")


# Chain files ---------------------------------------------------------------------------------------------------------

CHAIN_MARK = b"truss_chains"  # a chain or Python-file model imports it; cheaper than parsing every .py file


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


def _importers(paths: Sequence[str], files: Files | None) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each .py file's key, and for a key, the .py files in `paths` that import it as a local module (and that it does
    not import back: two modules that import each other are both read)."""
    from truss_instance_plugin.chains.files import Files, local_imports  # noqa: PLC0415 (ast: only when several chain files are found)

    files = files if files is not None else Files(None)
    key = {p: files.key(p) for p in paths if p.endswith(".py")}
    imports = {key[p]: local_imports(p, files) for p in key}
    importers: dict[str, list[str]] = {}
    for p, k in key.items():
        for q in sorted(imports[k]):
            if q in imports and k not in imports[q]:
                importers.setdefault(q, []).append(p)
    return key, importers


def chain_roots(paths: list[str], files: Files | None = None) -> list[str]:
    """Drop the .py files that another .py file in `paths` imports as a local module (its chainlets are read there)."""
    key, importers = _importers(paths, files)
    return [p for p in paths if not p.endswith(".py") or key[p] not in importers]


def chain_owners(paths: list[str], wanted: Iterable[str]) -> dict[str, list[str]]:
    """For each of the `wanted` .py files in `paths`, the chain files among `paths` that read its chainlets: itself,
    unless another imports it; then the chain files that import it, directly or through others."""
    key, importers = _importers(paths, None)
    owners: dict[str, list[str]] = {}
    for p in wanted:
        seen, todo, got = {key[p]}, [p], dict[str, None]()
        while todo:  # up the imports, to the files nothing imports
            q = todo.pop()
            if key[q] not in importers:
                got[q] = None
                continue
            for r in importers[key[q]]:
                if key[r] not in seen:
                    seen.add(key[r])
                    todo.append(r)
        owners[p] = [q for q in paths if q in got]
    return owners


# PATH arguments and pre-commit's file names --------------------------------------------------------------------------

_TRUSS_KEYS = r"(?m)^(model_name|resources|python_version|docker_server|trt_llm|model_class_name|model_cache|base_image|model_metadata)\s*:"


def has_truss_keys(text: str) -> bool:
    """Whether a config.yaml's text has a top-level key only truss configs have (compiled on first use)."""
    return re.search(_TRUSS_KEYS, text) is not None


def collect_configs(paths: Sequence[str], hook: bool = False, chains: bool = False) -> list[str]:
    """The models for PATH arguments (files, truss dirs, trees, lockfiles), each once, in order.

    A named file is checked as is (a lockfile: its config); a directory is walked (its own config.yaml is named). With
    `hook`, the file names are pre-commit's: each stands for what a walk of the current folder finds for it, and one
    that is no model is skipped silently. With `chains`, chain files (.py) too."""
    out: dict[str, None] = {}  # ordered and de-duplicated
    given = list(paths or ["."])
    hooked = _hook_units([p for p in given if not os.path.isdir(p)], chains) if hook else {}
    for p in given:
        if hook and p in hooked:
            out.update(dict.fromkeys(hooked[p]))
            continue
        config = config_for_lock(p)
        if config is not None:
            if not os.path.isfile(config):
                raise PathError(f"{p}: lockfile without {os.path.basename(config)} beside it")
            p = config
        found = find_configs(p, chains, quiet=hook)
        if chains and len(found) > 1 and sum(c.endswith(".py") for c in found) > 1:
            found = chain_roots(found)
        out.update(dict.fromkeys(map(_normpath_below(p), found)))  # "./m/config.yaml" -> "m/config.yaml"
    return _each_once(list(out)) if len(given) > 1 else list(out)  # one PATH: a walk follows no symlink, so no repeats


def _hook_units(paths: Sequence[str], chains: bool) -> dict[str, list[str]]:
    """What each file name pre-commit passes stands for: what a walk of the current folder finds for it (one walk,
    entering only the folders on the way to the files): itself, when the walk finds it; a lockfile's config; for a
    module of a chain, the chain files that import it. A lockfile without its config stands for nothing; a file
    outside the current folder is walked from its own."""
    targets: dict[str, str] = {}  # given name -> the file it stands for, normalized
    for p in paths:
        config = config_for_lock(p)
        if config is not None and not os.path.isfile(config):
            targets[p] = ""
            continue
        find_configs(config or p)  # a missing path, or one that is no regular file: the error a PATH gets
        targets[p] = os.path.normpath(config or p)
    tops: dict[str, set[str]] = {}  # the folder walked from -> the folders it enters
    for t in filter(None, targets.values()):
        folder = os.path.dirname(t)
        below = not (os.path.isabs(t) or t == os.pardir or t.startswith(os.pardir + os.sep))
        top, parts = (os.curdir, folder.split(os.sep) if folder else []) if below else (folder or os.curdir, [])
        tops.setdefault(top, set()).update(os.path.join(top, *parts[: i + 1]) for i in range(len(parts)))
    units: list[str] = []
    for top, enter in tops.items():
        got = walk_folder(top, chains, only=enter, named=False)
        unreadable(got)
        units += [os.path.normpath(f) for f in got.found]
    found = set(units)
    py = [u for u in units if u.endswith(".py")]
    wanted = {t for t in targets.values() if t in found and t.endswith(".py")}
    owners = chain_owners(py, wanted) if len(py) > 1 else {t: [t] for t in wanted}
    return {p: owners.get(t, [t]) if t in found else [] for p, t in targets.items()}


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


# Git trees -----------------------------------------------------------------------------------------------------------


def posix(path: str) -> str:
    """A path with "/" separators (as git names files)."""
    return path.replace(os.sep, "/")


def tree_scan(files: Iterable[str]) -> Scan:
    """A Scan of a git file list (POSIX paths relative to the top, ""): each folder's files and subfolders."""
    folders: dict[str, tuple[set[str], set[str]]] = {"": (set(), set())}
    for path in files:
        folder, _, name = path.rpartition("/")
        node = folders.get(folder)
        if node is None:
            node = folders[folder] = (set(), set())
            while folder:  # register it in its parent, and that one in its own, up to the first already known
                parent, _, sub = folder.rpartition("/")
                known = folders.get(parent)
                if known is not None:
                    known[1].add(sub)
                    break
                folders[parent] = (set(), {sub})
                folder = parent
        node[0].add(name)
    empty: tuple[set[str], set[str]] = (set(), set())
    return lambda folder: folders.get(folder, empty)


class Candidate(NamedTuple):
    """A model or chain file in a git file list, and its lockfile when there is one."""

    config: str
    lock: str | None


def candidates(files: Collection[str], chains: Collection[str] = (), keys: Callable[[str], bool] | None = None) -> list[Candidate]:
    """The rule on a git file list (the files of a commit, or of the work tree as git lists it), in sorted order.

    `chains`: the .py files that may mention truss_chains (`git grep` finds them); `keys`: whether a config.yaml (one
    without a model/ folder or a lock beside it) has truss keys, from its text (None: every config.yaml counts)."""
    present = files if isinstance(files, (set, frozenset, dict)) else set(files)
    marked = chains if isinstance(chains, (set, frozenset, dict)) else set(chains)
    got = walk("", "", tree_scan(present), keys or (lambda config: True), marked.__contains__)
    out: list[Candidate] = []
    for config in sorted(got.found):
        lock = posix(lock_path(config))
        out.append(Candidate(config, lock if lock in present else None))
    return out


def undecided(files: Collection[str]) -> list[str]:
    """The config.yaml files of a git file list whose text `candidates` asks about (to read them all at once)."""
    asked: list[str] = []

    def ask(config: str) -> bool:
        asked.append(config)
        return True

    walk("", "", tree_scan(files), ask)
    return asked


def looks_like_truss_text(data: bytes) -> bool:
    """Whether a config.yaml's bytes (from a git tree) have a key only truss configs have."""
    return has_truss_keys(data[: 1 << 16].decode("utf-8-sig", "replace"))
