"""Bounded parameter declarations for the simulations, and their parsing from a query string.

Stdlib dataclasses only, so `simulations/` stays free of web imports: the web layer validates through
`parse_params` and describes the sliders through `params_schema`, never by reading the fields itself.
"""

import dataclasses
import math
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

# Keys of the metadata that bounded()/choice()/subset() attach to a dataclass field.
_KIND = "simulations.kind"
_BOUNDED, _CHOICE, _SUBSET = "bounded", "choice", "subset"

P = TypeVar("P")

_TRUE_WORDS = {"true", "1", "on", "yes"}
_FALSE_WORDS = {"false", "0", "off", "no"}


class ParamError(ValueError):
    """A parameter value that cannot be used; `message` names the field and what it accepts."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def bounded(
    default: float | int | bool,
    *,
    ge: float | None = None,
    le: float | None = None,
    description: str,
    step: float | None = None,
    unit: str | None = None,
    scale: str = "linear",
    title: str | None = None,
) -> Any:
    """A number (or a bool) field with inclusive bounds; `scale="log"` asks the slider for a log scale."""
    if ge is not None and le is not None and ge > le:
        raise ValueError(f"bounds are reversed: ge={ge} > le={le}")
    if not isinstance(default, bool) and not _within(default, ge, le):
        raise ValueError(f"default {default} lies outside [{ge}, {le}]")
    if scale not in ("linear", "log"):
        raise ValueError(f"scale must be 'linear' or 'log', not {scale!r}")
    meta = {_KIND: _BOUNDED, "ge": ge, "le": le, "description": description, "step": step,
            "unit": unit, "scale": scale, "title": title}
    return dataclasses.field(default=default, metadata=meta)


def choice(
    default: str,
    options: tuple[str, ...],
    *,
    description: str,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Any:
    """A string field that must be one of `options`; `labels` gives each option a human name."""
    if default not in options:
        raise ValueError(f"default {default!r} is not one of {options}")
    meta = {_KIND: _CHOICE, "options": tuple(options), "description": description,
            "labels": dict(labels or {}), "title": title}
    return dataclasses.field(default=default, metadata=meta)


def subset(default: str, options: tuple[str, ...], *, description: str, title: str | None = None) -> Any:
    """A comma-separated, non-empty subset of `options`, kept in the order `options` lists them."""
    if _canonical_subset(default, options) != default:
        raise ValueError(f"default {default!r} is not a canonical subset of {options}")
    meta = {_KIND: _SUBSET, "options": tuple(options), "description": description, "title": title}
    return dataclasses.field(default=default, metadata=meta)


def parse_params(cls: type[P], mapping: Mapping[str, Any]) -> P:
    """Build `cls` from query-string values: coerce each to its annotated type and check its bounds.

    Missing fields take their defaults; an unknown name raises, as does any bad value, with a
    ParamError whose message names the field and the accepted range or choices.
    """
    declared = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - set(declared))
    if unknown:
        raise ParamError(unknown[0], f"unknown parameter '{unknown[0]}'; expected one of: {', '.join(declared)}")
    hints = typing.get_type_hints(cls)
    values = {name: _coerce(f, hints[name], mapping[name]) for name, f in declared.items() if name in mapping}
    return cls(**values)


def params_schema(cls: type) -> dict[str, Any]:
    """A JSON Schema of `cls` for the API: every property has a type, its bounds or choices, and a description."""
    hints = typing.get_type_hints(cls)
    properties = {f.name: _property_schema(f, hints[f.name]) for f in dataclasses.fields(cls)}
    return {
        "type": "object",
        "title": cls.__qualname__,
        "properties": properties,
        "additionalProperties": False,
    }


def _within(value: float, ge: float | None, le: float | None) -> bool:
    return (ge is None or value >= ge) and (le is None or value <= le)


def _number_text(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _coerce(f: dataclasses.Field, hint: type, raw: Any) -> Any:
    meta = f.metadata
    kind = meta.get(_KIND)
    if kind == _CHOICE:
        return _coerce_choice(f.name, meta["options"], raw)
    if kind == _SUBSET:
        return _coerce_subset(f.name, meta["options"], raw)
    if hint is bool:
        return _coerce_bool(f.name, raw)
    value = _coerce_int(f.name, raw) if hint is int else _coerce_float(f.name, raw)
    if not _within(value, meta.get("ge"), meta.get("le")):
        low, high = _number_text(meta["ge"]), _number_text(meta["le"])
        raise ParamError(f.name, f"{f.name} must be between {low} and {high} (got {_number_text(value)})")
    return value


def _coerce_int(name: str, raw: Any) -> int:
    # A slider or a hand-edited URL may send "16.0"; accept it only when it is a whole number.
    if isinstance(raw, bool):
        raise ParamError(name, f"{name} must be an integer (got {raw!r})")
    if isinstance(raw, int):
        return raw
    try:
        number = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        raise ParamError(name, f"{name} must be an integer (got {raw!r})") from None
    if not number.is_integer():
        raise ParamError(name, f"{name} must be an integer (got {raw!r})")
    return int(number)


def _coerce_float(name: str, raw: Any) -> float:
    if isinstance(raw, bool):
        raise ParamError(name, f"{name} must be a number (got {raw!r})")
    try:
        number = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        raise ParamError(name, f"{name} must be a number (got {raw!r})") from None
    if not math.isfinite(number):
        raise ParamError(name, f"{name} must be a finite number (got {raw!r})")
    return number


def _coerce_bool(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ParamError(name, f"{name} must be true or false (got {raw!r})")


def _coerce_choice(name: str, options: tuple[str, ...], raw: Any) -> str:
    value = raw.strip() if isinstance(raw, str) else raw
    if value not in options:
        raise ParamError(name, f"{name} must be one of: {', '.join(options)} (got {raw!r})")
    return value


def _coerce_subset(name: str, options: tuple[str, ...], raw: Any) -> str:
    if not isinstance(raw, str):
        raise ParamError(name, f"{name} must be a comma-separated list of: {', '.join(options)} (got {raw!r})")
    names = [part.strip() for part in raw.split(",") if part.strip()]
    bad = [part for part in names if part not in options]
    if bad or not names:
        raise ParamError(
            name, f"{name} must be a comma-separated list of one or more of: {', '.join(options)} (got {raw!r})"
        )
    return _canonical_subset(raw, options)


def _canonical_subset(raw: str, options: tuple[str, ...]) -> str:
    chosen = {part.strip() for part in raw.split(",")}
    return ",".join(option for option in options if option in chosen)


def _property_schema(f: dataclasses.Field, hint: type) -> dict[str, Any]:
    meta = f.metadata
    kind = meta.get(_KIND)
    if kind is None:
        raise TypeError(f"field {f.name} is not declared with bounded(), choice() or subset()")
    schema: dict[str, Any] = {
        "title": meta["title"] or f.name.replace("_", " ").capitalize(),
        "description": meta["description"],
        "default": f.default,
    }
    if kind == _CHOICE:
        schema.update(type="string", enum=list(meta["options"]))
        if meta["labels"]:
            schema["x-labels"] = meta["labels"]
    elif kind == _SUBSET:
        one = "(" + "|".join(meta["options"]) + ")"
        schema.update(type="string", pattern=f"^{one}(,{one})*$", **{"x-options": list(meta["options"])})
    elif hint is bool:
        schema["type"] = "boolean"
    else:
        schema.update(type="integer" if hint is int else "number", minimum=meta["ge"], maximum=meta["le"])
        schema["x-scale"] = meta["scale"]
        for key in ("step", "unit"):
            if meta[key] is not None:
                schema[f"x-{key}"] = meta[key]
    return schema
