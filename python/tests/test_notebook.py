"""The researcher's notebook in examples/, executed headless against the
test gateway, its outputs checked."""

from __future__ import annotations

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_notebook_runs_and_verifies(gateway, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("ZKGATE_URL", gateway.url)
    monkeypatch.setenv("ZKGATE_TOKEN", gateway.token)
    monkeypatch.setenv("ZKGATE_CA", str(gateway.ca))
    nb = nbformat.read(ROOT / "examples/researcher.ipynb", as_version=4)
    t = time.monotonic()
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    print(f"notebook ran in {time.monotonic() - t:.1f} s")

    def text(cell) -> str:
        out = []
        for o in cell.outputs:
            if o.output_type == "stream":
                out.append(o.text)
            elif "data" in o and "text/plain" in o.data:
                out.append(o.data["text/plain"])
        return "".join(out)

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "breast_cancer" in text(code[0]) and "120" in text(code[0])
    assert text(code[2]).startswith("allow allow")
    assert "'accuracy'" in text(code[3])
    verdict = text(code[4])
    assert verdict.startswith("valid: {") and "checked: model" in verdict, verdict
    assert text(code[5]).startswith("refused:"), text(code[5])
