"""Strict query-string fields: numbers are ASCII digits only, lists are comma-separated, text has no NULs."""

from __future__ import annotations

import datetime as dt
import re

from marshmallow import ValidationError, fields, missing

from api.store.models import UNKNOWN_TIME

_DIGITS = re.compile(r"[0-9]{1,9}")  # no signs, spaces, underscores or non-ASCII digits; no 2^70
_ISO_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")
#: NUL, invalid UTF-8 (U+FFFD after decoding), C0 controls, DEL and the noncharacters U+FFFE/U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f\ufffd\ufffe\uffff]")


def _clean(value) -> str:
    if not isinstance(value, str):
        raise ValidationError("Must be a string.")
    if _FORBIDDEN.search(value) is None:
        return value
    if "\x00" in value or "\ufffd" in value:
        raise ValidationError("Contains a NUL byte or invalid UTF-8.")
    raise ValidationError("Contains a control character.")


class StrictInt(fields.Integer):
    """A non-negative decimal integer written with ASCII digits and nothing else."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = _clean(value)
        if not _DIGITS.fullmatch(value):
            raise ValidationError("Must be a whole number written with the digits 0-9 (at most 9 of them).")
        return super()._deserialize(value, attr, data, **kwargs)


class Text(fields.String):
    """Free text without NUL bytes or invalid UTF-8."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(_clean(value), attr, data, **kwargs)


class CsvList(fields.Field):
    """`a,b,c` → ['a', 'b', 'c'], each item validated by `item` (a Field) and deduplicated in order."""

    #: Distinct valid items remembered per list field (field names, slugs, languages: a small vocabulary).
    MEMO_SIZE = 1024

    def __init__(self, item: fields.Field, max_items: int = 20, **kwargs):
        super().__init__(**kwargs)
        self.item = item
        self.max_items = max_items
        self._valid: dict[str, object] = {}  # item text → its deserialized value (an item field is a pure function)

    def _item(self, part: str):
        found = self._valid.get(part, missing)
        if found is missing:
            found = self.item.deserialize(part)  # raises for an invalid item, which is never remembered
            if len(self._valid) < self.MEMO_SIZE:
                self._valid[part] = found
        return found

    def _deserialize(self, value, attr, data, **kwargs):
        parts = [p.strip() for p in _clean(value).split(",")]
        if not parts or any(p == "" for p in parts):
            raise ValidationError("Must be a comma-separated list with no empty items.")
        if len(parts) > self.max_items:
            raise ValidationError(f"At most {self.max_items} values.")
        return list(dict.fromkeys(self._item(p) for p in parts))


class Date(fields.Date):
    """An ISO 8601 calendar date (YYYY-MM-DD)."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = _clean(value)
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValidationError("Must be a date as YYYY-MM-DD.")
        return super()._deserialize(value, attr, data, **kwargs)


_RFC3339 = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,9}))?([Zz]|[+ -][0-9]{2}:[0-9]{2})"
)


class DateTime(fields.DateTime):
    """An RFC 3339 timestamp with a time zone (Z or ±hh:mm), in UTC.

    Fractions of a second may have up to 9 digits (nanoseconds; kept to the microsecond). An unencoded `+` of
    the offset arrives as a space (form decoding), so ` hh:mm` is read as `+hh:mm` instead of refusing it.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        match = _RFC3339.fullmatch(_clean(value))
        if not match:
            raise ValidationError("Must be an RFC 3339 timestamp with a time zone, e.g. 2022-02-21T09:00:00Z.")
        day, time, fraction, offset = match.groups()
        offset = "+00:00" if offset in "Zz" else "+" + offset[1:] if offset[0] == " " else offset
        micro = f".{fraction[:6]:0<6}" if fraction else ""
        try:
            return dt.datetime.fromisoformat(f"{day}T{time}{micro}{offset}").astimezone(dt.UTC)
        except ValueError:
            raise ValidationError("Not a valid timestamp.") from None
        except OverflowError:  # 9999-12-31T23:59:59-00:01 is past the last representable UTC time
            raise ValidationError("Outside the years 1 to 9999 once converted to UTC.") from None


def parse_issue_id(value: str) -> dt.date | None:
    """An issue id: the Monday that starts the week (2022-02-14) or its ISO week (2022-W07); None if malformed."""
    match = _ISO_WEEK.fullmatch(value)
    try:
        if match:
            return dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            return dt.date.fromisoformat(value)
    except ValueError:
        return None
    return None


class IssueId(fields.Field):
    """An issue id in either form; must name a Monday."""

    def _deserialize(self, value, attr, data, **kwargs):
        day = parse_issue_id(_clean(value))
        if day is None:
            raise ValidationError(
                "Must be an issue id: the Monday that starts the week (YYYY-MM-DD) or an ISO week (YYYY-Www)."
            )
        if day.weekday() != 0:
            raise ValidationError("An issue id is the Monday that starts the issue week.")
        return day


class KnownTime(fields.DateTime):
    """An article's publication or update time, null when the archive does not know it (stored as UNKNOWN_TIME)."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", allow_none=True, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None or value == UNKNOWN_TIME:
            return None
        return super()._serialize(value, attr, obj, **kwargs)


# --------------------------------------------------------------------------- response fields with a dump context


def dump_context(field: fields.Field):
    """The dump context (language, base URL, body format) of the schema instance `field` belongs to: passed to the
    top schema explicitly (`Schema(context=…)`) and handed down by Nested; never ambient."""
    context = getattr(field.root, "context", None)
    if context is None:
        raise TypeError(f"{type(field.root).__name__} was dumped without a context: pass Schema(context=…)")
    return context


class Computed(fields.Field):
    """A value computed at dump time by `func(obj, context)`; `context` is the dump's (see dump_context)."""

    _CHECK_ATTRIBUTE = False

    def __init__(self, func, **kwargs):
        super().__init__(dump_only=True, **kwargs)
        self.func = func

    def _serialize(self, value, attr, obj, **kwargs):
        return self.func(obj, dump_context(self))


class Nested(fields.Nested):
    """A nested schema that dumps with its parent's context."""

    def _serialize(self, nested_obj, attr, obj, **kwargs):
        # The nested instance belongs to this field, which belongs to one schema instance: set, not shared.
        self.schema.context = getattr(self.root, "context", None)
        return super()._serialize(nested_obj, attr, obj, **kwargs)


class OneOf(fields.Field):
    """A value that is one of several schemas, told apart by a discriminating property (the change feed's items)."""

    def __init__(self, mapping: dict, property_name: str, **kwargs):
        super().__init__(**kwargs)
        self.mapping, self.property_name = mapping, property_name

    def kind(self, value) -> str:
        return value[self.property_name] if isinstance(value, dict) else getattr(value, self.property_name)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return self.mapping[self.kind(value)](context=dump_context(self)).dump(value)
