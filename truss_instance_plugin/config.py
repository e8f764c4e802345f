"""Finding and loading config.yaml: the `resources` block with a position for every value, and the nodes that name the
model it serves (read by core/engines.py only when there are any)."""

from __future__ import annotations

import functools
import os
import re
import stat
import sys

import yaml

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.diagnostics import ERROR, Diagnostic, clip

if TYPE_CHECKING:
    from collections.abc import Iterator

CONFIG_NAME = "config.yaml"
MAX_CONFIG_BYTES = 1 << 20  # a truss config is a few KiB; refuse to parse a huge file
MAX_CHAIN_BYTES = 1 << 20  # a chain file is a few KiB

YAML_TAG = "tag:yaml.org,2002:"  # the prefix of the standard tags (str, int, map...)
_LAZY = " implicit"  # a plain scalar's tag until tag_of() resolves it (no scanned tag has a space)
_SAFE_TAG_NAMES = ("str", "int", "float", "bool", "null", "map", "seq", "binary", "timestamp", "omap", "pairs", "set", "merge", "value")
_SAFE_TAGS = frozenset([_LAZY, *(YAML_TAG + t for t in _SAFE_TAG_NAMES)])  # implicit tags are all safe ones
_RESOLVER = yaml.resolver.Resolver()


class _LazyTags:
    """Compose without resolving plain scalars' implicit tags (regex matching per scalar was 40% of a compose).

    The safe loader has no path resolvers, so descending and ascending do nothing."""

    def resolve(self, kind: type[yaml.Node], value: object, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            return _LAZY if implicit[0] else YAML_TAG + "str"
        return YAML_TAG + "seq" if kind is yaml.SequenceNode else YAML_TAG + "map"

    def descend_resolver(self, current_node: object, current_index: object) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


if hasattr(yaml, "CSafeLoader"):  # libyaml (PyYAML's wheels include it): its parser, since composing constructs nothing
    from yaml._yaml import CParser

    class _Loader(_LazyTags, CParser):
        pass

else:  # pragma: no cover

    class _Loader(_LazyTags, yaml.SafeLoader):  # type: ignore[no-redef]
        pass


@functools.lru_cache(maxsize=1024)  # "true", "4Gi", "A10G": a tree's plain values repeat
def implicit_tag(text: str) -> str:
    """The tag the safe loader gives `text` written as a plain scalar (str, int, float, bool, null, timestamp, ...)."""
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return tag


def tag_of(node: yaml.Node) -> str:
    """A node's tag, resolving a plain scalar's implicit tag on first use (as the safe loader would have)."""
    if node.tag == _LAZY:
        node.tag = implicit_tag(node.value)
    tag: str = node.tag
    return tag


class Field(NamedTuple):
    """A YAML value with its kind and 1-based positions of the key and the value."""

    value: object  # str/int/float/bool/None for scalars, dict[str, Field] for mappings, list for sequences
    kind: str  # str, int, float, bool, null, map, seq or timestamp/binary/...
    line: int
    col: int
    key_line: int
    key_col: int


class ModelNodes(NamedTuple):
    """The top-level config keys that say which model is served and how (composed nodes, positions in `text`)."""

    text: str  # the config text the nodes' marks index (a token inside a start command is found in it)
    nodes: dict[str, yaml.Node]  # key -> its value's node, for the keys in MODEL_KEYS the file has


MARK = "truss-instance:"  # what a suppression comment says: a file without it has none (one substring search)


class Comment(NamedTuple):
    """A comment that mentions MARK (core/suppress.py reads it): its file, 1-based line and column of its `#`, its text."""

    file: str
    line: int
    col: int
    text: str  # from the `#` to the end of the line


class LoadedConfig(NamedTuple):
    """What we read from one config file."""

    path: str
    resources: Field | None  # None when the file has no `resources` key
    model_name: str | None
    diagnostics: list[Diagnostic]
    trt_llm: bool = False  # a `trt_llm:` section: `truss push` raises memory to 10Gi (and rewrites the file)
    model: ModelNodes | None = None  # None: the config names no model (nothing for the fit check to read)
    comments: tuple[Comment, ...] = ()  # the comments that mention MARK (a chainlet's: in its chain's .py files too)


# The keys core/engines.py reads. A config has "model sources" when one of them can name a model: a start command, a
# trt_llm section, weights or model_cache entries, or model_metadata with a model key (not just example input).
MODEL_KEYS = frozenset(
    {"docker_server", "trt_llm", "weights", "model_cache", "model_metadata", "model_module_dir", "model_class_filename",
     "base_image", "requirements"}
)  # fmt: skip
METADATA_MODEL_KEYS = frozenset(
    {"repo_id", "model", "llm_model", "engine_args", "vllm_config", "tensor_parallel", "tensor_parallelism",
     "tensor_parallel_size"}
)  # fmt: skip


def _model_nodes(text: str, found: dict[str, yaml.Node]) -> ModelNodes | None:
    """The model nodes, or None when none of them can name a model (no node is converted: a few key lookups)."""
    for name, node in found.items():
        if name == "docker_server" or name == "model_metadata":
            if isinstance(node, yaml.MappingNode):
                wanted = _START if name == "docker_server" else METADATA_MODEL_KEYS
                for k, _ in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value in wanted:
                        return ModelNodes(text, found)
        elif name == "weights" or name == "model_cache":
            if isinstance(node, yaml.SequenceNode) and node.value:
                return ModelNodes(text, found)
        elif name in _ANY and not (isinstance(node, yaml.ScalarNode) and tag_of(node) == YAML_TAG + "null"):
            return ModelNodes(text, found)
    return None


_START = frozenset({"start_command"})
_ANY = frozenset({"trt_llm", "model_module_dir", "model_class_filename"})


def mapping(node: yaml.Node) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """A mapping node's keys with `<<` merges applied as the safe loader applies them ({} for anything else, or for a
    merge the safe loader refuses: the fit check reads such a config as naming nothing there)."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    try:
        return _Builder([]).flat(node, 0)
    except _BadMerge:
        return {}


if sys.platform != "win32":  # posixpath's rules without its two function calls per use (asked per model)

    def dirname(path: str) -> str:
        """os.path.dirname(path)."""
        head = path[: path.rfind("/") + 1]
        return head.rstrip("/") or head

    def basename(path: str) -> str:
        """os.path.basename(path)."""
        return path[path.rfind("/") + 1 :]

    def join(folder: str, name: str) -> str:
        """os.path.join(folder, name)."""
        return name if name.startswith("/") else folder + name if not folder or folder.endswith("/") else f"{folder}/{name}"

else:  # pragma: no cover - Windows
    dirname, basename, join = os.path.dirname, os.path.basename, os.path.join


def exists(path: str) -> bool:
    """os.path.exists without a stat result or an exception to build (a walk asks this of every folder)."""
    return os.access(path, os.F_OK)


def is_dir(path: str) -> bool:
    """os.path.isdir(path), as cheaply: with a trailing separator, only a directory (or a link to one) exists."""
    return bool(path) and os.access(path + os.sep, os.F_OK)


def _fatal(path: str, code: str, message: str, hint: str = "", line: int = 0, col: int = 0) -> LoadedConfig:
    return LoadedConfig(path, None, None, [Diagnostic(code, ERROR, message, hint, line, col)])


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def read_bounded(path: str, limit: int) -> bytes:
    """At most `limit` + 1 bytes of a regular file; OSError for anything else (stat finds it: a FIFO or device is never
    opened)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):  # a directory, FIFO or device: opening a FIFO would block, /dev/zero never ends
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise OSError(0, kind, path)
    # Should a FIFO or a device replace the file between stat and open, O_NONBLOCK keeps opening a FIFO from waiting
    # for a writer, and reading stops at limit + 1 bytes whatever it reads.
    fd = os.open(path, _READ_FLAGS)
    try:
        chunks: list[bytes] = []
        left = limit + 1
        size = min(st.st_size + 1, left)  # one read of the file's size (+1 to see growth), not a 1 MiB buffer
        while left > 0:
            chunk = os.read(fd, size)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
            size = min(left, 1 << 16)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


def read_unlinked(path: str, limit: int) -> bytes:
    """read_bounded, refusing a symbolic link: the files a config's model check reads beside it (its model file, its sizes
    snapshot) are the truss's own, never a link that could lead out of the repository."""
    if os.path.islink(path):
        raise OSError(0, "a symbolic link; not read", path)
    return read_bounded(path, limit)


def _read_text(path: str) -> str | LoadedConfig:
    try:
        data = read_bounded(path, MAX_CONFIG_BYTES)
    except OSError as e:
        if e.strerror in ("a directory", "not a regular file"):
            return _fatal(path, "TI090", f"cannot read: {e.strerror}", f"point PATH at a truss directory or its {CONFIG_NAME}")
        return _fatal(path, "TI090", f"cannot read: {e.strerror or e}")
    return _decode(path, data)


def _decode(path: str, data: bytes) -> str | LoadedConfig:
    if len(data) > MAX_CONFIG_BYTES:
        return _fatal(
            path, "TI090", f"file is larger than {MAX_CONFIG_BYTES // 1024} KiB; not a truss config",
            "point PATH at the truss's config.yaml",
        )  # fmt: skip
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # what Windows PowerShell's `>` writes
        return _fatal(path, "TI090", "UTF-16 text; truss reads config.yaml as UTF-8", "save the file as UTF-8")
    if b"\0" in data:
        return _fatal(path, "TI090", "binary file (contains NUL bytes); not a truss config")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        pos = e.start + bom  # utf-8-sig counts from after the BOM
        line = data[:pos].count(b"\n") + 1
        col = pos - (data.rfind(b"\n", 0, pos) + 1 or bom) + 1  # in bytes: the line is not decodable
        return _fatal(
            path, "TI090", f"not UTF-8: byte 0x{data[pos]:02x} at offset {pos}",
            "save the file as UTF-8", line, col,
        )  # fmt: skip
    return text


def _nodes(root: yaml.Node) -> Iterator[yaml.Node]:
    """Every node below `root` (keys too), each once however many aliases share it."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack += (k, v)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _walk_tags(root: yaml.Node) -> Diagnostic | None:
    """The first node with a tag truss's safe loader would refuse."""
    for node in _nodes(root):
        if node.tag not in _SAFE_TAGS:
            m = node.start_mark
            return Diagnostic(
                "TI093", ERROR, f"unsupported YAML tag {clip(node.tag)!r}",
                "truss loads config.yaml with a safe loader, which refuses this tag; remove it",
                m.line + 1, m.column + 1,
            )  # fmt: skip
    return None


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def construct(node: yaml.Node) -> object:
    """The value the safe loader makes of a scalar with a standard tag: its constructor, called as construct_object
    calls it, without the bookkeeping that would keep every node it was ever given (a tree's worth)."""
    return _CONSTRUCTOR.yaml_constructors[node.tag](_CONSTRUCTOR, node)


_MERGE = YAML_TAG + "merge"
_MAP_KINDS = frozenset({"map", "set"})
_SEQ_KINDS = frozenset({"seq", "omap", "pairs"})
MAX_DEPTH = 32  # resources needs two levels (accelerator: {accelerator, count}); deeper content is only ever an error
Pair = tuple[yaml.Node, yaml.Node]


class _BadMerge(Exception):
    """A `<<` merge key whose value is not a mapping or a list of mappings (the safe loader refuses it)."""

    def __init__(self, key: yaml.Node, message: str = "", hint: str = "") -> None:
        super().__init__(message or "expected a mapping or list of mappings for merging")
        self.key = key
        self.hint = hint or "a << merge key takes an alias of a mapping, e.g. <<: *defaults"


def _key_name(k: yaml.Node) -> str:
    return str(k.value) if isinstance(k, yaml.ScalarNode) else "?"


class _Builder:
    """Nodes to Fields, each mapping node converted once: aliases share the result (no alias bomb), a mapping
    that contains itself (`&r {x: *r}`) and anything nested deeper than MAX_DEPTH become empty mappings.
    `<<` merge keys are applied the way yaml.safe_load (and so truss) applies them."""

    def __init__(self, diags: list[Diagnostic]) -> None:
        self.diags = diags
        self.done: dict[int, dict[str, Field]] = {}
        self.active: set[int] = set()
        self.merged: dict[int, dict[str, Pair]] = {}
        self.merging: set[int] = set()

    def field(self, node: yaml.Node, key: yaml.Node | None, depth: int) -> Field:
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        kl, kc = (key.start_mark.line + 1, key.start_mark.column + 1) if key is not None else (line, col)
        kind = tag_of(node).rsplit(":", 1)[-1]
        if isinstance(node, yaml.MappingNode):
            if kind not in _MAP_KINDS:
                return self.invalid(node, kind, "a mapping", line, col, kl, kc)
            return Field(self.mapping(node, depth), "map", line, col, kl, kc)
        if isinstance(node, yaml.SequenceNode):
            if kind not in _SEQ_KINDS:
                return self.invalid(node, kind, "a list", line, col, kl, kc)
            return Field(None, "seq", line, col, kl, kc)
        if kind in _MAP_KINDS or kind in _SEQ_KINDS:
            return self.invalid(node, kind, "a scalar", line, col, kl, kc)
        value: object = node.value
        if kind in ("int", "float", "bool", "null", "binary", "timestamp"):
            try:
                value = construct(node)
            except ValueError as e:
                if "integer string conversion" not in str(e):  # an int of 4300+ digits keeps its text
                    return self.invalid(node, kind, "", line, col, kl, kc)
            except Exception:  # !!int "", !!bool maybe, !!binary "%": the safe loader (and so truss) fails on it
                return self.invalid(node, kind, "", line, col, kl, kc)
        return Field(value, kind, line, col, kl, kc)

    def invalid(self, node: yaml.Node, kind: str, found: str, line: int, col: int, kl: int, kc: int) -> Field:
        """TI026 for a value its YAML tag cannot represent; the field is `invalid` and checked no further."""
        shown = clip(str(node.value)) if isinstance(node, yaml.ScalarNode) else found
        what = f"!!{kind} {shown!r}" if not found else f"{found} tagged !!{kind}"
        self.diags.append(
            Diagnostic(
                "TI026", ERROR, f"{what} is not a valid YAML {kind}",
                "truss cannot load this file (its YAML loader fails on this value); remove the tag or fix the value",
                line, col,
            )
        )  # fmt: skip
        return Field(None, "invalid", line, col, kl, kc)

    def pairs(self, node: yaml.MappingNode, depth: int = 0) -> tuple[dict[str, Pair], list[Pair]]:
        """(keys merged in through `<<`, by name; the node's own pairs in order)."""
        merged: dict[str, Pair] = {}
        own: list[Pair] = []
        for k, v in node.value:
            if (tag_of(k) if k.value == "<<" else k.tag) != _MERGE:  # an implicit merge key is "<<": others stay unresolved
                own.append((k, v))
                continue
            if isinstance(v, yaml.MappingNode):
                sources = [v]
            elif isinstance(v, yaml.SequenceNode) and all(isinstance(x, yaml.MappingNode) for x in v.value):
                sources = list(v.value)
            else:
                raise _BadMerge(k)
            if depth >= MAX_DEPTH:
                raise _BadMerge(k, f"<< merges nested more than {MAX_DEPTH} deep", "merge the defaults into fewer levels")
            this: dict[str, Pair] = {}
            for src in sources:  # in one `<<: [*a, *b]` the earlier source wins ...
                for name, pair in self.flat(src, depth + 1).items():
                    this.setdefault(name, pair)
            merged.update(this)  # ... and of two `<<` keys the later one (yaml's flatten_mapping)
        return merged, own

    def flat(self, node: yaml.MappingNode, depth: int) -> dict[str, Pair]:
        """Every key of a mapping with its merges applied (last own key wins), computed once per node."""
        ident = id(node)
        if ident in self.merged:
            return self.merged[ident]
        if ident in self.merging:  # a merge that includes itself
            return {}
        self.merging.add(ident)
        merged, own = self.pairs(node, depth)
        out = dict(merged)
        out.update((_key_name(k), (k, v)) for k, v in own)
        self.merging.discard(ident)
        self.merged[ident] = out
        return out

    def mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, Field]:
        ident = id(node)
        if ident in self.done:
            return self.done[ident]
        if ident in self.active or depth >= MAX_DEPTH:
            return {}
        self.active.add(ident)
        merged, own = self.pairs(node)
        out: dict[str, Field] = {}
        for name, (k, v) in merged.items():
            out[name] = self.field(v, k, depth + 1)
        seen: dict[str, Field] = {}
        for k, v in own:
            name = _key_name(k)
            if name in seen:
                first = seen[name]
                self.diags.append(
                    Diagnostic(
                        "TI002",
                        ERROR,
                        f"duplicate key {clip(name)!r} (first at line {first.key_line}); truss keeps the last one",
                        f"truss accepts this (it only warns, and uses the last); remove one of the two {clip(name)!r} keys",
                        k.start_mark.line + 1,
                        k.start_mark.column + 1,
                    )
                )
            out[name] = seen[name] = self.field(v, k, depth + 1)
        self.active.discard(ident)
        self.done[ident] = out
        return out


def _compose_pure(text: str) -> yaml.Node | None:
    """Compose with the pure-Python loader; on failure re-raise libyaml's error (its positions and wording)."""
    original = sys.exc_info()[1]
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        assert original is not None
        raise original from None


def load_config(path: str) -> LoadedConfig:
    """Read one config file; problems come back as diagnostics, never as exceptions."""
    text = _read_text(path)
    return text if isinstance(text, LoadedConfig) else _load_text(path, text)


def load_config_bytes(path: str, data: bytes) -> LoadedConfig:
    """Load config bytes read elsewhere (a git object); `path` is only for messages."""
    text = _decode(path, data)
    return text if isinstance(text, LoadedConfig) else _load_text(path, text)


def _load_text(path: str, text: str) -> LoadedConfig:
    try:
        try:
            loader = _Loader(text)  # what yaml.compose does
            try:
                root = loader.get_single_node()
            finally:
                loader.dispose()
        except yaml.YAMLError:
            if not hasattr(yaml, "CSafeLoader") or "\\" not in text:
                raise
            # libyaml refuses escapes truss's loader (yaml.safe_load, pure Python) accepts, e.g. "\udc00"
            root = _compose_pure(text)
    except RecursionError:  # only the pure-Python loader recurses; libyaml stops at its own depth limit
        return _fatal(path, "TI091", "invalid YAML: nested too deeply", "a truss config is a few levels deep")
    except yaml.MarkedYAMLError as e:
        m = e.problem_mark or e.context_mark
        line, col = (m.line + 1, m.column + 1) if m else (0, 0)
        problem = " ".join(str(e.problem or e).split())
        return _fatal(path, "TI091", f"invalid YAML: {problem}", "fix the YAML syntax", line, col)
    except yaml.YAMLError as e:
        return _fatal(path, "TI091", f"invalid YAML: {' '.join(str(e).split())}")
    if root is None:
        return LoadedConfig(path, None, None, [], comments=yaml_comments(path, text, None) if MARK in text else ())
    bad_tag = _walk_tags(root) if "!" in text else None  # explicit tags need "!"; implicit ones are all safe
    if bad_tag:
        return LoadedConfig(path, None, None, [bad_tag])
    if not isinstance(root, yaml.MappingNode):
        m = root.start_mark
        return _fatal(path, "TI092", "the top level is not a mapping of config keys", "", m.line + 1, m.column + 1)
    diags: list[Diagnostic] = []
    resources: Field | None = None
    model_name: str | None = None
    trt_llm = False
    found: dict[str, yaml.Node] | None = None
    builder = _Builder(diags)
    try:
        merged, own = builder.pairs(root)
        pairs = [p for name, p in merged.items() if name not in {_key_name(k) for k, _ in own}] + own
        for k, v in pairs:
            name = _key_name(k)
            if name == "resources":
                if resources is not None:
                    diags.append(
                        Diagnostic(
                            "TI002",
                            ERROR,
                            f"duplicate key 'resources' (first at line {resources.key_line}); truss keeps the last one",
                            "truss accepts this (it only warns, and uses the last); merge the two resources blocks into one",
                            k.start_mark.line + 1,
                            k.start_mark.column + 1,
                        )
                    )
                resources = builder.field(v, k, 0)
            elif name == "model_name" and isinstance(v, yaml.ScalarNode) and tag_of(v) == YAML_TAG + "str":
                model_name = v.value
            if name in MODEL_KEYS:
                if name == "trt_llm":
                    trt_llm = not (isinstance(v, yaml.ScalarNode) and tag_of(v) == YAML_TAG + "null")
                found = found or {}
                found[name] = v  # the last of duplicate keys, as truss keeps
    except _BadMerge as e:
        m = e.key.start_mark
        return _fatal(path, "TI091", f"invalid YAML: {e}", e.hint, m.line + 1, m.column + 1)
    model = _model_nodes(text, found) if found else None
    return LoadedConfig(path, resources, model_name, diags, trt_llm, model, yaml_comments(path, text, root) if MARK in text else ())


_COMMENT_START = re.compile(r"(?:^|(?<=[ \t]))#")  # YAML: a `#` at the start of a line or after a space or tab


def yaml_comments(path: str, text: str, root: yaml.Node | None) -> tuple[Comment, ...]:
    """The comments on the lines of `text` that mention MARK: a `#` that starts a line or follows a blank, outside every
    scalar (a quoted or block scalar may hold `# truss-instance:` as text). Only called when MARK is in `text`; linear in
    its size (each line's scalars and `#`s are swept once, in column order)."""
    wanted = {i: line for i, line in enumerate(text.splitlines()) if MARK in line}  # YAML's line breaks, once PyYAML read it
    spans = _scalar_spans(root, wanted) if root is not None else {}
    out: list[Comment] = []
    for i, line in wanted.items():
        inside = sorted(spans.get(i, ()))  # the scalars on this line: disjoint (start, end) columns
        k = 0
        for m in _COMMENT_START.finditer(line):
            while k < len(inside) and inside[k][1] <= m.start():
                k += 1
            if k == len(inside) or not inside[k][0] <= m.start():
                out.append(Comment(path, i + 1, m.start() + 1, line[m.start() :]))
                break  # the rest of the line is this comment
    return tuple(out)


def _scalar_spans(root: yaml.Node, lines: dict[int, str]) -> dict[int, list[tuple[int, int]]]:
    """For each of `lines` (0-based), the (start, end) columns of the scalars (keys too) on it; a scalar over several
    lines spans them to the line's end. Each node once (aliases share them)."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for node in _nodes(root):
        if isinstance(node, yaml.ScalarNode):
            s, e = node.start_mark, node.end_mark
            for line in range(s.line, e.line + 1):  # scalars never overlap: linear in the lines, all told
                if line in lines:
                    spans.setdefault(line, []).append((s.column if line == s.line else 0, e.column if line == e.line else sys.maxsize))
    return spans
