"""An issue week as each edition of the bulletin prints it: the English site writes `February 14 – February 20,
2022`, the Russian and Belarusian ones `14 – 20 февраля 2022` (day before month, the month in the genitive, the
month once when the week stays in it, the year once at the end unless the week crosses years)."""

from __future__ import annotations

import datetime as dt

_GENITIVE = {
    "ru": ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
           "ноября", "декабря"),
    "be": ("студзеня", "лютага", "сакавіка", "красавіка", "мая", "чэрвеня", "ліпеня", "жніўня", "верасня",
           "кастрычніка", "лістапада", "снежня"),
}  # fmt: skip
_ENGLISH = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December",
)  # fmt: skip
LANGUAGES = ("en", *_GENITIVE)


def week_title(start: dt.date, lang: str = "en") -> tuple[str, str]:
    """(title of the week starting `start`, the language it is written in): `lang` when known, else English."""
    end = start + dt.timedelta(days=6)
    months = _GENITIVE.get(lang)
    if months is None:
        month = _ENGLISH
        if start.year != end.year:
            return (
                f"{month[start.month - 1]} {start.day}, {start.year} – {month[end.month - 1]} {end.day}, {end.year}",
                "en",
            )
        return f"{month[start.month - 1]} {start.day} – {month[end.month - 1]} {end.day}, {end.year}", "en"
    if start.year != end.year:
        return (
            f"{start.day} {months[start.month - 1]} {start.year} – {end.day} {months[end.month - 1]} {end.year}",
            lang,
        )
    if start.month != end.month:
        return f"{start.day} {months[start.month - 1]} – {end.day} {months[end.month - 1]} {end.year}", lang
    return f"{start.day} – {end.day} {months[end.month - 1]} {end.year}", lang
