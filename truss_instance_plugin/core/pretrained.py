"""The models a Python truss loads by name: `X.from_pretrained("org/name", revision="…")` literals in its model file,
read with `ast` (never imported or run). A tokenizer, processor or config loads no weights onto the GPU, so it is not
counted; an argument that is not a string literal (`model_metadata["repo_id"]`, a path) names nothing we can know."""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable

from truss_instance_plugin.config import MAX_CHAIN_BYTES, basename, dirname, join, read_unlinked
from truss_instance_plugin.core.engines import REVISION_RE, At, Ref, is_repo

MARK = b"from_pretrained"
MAX_REFS = 64  # a model file names a handful; more are ignored
_NO_WEIGHTS = ("Tokenizer", "Processor", "FeatureExtractor", "Config", "Scheduler")  # classes that load no weights

_DTYPES = {"float16": "float16", "half": "float16", "bfloat16": "bfloat16", "float32": "float32", "float": "float32", "auto": "auto"}
Read = Callable[[str, int], bytes]


def model_file(config_path: str, module_dir: str | None = None, class_file: str | None = None) -> str:
    """The model class file truss loads: `model_module_dir`/`model_class_filename` beside the config (model/model.py)."""
    folder = module_dir if module_dir and _plain(module_dir) else "model"
    name = class_file if class_file and _plain(class_file) else "model.py"
    return join(join(dirname(config_path), folder), name)


def _plain(part: str) -> bool:
    """A relative path inside the truss (no `..`, not absolute): anything else is not read."""
    return not part.startswith(("/", "\\")) and ".." not in part.replace("\\", "/").split("/") and part.isprintable()


def mentions_pretrained(path: str, read: Read = read_unlinked) -> bytes | None:
    """The model file's bytes when it has a `from_pretrained` call (a byte test: nothing is parsed), else None."""
    try:
        data = read(path, MAX_CHAIN_BYTES)
    except OSError:
        return None
    return data if len(data) <= MAX_CHAIN_BYTES and MARK in data else None


def pretrained_refs(path: str, data: bytes, shown: str = "") -> tuple[Ref, ...]:
    """The weight-loading `from_pretrained("repo")` literals of a model file, in order, each with its position
    (`shown`: the file's name in findings; its base name by default)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # odd escapes: python's warnings, not ours to print
            tree = ast.parse(data, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ()  # truss cannot import it either; the fit check reads nothing from it
    lines: list[str] | None = None
    out: list[Ref] = []
    for node in ast.walk(tree):
        if len(out) >= MAX_REFS:
            break
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "from_pretrained"):
            continue
        owner = node.func.value
        name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
        if any(word in name for word in _NO_WEIGHTS):
            continue
        kwargs = {k.arg: k.value for k in node.keywords if k.arg}
        arg = node.args[0] if node.args else kwargs.get("pretrained_model_name_or_path")
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str) and "/" in arg.value and is_repo(arg.value)):
            continue
        rev = kwargs.get("revision")
        revision = rev.value if isinstance(rev, ast.Constant) and isinstance(rev.value, str) and REVISION_RE.fullmatch(rev.value) else None
        dtype = kwargs.get("torch_dtype", kwargs.get("dtype"))
        dtype_name = dtype.attr if isinstance(dtype, ast.Attribute) else dtype.value if isinstance(dtype, ast.Constant) else None
        if lines is None:
            lines = data.decode("utf-8", "replace").split("\n")
        text = lines[arg.lineno - 1] if 0 < arg.lineno <= len(lines) else ""
        col = len(text.encode("utf-8")[: arg.col_offset].decode("utf-8", "replace")) + 1  # ast counts UTF-8 bytes
        at = At(arg.lineno, col, shown or basename(path))
        kind = _DTYPES.get(dtype_name) if isinstance(dtype_name, str) else None
        out.append(Ref(arg.value, revision, f"{name or 'from_pretrained'}.from_pretrained", at, kind))
    return tuple(out)
