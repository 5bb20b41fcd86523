"""The Python examples of the docs, executed as written: each page's
```python blocks run in order in one namespace (their asserts are the
checks), so a page that no longer runs fails the suite."""

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = ["README.md", "docs/python.md", "docs/getting-started.md"]


def python_blocks(page):
    with open(os.path.join(ROOT, page)) as f:
        return re.findall(r"^```python\n(.*?)^```", f.read(), re.S | re.M)


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page, tmp_path, monkeypatch):
    blocks = python_blocks(page)
    if page == "README.md":
        blocks = blocks[:1]  # the ten-line example; later ones are fragments
    assert blocks, f"{page} has no python example"
    monkeypatch.chdir(tmp_path)  # files the examples write stay here
    namespace = {"__name__": "__example__"}
    for index, block in enumerate(blocks):
        code = compile(block, f"{page} (python block {index + 1})", "exec")
        exec(code, namespace)
    # What each page promises at its end.
    if page == "README.md":
        assert namespace["accuracy"] >= 0.80
    if page == "docs/getting-started.md":
        assert namespace["identical"] and os.path.getsize("training.png") > 10000
