"""Storage URLs are shown and recorded with the password masked."""
from __future__ import annotations

import re

_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]+:)(?P<pw>[^@\s]+)(?=@)")


def mask_url(text: str) -> str:
    """Replace the password of any ``scheme://user:password@host`` URL in ``text`` by ``***``."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + "***", text)


def mask_overrides(overrides: list[str]) -> list[str]:
    return [mask_url(o) for o in overrides]
