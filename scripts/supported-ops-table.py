#!/usr/bin/env python3
"""Writes the README's supported-ops table from zkml/src/import/ops.rs (the
test `supported_ops` checks that they agree)."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
src = open(os.path.join(ROOT, "zkml/src/import/ops.rs")).read()
linear = re.search(r'const LINEAR: &str = "([^"]*)";', src).group(1)
rows = ["| op | domain | becomes |", "|---|---|---|"]
for kind, name, _, text in re.findall(
        r'\b(op|ml)\(\s*"([A-Za-z]+)",\s*(LINEAR|"((?:[^"\\]|\\.)*)")\s*,?\s*\)', src):
    domain = "onnx" if kind == "op" else "ai.onnx.ml"
    rows.append(f"| `{name}` | {domain} | {text or linear} |")
table = "\n".join(rows) + "\n"
path = os.path.join(ROOT, "README.md")
readme = open(path).read()
start, end = "<!-- supported-ops:start -->\n", "<!-- supported-ops:end -->"
i, j = readme.index(start) + len(start), readme.index(end)
open(path, "w").write(readme[:i] + table + readme[j:])
print(f"{len(rows) - 2} ops")
