"""Adding and removing form rows without JavaScript: the form posts back to itself.

A list of rows is named by its prefix: the attendees of a registration ("attendees"), the
fee tiers, schedule items or contacts of an event.  Row fields are posted as
"<prefix>-<n>-<field>"; the buttons are "add_<row>" and "remove_<row>" (value: the row's
number), where <row> is the prefix without its plural "s" ("attendees" -> "add_attendee").
"""
import re
from datetime import date

from werkzeug.datastructures import MultiDict

# ASCII digits, at most three: WTForms' own parsing fails on "²" or a 5,000-digit index.
ROW_KEY = re.compile(r"^attendees-([0-9]{1,3})-(.+)$")


def _row_key(prefix: str) -> re.Pattern:
    if prefix == "attendees":
        return ROW_KEY
    return re.compile(rf"^{re.escape(prefix)}-([0-9]{{1,3}})-(.+)$")


def _buttons(prefix: str) -> tuple[str, str]:
    row = prefix.removesuffix("s")
    return f"add_{row}", f"remove_{row}"


def rebuild_rows(formdata: MultiDict, *, drop: int | None = None, add: bool = False,
                 starts_on: date | None = None, ends_on: date | None = None,
                 max_rows: int = 50, prefix: str = "attendees", min_rows: int = 1,
                 blank: list[tuple[str, str]] | None = None) -> MultiDict:
    """Return the posted data with row `drop` removed or a blank row added, renumbered 0..n-1.

    Keys that look like rows of `prefix` but are not well formed are dropped; other keys
    (other lists included) are kept as they are.  A row is not removed when only
    `min_rows` are left.  `blank` is the new row's initial values (by default an
    attendee's, with the event's dates).
    """
    row_key = _row_key(prefix)
    buttons = _buttons(prefix)
    rows: dict[int, list[tuple[str, str]]] = {}
    rebuilt = MultiDict()
    for key, value in formdata.items(multi=True):
        match = row_key.match(key)
        if match:
            rows.setdefault(int(match.group(1)), []).append((match.group(2), value))
        elif not key.startswith(f"{prefix}-") and key not in buttons:
            rebuilt.add(key, value)
    ordered = [rows[i] for i in sorted(rows) if i != drop or len(rows) <= min_rows]
    if add and len(ordered) < max_rows:
        if blank is None:
            blank = [("accommodation", "shared"), ("diet", "none")]
            if starts_on and ends_on:
                blank += [("arrival_on", starts_on.isoformat()),
                          ("departure_on", ends_on.isoformat())]
        ordered.append(list(blank))
    for number, row in enumerate(ordered):
        for name, value in row:
            rebuilt.add(f"{prefix}-{number}-{name}", value)
    return rebuilt


def clean_rows(formdata: MultiDict, prefix: str = "attendees") -> MultiDict:
    """The posted data with only well-formed rows of `prefix`, numbered 0..n-1."""
    return rebuild_rows(formdata, max_rows=10**6, prefix=prefix, min_rows=0)


def row_action(formdata: MultiDict,
               prefix: str = "attendees") -> tuple[bool, int | None] | None:
    """Tell whether the post asks to add a row or remove one (and which), or neither."""
    add_button, remove_button = _buttons(prefix)
    if add_button in formdata:
        return True, None
    if remove_button in formdata:
        try:
            return False, int(formdata.get(remove_button, ""))
        except ValueError:
            return False, None
    return None


def posted_row_count(formdata: MultiDict, prefix: str = "attendees") -> int:
    """How many distinct rows of `prefix` the post carries."""
    row_key = _row_key(prefix)
    return len({match.group(1) for key in formdata if (match := row_key.match(key))})
