"""A chain's files: where they may be read (the work tree within the repository, or a commit's git objects), each
parsed once with `ast` into the names its statements bind. Nothing is imported or run."""

from __future__ import annotations

import ast
import os
import warnings

from truss_instance_plugin._typing import NamedTuple
from truss_instance_plugin.config import MARK, MAX_CHAIN_BYTES, Comment, LoadedConfig, load_config, read_bounded
from truss_instance_plugin.diagnostics import ERROR, Diagnostic


class Pos(NamedTuple):
    """Where a node is: its file, 1-based line and column (in characters)."""

    file: str
    line: int
    col: int


class Bind(NamedTuple):
    kind: str  # value, class, def, import, from, other
    node: ast.AST
    data: object = None  # import: module name; from: (module, level, name); other: why it is unreadable


class Bindings:
    """Names bound by the statements of a module or class body, in order (straight-line code only)."""

    def __init__(self, body: list[ast.stmt]) -> None:
        self.names: dict[str, list[tuple[int, Bind]]] = {}
        self.stars: list[tuple[int, ast.ImportFrom]] = []
        self.patched: dict[tuple[str, str], ast.AST] = {}  # `Cls.attr = ...` after a class: (class name, attribute) -> where
        for i, stmt in enumerate(body):
            self._stmt(i, stmt)

    def _add(self, name: str, i: int, b: Bind) -> None:
        self.names.setdefault(name, []).append((i, b))

    def _stmt(self, i: int, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                if isinstance(t, ast.Name):
                    self._add(t.id, i, Bind("value", stmt.value))
                elif isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name):
                    self.patched.setdefault((t.value.id, t.attr), t)
                else:
                    self._walk(i, t, "assigned by unpacking")
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            if stmt.value is not None:
                self._add(stmt.target.id, i, Bind("value", stmt.value))
        elif isinstance(stmt, ast.ClassDef):
            self._add(stmt.name, i, Bind("class", stmt))
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            self._add(stmt.name, i, Bind("def", stmt, "a function"))
        elif isinstance(stmt, ast.Import):
            for a in stmt.names:
                name = a.asname or a.name.split(".")[0]
                self._add(name, i, Bind("import", stmt, a.name if a.asname else name))
        elif isinstance(stmt, ast.ImportFrom):
            for a in stmt.names:
                if a.name == "*":
                    self.stars.append((i, stmt))
                else:
                    self._add(a.asname or a.name, i, Bind("from", stmt, (stmt.module or "", stmt.level, a.name)))
        else:
            self._walk(i, stmt)

    def _walk(self, i: int, node: ast.AST, why: str = "assigned inside a block") -> None:
        """Imports inside a block still import; any other name bound in a block (if, try, for, with) is unreadable."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Import | ast.ImportFrom):
                self._stmt(i, sub)
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store | ast.Del):
                self._add(sub.id, i, Bind("other", sub, why))
            elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self._add(sub.name, i, Bind("other", sub, "defined inside a block"))

    def get(self, name: str, before: int | None = None) -> tuple[int, Bind] | None:
        """The last binding of `name` before statement `before` (None: at the end)."""
        found = None
        for i, b in self.names.get(name, ()):
            if before is not None and i >= before:
                break
            found = (i, b)
        return found


class Module:
    """One parsed .py file."""

    def __init__(self, path: str, tree: ast.Module, data: bytes) -> None:
        self.path = path
        self.body = tree.body
        self.data = data
        self.bindings = Bindings(tree.body)
        self._lines: list[str] | None = None
        self._comments: tuple[Comment, ...] | None = None

    def comments(self) -> tuple[Comment, ...]:
        """The file's comments that mention MARK (tokenize's: never a `#` inside a string), read once."""
        if self._comments is None:
            self._comments = ()
            if MARK.encode() in self.data:
                import io  # noqa: PLC0415 (io and tokenize: only for a file with a suppression comment)
                import tokenize  # noqa: PLC0415 (see above)

                text = self.source()
                found = []
                try:
                    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
                        if tok.type == tokenize.COMMENT and MARK in tok.string:
                            found.append(Comment(self.path, tok.start[0], tok.start[1] + 1, tok.string))
                except (tokenize.TokenError, SyntaxError):  # ast parsed it, so this is not expected; its comments are unknown
                    pass
                self._comments = tuple(found)
        return self._comments

    def source(self) -> str:
        """The file's text, decoded as Python decodes it (newlines made \\n)."""
        import importlib.util  # noqa: PLC0415 (only to turn a column into characters, or to read comments)

        return importlib.util.decode_source(self.data)

    def pos(self, node: ast.AST) -> Pos:
        """1-based line and column (in characters; ast counts UTF-8 bytes) of a node."""
        line, off = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
        if self._lines is None:
            self._lines = self.source().split("\n")
        text = self._lines[line - 1] if 0 < line <= len(self._lines) else ""
        return Pos(self.path, line, len(text.encode("utf-8")[:off].decode("utf-8", "replace")) + 1)


def repository_root(folder: str) -> str | None:
    """The repository an absolute `folder` is in, as the policy search bounds it: the nearest folder at or above it
    that holds `.git`; None outside a repository."""
    while not os.path.exists(os.path.join(folder, ".git")):
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
    return folder


def within(path: str, root: str) -> bool:
    """Whether the absolute, normalized `path` is `root` or below it."""
    return path == root or path.startswith(os.path.join(root, ""))


class Files:
    """Where a chain's files are read: the file system, bounded by the repository `root` (a file that leads outside it,
    by its path or through a symbolic link, is not read; no bound when there is no repository). diff reads a commit's
    files through a subclass. Each file is parsed once, however many chain files import it."""

    def __init__(self, root: str | None) -> None:
        self.root = os.path.realpath(root) if root is not None else None
        self.parsed: dict[str, Module | Diagnostic] = {}  # by key(path); a finding as about the chain file itself

    def key(self, path: str) -> str:
        """The same string for every path of one file."""
        return os.path.realpath(path)

    def isfile(self, path: str) -> bool:
        return os.path.isfile(path)

    def read(self, path: str, limit: int) -> bytes:
        """At most `limit` + 1 bytes of the file (OSError when it cannot be read)."""
        return read_bounded(path, limit)

    def outside(self, path: str) -> str | None:
        """Where `path` really is (absolute) when that is outside the repository; None when inside, or no repository."""
        if self.root is None:
            return None
        real = os.path.realpath(path)
        return None if within(real, self.root) else real

    def config(self, path: str) -> LoadedConfig:
        """A truss config (a TrussChainlet's), loaded."""
        return load_config(path)

    def parse(self, path: str, file: str) -> Module | Diagnostic:
        """parse_py, once per file; `file` names it in a finding ("" for the chain file itself)."""
        key = self.key(path)
        got = self.parsed.get(key)
        if got is None:
            got = self.parsed[key] = parse_py(path, "", self)
        return got._replace(file=file) if isinstance(got, Diagnostic) else got


def parse_py(path: str, file: str, files: Files | None = None) -> Module | Diagnostic:
    """Read (from `files`, else the file system) and parse a .py file, bounded; an unreadable one is a fatal finding
    (`file` set for a local module)."""
    try:
        data = files.read(path, MAX_CHAIN_BYTES) if files is not None else read_bounded(path, MAX_CHAIN_BYTES)
    except OSError as e:
        return Diagnostic("TI090", ERROR, f"cannot read: {e.strerror or e}", "", 0, 0, file)
    if len(data) > MAX_CHAIN_BYTES:
        return Diagnostic("TI090", ERROR, f"file is larger than {MAX_CHAIN_BYTES // 1024} KiB; not read", "", 0, 0, file)
    hint = "python cannot import it either; fix the file"
    if b"\0" in data:
        pos = data.index(b"\0")
        line, col = data.count(b"\n", 0, pos) + 1, pos - data.rfind(b"\n", 0, pos)
        return Diagnostic("TI094", ERROR, "invalid Python: contains NUL bytes", hint, line, col, file)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning/DeprecationWarning for odd escapes: not ours to print
            tree = ast.parse(data, filename=path)
    except SyntaxError as e:
        return Diagnostic("TI094", ERROR, f"invalid Python: {e.msg}", hint, e.lineno or 0, e.offset or 0, file)
    except (RecursionError, MemoryError):
        return Diagnostic("TI094", ERROR, "invalid Python: nested too deeply to parse", hint, 0, 0, file)
    except ValueError as e:
        return Diagnostic("TI094", ERROR, f"invalid Python: {e}", hint, 0, 0, file)
    return Module(path, tree, data)


def local_imports(path: str, files: Files | None = None) -> set[str]:
    """The chain's own modules a .py file imports (absolute imports resolved beside it), by files.key."""
    files = files if files is not None else Files(None)
    got = files.parse(path, path)
    if isinstance(got, Diagnostic):
        return set()
    root = os.path.dirname(os.path.abspath(path))
    out: set[str] = set()
    for node in ast.walk(ast.Module(body=got.body, type_ignores=[])):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for n in names:
            rel = os.path.join(root, *n.split("."))
            for cand in (rel + ".py", os.path.join(rel, "__init__.py")):
                if files.isfile(cand):
                    out.add(files.key(cand))
    return out
