"""The auto-proxy docs page's policy example runs and prints what the page shows."""
from __future__ import annotations

import contextlib
import io

from tests.conftest import doc_blocks

PAGE = "docs/auto_proxy.md"


def test_docs_auto_proxy_example_prints_what_it_shows():
    (_, code_line, code), *_ = doc_blocks("python", [PAGE])
    # the output shown is the first text block after the example (other sections show other outputs)
    shown = next(text for _, line, text in doc_blocks("text", [PAGE]) if line > code_line)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, PAGE, "exec"), {})
    assert out.getvalue() == shown
