"""Storage URLs are shown and recorded with the password masked."""
from __future__ import annotations

import re

_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]+:)(?P<pw>[^@\s]+)(?=@)")


def mask_text(text: str) -> str:
    """Replace the password of any ``scheme://user:password@host`` URL inside ``text`` by ``***``."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + "***", str(text))


def mask_url(url: str, unparsable: str | None = None) -> str:
    """The URL with its password replaced by ``***``. A string SQLAlchemy cannot read as a URL is
    returned as ``unparsable`` when given, else with anything shaped ``user:password@`` masked."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads
        return mask_text(url) if unparsable is None else unparsable


def mask_overrides(overrides: list[str]) -> list[str]:
    return [mask_text(o) for o in overrides]
