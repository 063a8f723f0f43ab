"""Rows describing an experiment's config fields, for `modlab show`."""
from __future__ import annotations

import json
import typing


def _type_name(annotation) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("Annotated[", "").replace("NoneType", "None")


def _allowed(field) -> str:
    parts = []
    args = typing.get_args(field.annotation)
    literal = [a for a in ([field.annotation] + list(args)) if typing.get_origin(a) is typing.Literal]
    for lit in literal:
        parts.append(" | ".join(map(str, typing.get_args(lit))))
    for m in field.metadata:
        for name in ("ge", "gt", "le", "lt", "min_length", "pattern"):
            if getattr(m, name, None) is not None:
                parts.append(f"{name} {getattr(m, name)}")
    if field.description:
        parts.append(field.description)
    return "; ".join(parts)


def _show(value) -> str:
    try:
        text = json.dumps(value)
    except TypeError:
        text = str(value)
    return text if len(text) <= 40 else text[:37] + "…"


def field_rows(exp) -> list[tuple[str, ...]]:
    rows = []
    for name, field in exp.config.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default
        presets = [(_show(p[name]) if name in p else "") for p in exp.presets.values()]
        rows.append((name, _type_name(field.annotation), _show(default), *presets, _allowed(field)))
    return rows
