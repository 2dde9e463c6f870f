"""Compiled dumpers: a marshmallow schema turned, once, into a plain function with the same output.

The response schemas in schemas/output.py stay the single definition of every body (the OpenAPI document is
generated from them); `dumper(Schema)` reads a schema's bound fields once and returns `dump(obj) -> dict` that does
what `Schema().dump(obj)` does for the field types used here, without marshmallow's per-field dispatch (value
lookup through the accessor, default handling and `_serialize` for every field of every object). A cold list of
20 articles dumps in a fraction of the time. Field types it does not specialise go through the field's own
`serialize`, and a schema with pre/post-dump hooks gets its own `dump`, so no schema is ever dumped wrongly;
tests/test_compiled.py checks the output equals marshmallow's for every response schema over the sample archive.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from marshmallow import Schema, fields, missing


def _item_or_attribute(obj: Any, key: str, default: Any) -> Any:
    """marshmallow's lookup (utils._get_value_for_key) for objects with item access: the item, else the attribute."""
    try:
        return obj[key]
    except (KeyError, IndexError, TypeError, AttributeError):
        return getattr(obj, key, default)


def _text(value):
    return None if value is None else value if type(value) is str else fields.String()._serialize(value, None, None)


def _integer(value):
    return None if value is None else int(value)


def _iso(value):
    return None if value is None else value.isoformat()


def _value_serializer(field: fields.Field) -> Callable[[Any], Any]:
    """value → dumped value for a field whose value has been looked up already."""
    kind = type(field)
    if kind is fields.String:
        return _text
    if kind is fields.Integer and not field.as_string:
        return _integer
    if kind in (fields.DateTime, fields.Date) and (field.format or field.DEFAULT_FORMAT) in ("iso", "iso8601"):
        return _iso
    if kind is fields.Nested and not field.many and not field.schema.many:
        sub = _compile(field.schema)
        return lambda value: None if value is None else sub(value)
    if kind is fields.List:
        inner = _value_serializer(field.inner)
        return lambda value: None if value is None else [inner(each) for each in value]
    return lambda value: field._serialize(value, None, None)


def _has_dump_hooks(schema: Schema) -> bool:
    return any(schema._hooks.get(tag) for tag in ("pre_dump", "post_dump"))


def _compile(schema: Schema) -> Callable[[Any], dict]:
    """dump(obj) for a bound schema instance (a Nested field's schema keeps its only/exclude).

    The function is generated as Python source, one statement per field, so a dump is straight-line code: no
    loop over a field plan, no per-field call for the common value types.
    """
    if _has_dump_hooks(schema) or schema.many:
        return schema.dump
    names: dict[str, Any] = {"missing": missing, "_item_or_attribute": _item_or_attribute}
    lines = [
        "def dump(obj):",
        "    out = {}",
        "    lookup = _item_or_attribute if hasattr(obj, '__getitem__') else getattr",
    ]
    for i, (name, field) in enumerate(schema.dump_fields.items()):
        key = field.data_key if field.data_key is not None else name
        if type(field) is fields.Function and field.serialize_func is not None:
            names[f"f{i}"] = field.serialize_func
            lines += [f"    v = f{i}(obj)", "    if v is not missing:", f"        out[{key!r}] = v"]
        elif field._CHECK_ATTRIBUTE and (field.attribute or name).find(".") < 0:
            serializer = names[f"s{i}"] = _value_serializer(field)
            names[f"d{i}"] = field
            lines += [
                f"    v = lookup(obj, {(field.attribute or name)!r}, missing)",
                "    if v is missing:",
                f"        v = d{i}.dump_default() if callable(d{i}.dump_default) else d{i}.dump_default",
                "    if v is not missing:",
                f"        out[{key!r}] = {_inline(serializer, i)}",
            ]
        else:  # anything else: the field's own serialize, with the schema's accessor
            names[f"d{i}"], names["accessor"] = field, schema.get_attribute
            lines += [
                f"    v = d{i}.serialize({name!r}, obj, accessor=accessor)",
                "    if v is not missing:",
                f"        out[{key!r}] = v",
            ]
    lines.append("    return out")
    exec(compile("\n".join(lines), f"<dumper {type(schema).__name__}>", "exec"), names)  # noqa: S102
    return names["dump"]


def _inline(serializer: Callable[[Any], Any], i: int) -> str:
    """The expression that dumps the looked-up value `v` of field number `i`, whose serializer is `s{i}`."""
    if serializer is _text:
        return f"v if v is None or type(v) is str else s{i}(v)"
    if serializer is _integer:
        return "None if v is None else int(v)"
    if serializer is _iso:
        return "None if v is None else v.isoformat()"
    return f"s{i}(v)"


@cache
def dumper(schema: type[Schema]) -> Callable[[Any], dict]:
    """The compiled dump of `schema` (a class; compiled on first use, then shared)."""
    return _compile(schema())


def dump_many(schema: type[Schema], objs) -> list[dict]:
    dump = dumper(schema)
    return [dump(obj) for obj in objs]
