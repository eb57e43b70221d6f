"""Adding and removing attendee rows without JavaScript: the form posts back to itself."""
import re
from datetime import date

from werkzeug.datastructures import MultiDict

# ASCII digits, at most three: WTForms' own parsing fails on "²" or a 5,000-digit index.
ROW_KEY = re.compile(r"^attendees-([0-9]{1,3})-(.+)$")


def rebuild_rows(formdata: MultiDict, *, drop: int | None = None, add: bool = False,
                 starts_on: date | None = None, ends_on: date | None = None,
                 max_rows: int = 50) -> MultiDict:
    """Return the posted data with row `drop` removed or a blank row added, renumbered 0..n-1.

    Keys that look like attendee rows but are not well formed are dropped.
    """
    rows: dict[int, list[tuple[str, str]]] = {}
    rebuilt = MultiDict()
    for key, value in formdata.items(multi=True):
        match = ROW_KEY.match(key)
        if match:
            rows.setdefault(int(match.group(1)), []).append((match.group(2), value))
        elif not key.startswith("attendees-") and key not in ("add_attendee", "remove_attendee"):
            rebuilt.add(key, value)
    ordered = [rows[i] for i in sorted(rows) if i != drop or len(rows) == 1]
    if add and len(ordered) < max_rows:
        blank = [("accommodation", "shared"), ("diet", "none")]
        if starts_on and ends_on:
            blank += [("arrival_on", starts_on.isoformat()), ("departure_on", ends_on.isoformat())]
        ordered.append(blank)
    for number, row in enumerate(ordered):
        for name, value in row:
            rebuilt.add(f"attendees-{number}-{name}", value)
    return rebuilt


def clean_rows(formdata: MultiDict) -> MultiDict:
    """The posted data with only well-formed attendee rows, numbered 0..n-1."""
    return rebuild_rows(formdata, max_rows=10**6)


def row_action(formdata: MultiDict) -> tuple[bool, int | None] | None:
    """Tell whether the post asks to add a row or remove one (and which), or neither."""
    if "add_attendee" in formdata:
        return True, None
    if "remove_attendee" in formdata:
        try:
            return False, int(formdata.get("remove_attendee", ""))
        except ValueError:
            return False, None
    return None


def posted_row_count(formdata: MultiDict) -> int:
    """How many distinct attendee rows the post carries."""
    return len({match.group(1) for key in formdata if (match := ROW_KEY.match(key))})
