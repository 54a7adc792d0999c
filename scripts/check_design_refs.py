#!/usr/bin/env python3
"""Every "DESIGN.md §N" cited in the code points at a section docs/DESIGN.md has; a bare
"DESIGN N" (a document by another name) is an error.

usage: check_design_refs.py [--root DIR]
"""
import os
import re
import sys

root = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "--root" else \
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(root, "docs", "DESIGN.md"), encoding="utf-8") as f:
    sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", f.read(), re.M))
bad = n = 0
for top in ("src", "include", "examples", "tests", "bench", "python", "scripts"):
    for d, _, files in os.walk(os.path.join(root, top)):
        for name in files:
            if not name.endswith((".c", ".h", ".cpp", ".py", ".cmake", ".sh", ".txt", ".md")):
                continue
            path = os.path.join(d, name)
            with open(path, encoding="utf-8", errors="replace") as f:
                for ln, line in enumerate(f, 1):
                    for m in re.finditer(r"DESIGN\.md §(\d+(?:\.\d+)?)", line):
                        n += 1
                        if m.group(1) not in sections:
                            print(f"{os.path.relpath(path, root)}:{ln}: DESIGN.md has no §{m.group(1)}",
                                  file=sys.stderr)
                            bad += 1
                    if re.search(r"\bDESIGN [0-9]", line):
                        print(f"{os.path.relpath(path, root)}:{ln}: cite docs/DESIGN.md as "
                              f"'DESIGN.md §N': {line.strip()}", file=sys.stderr)
                        bad += 1
print(f"check_design_refs: {n} references to {len(sections)} sections, {bad} problems",
      file=sys.stderr)
sys.exit(1 if bad else 0)
