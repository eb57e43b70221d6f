"""The ?page= of a list: a small positive number, whatever was typed into the URL."""
import re

from flask import request

PAGE = re.compile(r"[0-9]{1,6}")  # ASCII digits only: "²".isdigit() is true, int("²") fails


def page_arg(name: str = "page") -> int:
    raw = request.args.get(name, "1")
    return max(int(raw), 1) if PAGE.fullmatch(raw) else 1
