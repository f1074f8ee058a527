"""Hypothesis strategies derived from the wire declarations themselves.

The strategy for a type hint mirrors how ``accord.mls.codec`` maps hints to
the wire, so every ``@wire`` structure gets random, valid values without a
second description of its layout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import typing
from typing import Annotated, Any, Union, get_args, get_origin

from hypothesis import strategies as st

from accord.mls.codec import Fixed, OneOf, Uint, Variant, When

_CACHE: dict[Any, st.SearchStrategy[Any]] = {}


def strategy_for(hint: Any) -> st.SearchStrategy[Any]:
    try:
        return _CACHE[hint]
    except (KeyError, TypeError):
        pass
    s = _build(hint)
    with contextlib.suppress(TypeError):  # unhashable hints are not cached
        _CACHE[hint] = s
    return s


def _build(hint: Any) -> st.SearchStrategy[Any]:
    if hint is bytes:
        return st.binary(max_size=24)
    if isinstance(hint, type) and hasattr(hint, "__wire_fields__"):
        return _struct(hint)
    origin = get_origin(hint)
    if origin is Annotated:
        base, *meta = get_args(hint)
        for m in meta:
            if isinstance(m, OneOf):
                return st.sampled_from(sorted(m.values))
        for m in meta:
            if isinstance(m, Uint):
                return st.integers(0, (1 << (8 * m.size)) - 1)
            if isinstance(m, Fixed):
                return st.binary(min_size=m.size, max_size=m.size)
            if isinstance(m, Variant):
                return st.one_of(
                    *[st.none() if c is None else strategy_for(c) for c in m.cases.values()]
                )
        return strategy_for(base)
    if origin is tuple:
        return st.lists(strategy_for(get_args(hint)[0]), max_size=3).map(tuple)
    if origin in (Union, getattr(__import__("types"), "UnionType", None)):
        inner = [a for a in get_args(hint) if a is not type(None)]
        return st.none() | strategy_for(inner[0])
    raise TypeError(f"no strategy for {hint!r}")


def _lookup(values: dict[str, Any], path: str) -> Any:
    first, *rest = path.split(".")
    obj = values[first]
    for p in rest:
        obj = getattr(obj, p)
    return obj


def _struct(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(
        cls, globalns=vars(sys.modules[cls.__module__]), include_extras=True
    )
    fields = [(f.name, hints[f.name]) for f in dataclasses.fields(cls)]  # type: ignore[arg-type]

    @st.composite
    def build(draw: Any) -> Any:
        values: dict[str, Any] = {}
        for name, hint in fields:
            when = None
            if get_origin(hint) is Annotated:
                when = next((m for m in get_args(hint)[1:] if isinstance(m, When)), None)
            if when is None:
                values[name] = draw(strategy_for(hint))
            elif _lookup(values, when.path) in when.values:
                values[name] = draw(strategy_for(when.hint))
            else:
                values[name] = None
        return cls(**values)

    return build()
