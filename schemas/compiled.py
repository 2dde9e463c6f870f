"""Compiled dumpers: a marshmallow schema turned, once, into a plain function with the same output.

The response schemas in schemas/output.py stay the single definition of every body (the OpenAPI document is
generated from them); `dumper(Schema)` reads a schema's bound fields once and returns `dump(obj, context) -> dict`
that does what `Schema(context=context).dump(obj)` does for the field types used here, without marshmallow's per-field dispatch (value
lookup through the accessor, default handling and `_serialize` for every field of every object). A cold list of
20 articles dumps in a fraction of the time. Field types it does not specialise go through the field's own
`serialize`, and a schema with pre/post-dump hooks gets its own `dump`, so no schema is ever dumped wrongly;
tests/test_compiled.py checks the output equals marshmallow's for every response schema over the sample archive.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from marshmallow import Schema, fields, missing

from schemas.fields import Computed, Nested, OneOf
from schemas.output import OutputSchema


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


def needs_context(field: fields.Field, seen: frozenset = frozenset()) -> bool:
    """Whether dumping `field` reads the dump context (a computed field somewhere inside it)."""
    if isinstance(field, (Computed, OneOf)):
        return True
    if isinstance(field, fields.Nested):
        schema = field.schema
        if type(schema) in seen:
            return False
        return any(needs_context(f, seen | {type(schema)}) for f in schema.dump_fields.values())
    inner = [getattr(field, name, None) for name in ("inner", "key_field", "value_field")]
    return any(needs_context(f, seen) for f in inner if isinstance(f, fields.Field))


def _value_serializer(field: fields.Field) -> Callable[[Any, Any], Any]:
    """(value, context) → dumped value for a field whose value has been looked up already."""
    kind = type(field)
    if kind is fields.String:
        return lambda value, context: _text(value)
    if kind is fields.Integer and not field.as_string:
        return lambda value, context: _integer(value)
    if kind in (fields.DateTime, fields.Date) and (field.format or field.DEFAULT_FORMAT) in ("iso", "iso8601"):
        return lambda value, context: _iso(value)
    if (
        isinstance(field, fields.Nested)
        and kind in (fields.Nested, Nested)
        and not field.many
        and not field.schema.many
    ):
        sub = _compile(field.schema)
        return lambda value, context: None if value is None else sub(value, context)
    if kind is fields.List:
        inner = _value_serializer(field.inner)
        return lambda value, context: None if value is None else [inner(each, context) for each in value]
    if kind is fields.Dict:
        keys = _value_serializer(field.key_field) if field.key_field is not None else None
        values = _value_serializer(field.value_field) if field.value_field is not None else None
        return lambda value, context: (
            None
            if value is None
            else {(keys(k, context) if keys else k): (values(v, context) if values else v) for k, v in value.items()}
        )
    if kind is OneOf:
        subs = {name: _compile(schema()) for name, schema in field.mapping.items()}
        return lambda value, context: None if value is None else subs[field.kind(value)](value, context)
    if needs_context(field):
        raise TypeError(f"the compiled dumper cannot pass the dump context through a {kind.__name__} field")
    return lambda value, context: field._serialize(value, None, None)


def _has_dump_hooks(schema: Schema) -> bool:
    return any(schema._hooks.get(tag) for tag in ("pre_dump", "post_dump"))


def _marshmallow_dump(schema: Schema) -> Callable[[Any, Any], dict]:
    """dump(obj, context) by marshmallow itself: a fresh instance per dump, so contexts never meet."""
    options = {"only": schema.only, "exclude": schema.exclude, "many": schema.many}
    if isinstance(schema, OutputSchema):
        return lambda obj, context: type(schema)(context=context, **options).dump(obj)
    return lambda obj, context: schema.dump(obj)


def _compile(schema: Schema) -> Callable[[Any, Any], dict]:
    """dump(obj, context) for a bound schema instance (a Nested field's schema keeps its only/exclude).

    The function is generated as Python source, one statement per field, so a dump is straight-line code: no
    loop over a field plan, no per-field call for the common value types. `context` goes to every computed field
    and nested dump as an argument.
    """
    if _has_dump_hooks(schema) or schema.many:
        return _marshmallow_dump(schema)
    names: dict[str, Any] = {"missing": missing, "_item_or_attribute": _item_or_attribute}
    lines = [
        "def dump(obj, context):",
        "    out = {}",
        "    lookup = _item_or_attribute if hasattr(obj, '__getitem__') else getattr",
    ]
    for i, (name, field) in enumerate(schema.dump_fields.items()):
        key = field.data_key if field.data_key is not None else name
        if type(field) is Computed:
            names[f"f{i}"] = field.func
            lines += [f"    v = f{i}(obj, context)", "    if v is not missing:", f"        out[{key!r}] = v"]
        elif type(field) is fields.Function and field.serialize_func is not None:
            names[f"f{i}"] = field.serialize_func
            lines += [f"    v = f{i}(obj)", "    if v is not missing:", f"        out[{key!r}] = v"]
        elif field._CHECK_ATTRIBUTE and (field.attribute or name).find(".") < 0:
            names[f"s{i}"] = _value_serializer(field)
            names[f"d{i}"] = field
            lines += [
                f"    v = lookup(obj, {(field.attribute or name)!r}, missing)",
                "    if v is missing:",
                f"        v = d{i}.dump_default() if callable(d{i}.dump_default) else d{i}.dump_default",
                "    if v is not missing:",
                f"        out[{key!r}] = {_inline(field, i)}",
            ]
        else:  # anything else: the field's own serialize, with the schema's accessor
            if needs_context(field):
                raise TypeError(f"the compiled dumper cannot pass the dump context through field {name!r}")
            names[f"d{i}"], names["accessor"] = field, schema.get_attribute
            lines += [
                f"    v = d{i}.serialize({name!r}, obj, accessor=accessor)",
                "    if v is not missing:",
                f"        out[{key!r}] = v",
            ]
    lines.append("    return out")
    exec(compile("\n".join(lines), f"<dumper {type(schema).__name__}>", "exec"), names)  # noqa: S102
    return names["dump"]


def _inline(field: fields.Field, i: int) -> str:
    """The expression that dumps the looked-up value `v` of field number `i`, whose serializer is `s{i}`."""
    kind = type(field)
    if kind is fields.String:
        return f"v if v is None or type(v) is str else s{i}(v, context)"
    if kind is fields.Integer and not field.as_string:
        return "None if v is None else int(v)"
    if kind in (fields.DateTime, fields.Date) and (field.format or field.DEFAULT_FORMAT) in ("iso", "iso8601"):
        return "None if v is None else v.isoformat()"
    return f"s{i}(v, context)"


@lru_cache(maxsize=512)
def dumper(schema: type[Schema], exclude: tuple[str, ...] = ()) -> Callable[[Any, Any], dict]:
    """The compiled `dump(obj, context)` of `schema` without the fields `exclude` names (marshmallow's dotted
    names: `data.body` leaves `body` out of every item of `data`); compiled on first use, then shared. `context`
    is the dump context (schemas.output.DumpContext, or the request's api.context.RequestContext)."""
    return _compile(schema(exclude=exclude) if exclude else schema())


def dump_many(schema: type[Schema], objs, context) -> list[dict]:
    dump = dumper(schema)
    return [dump(obj, context) for obj in objs]
