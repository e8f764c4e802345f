"""Reading a start command as a shell would, without running it: the words of each simple command through `sh -c "…"`
wrappers, `VAR=$(…)` prefixes and `&&` chains, which serving engine it starts, and that engine's flags. Where each
word is written in config.yaml is found by searching the command's source text."""

from __future__ import annotations

import re
import shlex

import yaml

from truss_instance_plugin._typing import NamedTuple

MAX_SHELL_DEPTH = 4  # sh -c "bash -c '…'" nests; deeper is unknown
MAX_TOKENS = 20_000  # a start command of a megabyte is read up to this many words


class At(NamedTuple):
    """A 1-based position of a value: in the config, or in `file` (a model's .py file)."""

    line: int
    col: int
    file: str = ""


# The words ---------------------------------------------------------------------------------------------------


class Span:
    """The start command's source text: where a word of it is written. Words are searched for (as whole words), so a
    quoted, folded or wrapped command works; a word written with escapes is placed at the command itself."""

    def __init__(self, text: str, node: yaml.Node) -> None:
        self.raw = text[node.start_mark.index : node.end_mark.index]
        self.line, self.col = node.start_mark.line + 1, node.start_mark.column + 1

    def find(self, word: str, after: int = 0, last: bool = False) -> tuple[At, int] | None:
        """(position, end offset) of the first (or `last`) whole `word` at or after offset `after`; None if absent."""
        pattern = re.compile(r"(?<![^\s\"'=])" + re.escape(word) + r"(?![^\s\"'=;&|])")
        found = None
        for m in pattern.finditer(self.raw, after):
            found = m
            if not last:
                break
        if found is None or not word:
            return None
        off = found.start()
        nl = self.raw.rfind("\n", 0, off)
        line = self.line + self.raw.count("\n", 0, off)
        return At(line, off - nl if nl >= 0 else self.col + off), found.end()

    def value(self, flag: str, value: str) -> At:
        """Where the value of the last `flag` is written (`--flag value` or `--flag=value`): the value, else the flag,
        else the command."""
        at = self.find(flag, last=True)
        if at is None:
            return At(self.line, self.col)
        got = self.find(value, at[1])
        return got[0] if got is not None else at[0]


def hide_substitutions(script: str, subs: list[str]) -> str:
    """`$(…)`, `${…}` and backquotes replaced by `$__N__` (one word, so their inner spaces and pipes split nothing; `subs`
    keeps the originals for messages); linear, single quotes respected as a shell respects them."""
    out: list[str] = []
    i, n = 0, len(script)
    quote = ""
    while i < n:
        c = script[i]
        if quote == "'":
            out.append(c)
            quote = "" if c == "'" else quote
            i += 1
            continue
        if c == "'" and quote != '"':
            quote = "'"
        elif c == '"':
            quote = "" if quote == '"' else '"'
        if c == "\\" and i + 1 < n:
            out.append(script[i : i + 2])
            i += 2
            continue
        j = -1
        if c == "$" and i + 1 < n and script[i + 1] in "({":
            opener, close, depth, j = script[i + 1], ")" if script[i + 1] == "(" else "}", 0, i + 1
            while j < n:
                depth += (script[j] == opener) - (script[j] == close)
                if depth == 0:
                    break
                j += 1
        elif c == "`":
            j = script.find("`", i + 1)
            j = n if j < 0 else j
        if j >= 0:
            subs.append(script[i : j + 1])
            out.append(f"$__{len(subs) - 1}__")
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def restore(text: str, subs: list[str]) -> str:
    """`text` with the `$__N__` placeholders written as the substitutions they stand for."""
    if "$__" not in text:
        return text
    return re.sub(r"\$__(\d+)__", lambda m: subs[int(m.group(1))] if int(m.group(1)) < len(subs) else m.group(0), text)


def commands(script: str, subs: list[str]) -> list[list[str]] | None:
    """The simple commands of a shell script (split at ; && || | and newlines), each as words; None when a shell would
    refuse it (an unclosed quote)."""
    lex = shlex.shlex(hide_substitutions(script.replace("\\\n", " "), subs), posix=True, punctuation_chars=";&|\n")
    lex.whitespace = " \t\r"
    lex.whitespace_split = True
    lex.commenters = ""
    commands: list[list[str]] = [[]]
    try:
        for count, word in enumerate(lex):
            if count > MAX_TOKENS:
                break
            if word and set(word) <= set(";&|\n"):
                commands.append([])
            else:
                commands[-1].append(word)
    except ValueError:
        return None
    return [c for c in commands if c]


SHELLS = frozenset({"sh", "bash", "zsh", "dash"})
ASSIGN = re.compile(r"(?a)[A-Za-z_][A-Za-z0-9_]*=")


def engine_of(argv: list[str]) -> tuple[str, list[str]] | None:
    """(engine, its arguments) when `argv` starts one of the serving engines truss-examples use; else None."""
    prog = argv[0].rsplit("/", 1)[-1]
    if prog in ("python", "python3") or re.fullmatch(r"python3\.\d+", prog):
        if len(argv) >= 3 and argv[1] == "-m":
            module = argv[2]
            if module.startswith("vllm.entrypoints"):
                return "vllm", argv[3:]
            if module.startswith("sglang.launch_server") or module == "sglang.srt.server":
                return "sglang", argv[3:]
            if module == "lmdeploy" and argv[3:5] == ["serve", "api_server"]:
                return "lmdeploy", argv[5:]
        return None
    if prog == "vllm" and len(argv) >= 2 and argv[1] == "serve":
        return "vllm", argv[2:]
    if prog == "sglang" and len(argv) >= 2 and argv[1] == "serve":
        return "sglang", argv[2:]
    if prog == "text-generation-launcher":
        return "tgi", argv[1:]
    if prog == "text-embeddings-router":
        return "tei", argv[1:]
    if prog == "lmdeploy" and argv[1:3] == ["serve", "api_server"]:
        return "lmdeploy", argv[3:]
    if prog == "llama-server":
        return "llama.cpp", argv[1:]
    if prog in ("infinity_emb", "infinity-emb"):
        return "infinity", argv[1:]
    if prog == "trtllm-serve":
        return "trtllm", argv[1:]
    return None


# Flags per engine: our name -> the spellings (the last one given wins, as argparse does).
_FLAGS: dict[str, dict[str, tuple[str, ...]]] = {
    "vllm": {
        "model": ("--model",),
        "revision": ("--revision",),
        "tp": ("--tensor-parallel-size", "-tp"),
        "pp": ("--pipeline-parallel-size", "-pp"),
        "max_len": ("--max-model-len",),
        "mem_fraction": ("--gpu-memory-utilization",),
        "kv_dtype": ("--kv-cache-dtype",),
        "quantization": ("--quantization", "-q"),
        "dtype": ("--dtype",),
    },
    "sglang": {
        "model": ("--model-path", "--model"),
        "revision": ("--revision",),
        "tp": ("--tp-size", "--tp", "--tensor-parallel-size"),
        "pp": ("--pp-size", "--pp", "--pipeline-parallel-size"),
        "max_len": ("--context-length",),
        "mem_fraction": ("--mem-fraction-static",),
        "kv_dtype": ("--kv-cache-dtype",),
        "quantization": ("--quantization",),
        "dtype": ("--dtype",),
        "chunked_prefill": ("--chunked-prefill-size",),
        "cuda_graph_bs": ("--cuda-graph-max-bs",),
        "spec": ("--speculative-algorithm", "--speculative-algo"),
    },
    "tgi": {
        "model": ("--model-id",),
        "revision": ("--revision",),
        "tp": ("--num-shard",),
        "max_len": ("--max-total-tokens",),
        "mem_fraction": ("--cuda-memory-fraction",),
        "quantization": ("--quantize",),
        "dtype": ("--dtype",),
    },
    "tei": {"model": ("--model-id",), "revision": ("--revision",), "dtype": ("--dtype",)},
    "lmdeploy": {"tp": ("--tp",), "max_len": ("--session-len",), "mem_fraction": ("--cache-max-entry-count",)},
    "llama.cpp": {"model": ("--hf-repo", "-hfr")},
    "infinity": {"model": ("--model-id",), "revision": ("--revision",)},
    "trtllm": {"tp": ("--tp_size", "--tp-size"), "pp": ("--pp_size", "--pp-size"), "max_len": ("--max_seq_len", "--max-seq-len")},
}
_POSITIONAL_MODEL = frozenset({"vllm", "lmdeploy", "trtllm"})  # `vllm serve MODEL`, `lmdeploy serve api_server MODEL`


def flags(engine: str, args: list[str]) -> tuple[dict[str, str], str | None]:
    """Our settings from the engine's arguments (`--flag value`, `--flag=value`), and its positional model."""
    spellings = {s: name for name, flags in _FLAGS.get(engine, {}).items() for s in flags}
    got: dict[str, str] = {}
    positional: str | None = None
    i = 0
    while i < len(args):
        word = args[i]
        flag, eq, value = word.partition("=")
        if flag in spellings:
            if eq:
                got[spellings[flag]] = value
            elif i + 1 < len(args):
                got[spellings[flag]] = args[i + 1]
                i += 1
        elif not word.startswith("-") and positional is None and i == 0 and engine in _POSITIONAL_MODEL:
            positional = word
        i += 1
    return got, positional


def spelling(engine: str, name: str, args: list[str]) -> str:
    """The flag spelling the arguments use for `name` (the last one given)."""
    spellings = _FLAGS.get(engine, {}).get(name, ())
    used = [w.partition("=")[0] for w in args if w.partition("=")[0] in spellings]
    return used[-1] if used else (spellings[0] if spellings else name)
