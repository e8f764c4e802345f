"""`NamedTuple` and `TYPE_CHECKING` without importing typing, which alone costs a tenth of a one-model check.

mypy sees typing's own names. At run time a `class X(NamedTuple)` is built by collections.namedtuple, as typing
builds it: same fields, defaults, methods and docstring; its annotations are kept, unevaluated.
"""

from __future__ import annotations

import collections

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:

    class _NamedTupleMeta(type):
        def __new__(cls, name, bases, ns):
            fields = ns.get("__annotations__", {})
            defaults = [ns[f] for f in fields if f in ns]
            tpl = collections.namedtuple(name, fields, defaults=defaults, module=ns["__module__"])
            for key, value in ns.items():
                if key not in fields and key not in _NOT_COPIED:
                    setattr(tpl, key, value)
            tpl.__annotations__ = dict(fields)
            return tpl

    _NOT_COPIED = frozenset(("__module__", "__annotations__"))
    NamedTuple = type.__new__(_NamedTupleMeta, "NamedTuple", (), {})
