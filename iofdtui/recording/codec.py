"""Dataclasses to JSON-able values and back, driven by their fields and type hints.

Nothing here names a snapshot field: `encode` walks `dataclasses.fields`,
`decode` the class's resolved type hints, so a field added to (or removed
from) an engine dataclass is written and read without a change here.

How each type is written:
- dataclass: an object of its init fields;
- enum: its value; None, bool, int, str: themselves;
- float: itself (JSON keeps repr, so it reads back exactly); NaN and the
  infinities, which JSON lacks, as the strings "nan", "inf", "-inf";
- tuple, list: an array;
- Mapping with str keys: an object; any other Mapping (or an empty one):
  an array of [key, value] pairs (keys such as (Bus, width) tuples).

Decoding is for untrusted input: every value must have its hint's type
(a bool is no int, an int is a float), objects must have exactly the
dataclass's fields (less those with defaults), integers must fit in 64 bits,
strings and containers have size limits.  Anything else raises
`CodecError` with the path of the offending value.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import math
import types
import typing
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")

MAX_STR = 64 * 1024
"""Longest string accepted (a fault or event message is a line)."""
MAX_ITEMS = 200_000
"""Most items in one array or object (1,000 registrations have a few thousand)."""
INT_RANGE = range(-(1 << 63), 1 << 64)
"""Integers must fit in 64 bits (signed or unsigned: the engine's counters are u64)."""
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class CodecError(ValueError):
    """A value that does not decode as its type; the message names where."""


def encode(obj: object) -> Any:
    """`obj` as JSON-able data (dicts, lists, str, int, float, bool, None)."""
    kind = type(obj)
    if kind in _PLAIN:
        return obj
    if kind is float:
        return obj if math.isfinite(obj) else repr(obj)  # type: ignore[arg-type]
    names = _field_names.get(kind)
    if names is None:
        names = _field_names[kind] = _names_of(kind)
    if names:
        return {name: encode(getattr(obj, name)) for name in names}
    if isinstance(obj, enum.Enum):
        return encode(obj.value)
    if isinstance(obj, Mapping):
        if obj and all(isinstance(k, str) and not isinstance(k, enum.Enum) for k in obj):
            return {k: encode(v) for k, v in obj.items()}
        return [[encode(k), encode(v)] for k, v in obj.items()]
    if isinstance(obj, tuple | list):
        return [encode(v) for v in obj]
    if isinstance(obj, float):  # subclasses of the plain types
        return encode(float(obj))
    if isinstance(obj, bool | int | str):
        return obj
    raise TypeError(f"cannot encode {kind.__name__} {obj!r}")


_PLAIN = frozenset({type(None), bool, int, str})
_field_names: dict[type, tuple[str, ...]] = {}  # per type: its init fields (empty: no dataclass)


def _names_of(kind: type) -> tuple[str, ...]:
    if dataclasses.is_dataclass(kind):
        return tuple(f.name for f in _init_fields(kind))
    return ()


def decode(cls: type[T], data: object, path: str | None = None) -> T:
    """`data` (from `encode`, via JSON) as an instance of `cls`.

    Args:
        cls: the type to make.
        data: JSON-able data.
        path: how errors name `data` (default: the class's name; "": fields by
            their names alone).

    Raises:
        CodecError: `data` is not a `cls` as `encode` writes it.
    """
    return _decode(cls, data, cls.__name__ if path is None else path)


@cache
def shape(cls: type) -> str:
    """A short digest of `cls`'s fields and types and of every dataclass inside them.

    Two versions of iofdtui whose snapshots have the same fields give the same
    digest, so a reader can tell a file made with other fields from a damaged one.
    """
    seen: dict[str, list[tuple[str, str]]] = {}

    def walk(hint: Any) -> None:
        for arg in typing.get_args(hint):
            walk(arg)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            name = f"{hint.__module__}.{hint.__qualname__}"
            if name in seen:
                return
            hints = _hints(hint)
            seen[name] = [(f.name, str(hints[f.name])) for f in _init_fields(hint)]
            for f in _init_fields(hint):
                walk(hints[f.name])

    walk(cls)
    text = repr(sorted(seen.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# ------------------------------------------------------------------ decoding


def _kind(data: object) -> str:
    """What a JSON value is, as an error says it."""
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "a boolean"
    if isinstance(data, int | float):
        return "a number"
    if isinstance(data, str):
        return "a string"
    if isinstance(data, list):
        return "an array"
    if isinstance(data, dict):
        return "an object"
    return type(data).__name__


def _fail(path: str, want: str, data: object) -> CodecError:
    return CodecError(f"{path or 'the line'}: expected {want}, found {_kind(data)}")


def _sized(data: list[Any] | dict[str, Any], path: str) -> None:
    if len(data) > MAX_ITEMS:
        raise CodecError(f"{path}: {len(data):,} items, more than the {MAX_ITEMS:,} allowed")


@cache
def _init_fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return tuple(f for f in dataclasses.fields(cls) if f.init)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(hint: Any, data: object, path: str) -> Any:
    if hint is type(None):
        if data is not None:
            raise _fail(path, "null", data)
        return None
    if hint is Any or hint is object:
        raise CodecError(f"{path}: untyped fields cannot be decoded")
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return _union(hint, data, path)
    if origin is not None:
        return _generic(hint, origin, data, path)
    if isinstance(hint, type):
        decoder = _SCALARS.get(hint)
        if decoder is not None:
            return decoder(data, path)
        if issubclass(hint, enum.Enum):
            return _enum(hint, data, path)
        if dataclasses.is_dataclass(hint):
            return _dataclass(hint, data, path)
    raise CodecError(f"{path}: no decoder for type {hint!r}")


def _union(hint: Any, data: object, path: str) -> Any:
    options = typing.get_args(hint)
    if data is None and type(None) in options:
        return None
    concrete = [o for o in options if o is not type(None)]
    if len(concrete) == 1:
        return _decode(concrete[0], data, path)
    errors = []
    for option in concrete:
        try:
            return _decode(option, data, path)
        except CodecError as err:
            errors.append(str(err))
    raise CodecError(errors[0] if errors else f"{path}: no type fits")


def _generic(hint: Any, origin: Any, data: object, path: str) -> Any:
    args = typing.get_args(hint)
    if origin is tuple or origin is list:
        if not isinstance(data, list):
            raise _fail(path, "an array", data)
        _sized(data, path)
        if origin is list or (len(args) == 2 and args[1] is Ellipsis):
            items = [_decode(args[0], v, f"{path}[{i}]") for i, v in enumerate(data)]
            return items if origin is list else tuple(items)
        if len(data) != len(args):
            raise CodecError(f"{path}: expected {len(args)} items, found {len(data)}")
        pairs = enumerate(zip(args, data, strict=True))
        return tuple(_decode(a, v, f"{path}[{i}]") for i, (a, v) in pairs)
    if isinstance(origin, type) and issubclass(origin, Mapping):
        key_type, value_type = args
        out: dict[Any, Any] = {}
        if key_type is str and isinstance(data, dict):
            _sized(data, path)
            for key, value in data.items():
                out[key] = _decode(value_type, value, f"{path}[{key[:40]!r}]")
            return out
        if not isinstance(data, list):
            raise _fail(path, "an array of [key, value] pairs", data)
        _sized(data, path)
        for i, pair in enumerate(data):
            if not (isinstance(pair, list) and len(pair) == 2):
                raise _fail(f"{path}[{i}]", "a [key, value] pair", pair)
            key = _decode(key_type, pair[0], f"{path}[{i}] key")
            out[key] = _decode(value_type, pair[1], f"{path}[{i}] value")
        return out
    raise CodecError(f"{path}: no decoder for type {hint!r}")


def _dataclass(cls: type, data: object, path: str) -> Any:
    if not isinstance(data, dict):
        raise _fail(path, f"an object ({cls.__name__})", data)
    fields = _init_fields(cls)
    names = {f.name for f in fields}
    unknown = [k for k in data if k not in names]
    if unknown:
        raise CodecError(
            f"{path or 'the line'}: unknown field {unknown[0][:40]!r} in {cls.__name__}"
        )
    hints = _hints(cls)
    kwargs = {}
    for f in fields:
        if f.name in data:
            where = f"{path}.{f.name}" if path else f.name
            kwargs[f.name] = _decode(hints[f.name], data[f.name], where)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise CodecError(f"{path or 'the line'}: missing field {f.name!r} of {cls.__name__}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:  # a __post_init__ refusing the values
        raise CodecError(f"{path or 'the line'}: {err}") from None


def _enum(cls: type[enum.Enum], data: object, path: str) -> enum.Enum:
    try:
        return cls(data)
    except (ValueError, TypeError):
        allowed = ", ".join(repr(m.value) for m in cls)
        shown = repr(data)[:40]
        raise CodecError(f"{path}: {shown} is not a {cls.__name__} ({allowed})") from None


def _int(data: object, path: str) -> int:
    if not isinstance(data, int) or isinstance(data, bool):
        raise _fail(path, "an integer", data)
    if data not in INT_RANGE:
        raise CodecError(f"{path}: {len(str(data))}-digit integer does not fit in 64 bits")
    return data


def _float(data: object, path: str) -> float:
    if isinstance(data, str) and data in _NON_FINITE:
        return _NON_FINITE[data]
    if isinstance(data, int) and not isinstance(data, bool):
        _int(data, path)
        return float(data)
    if not isinstance(data, float):
        raise _fail(path, "a number", data)
    return data


def _bool(data: object, path: str) -> bool:
    if not isinstance(data, bool):
        raise _fail(path, "true or false", data)
    return data


def _str(data: object, path: str) -> str:
    if not isinstance(data, str):
        raise _fail(path, "a string", data)
    if len(data) > MAX_STR:
        raise CodecError(f"{path}: a string of {len(data):,} characters (at most {MAX_STR:,})")
    return data


_SCALARS: dict[type, Callable[[object, str], Any]] = {
    int: _int,
    float: _float,
    bool: _bool,
    str: _str,
}
