"""The README's auto-proxy example runs and prints what the README shows."""
from __future__ import annotations

import contextlib
import io
import re

from tests.conftest import REPO


def test_readme_auto_proxy_example_prints_what_it_shows():
    section = (REPO / "README.md").read_text().split("## Auto-proxy", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    shown = re.search(r"```text\n(.*?)```", section, flags=re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue() == shown
