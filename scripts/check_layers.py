#!/usr/bin/env python3
"""Layers point down: reads the #include graph of src/, include/ and examples/ (and, given the
static library, which object calls which) and fails on an edge that reaches up a layer.

The layers and their order are the table in docs/DESIGN.md ("Layers"); this script reads that
table, so the document and the check cannot disagree. Rules:
  1. A file in src/<layer>/ includes only headers of its own layer or of layers below it. A public
     topic header include/itscale/<topic>.h belongs to the layer of that name; include/itscale.h
     (the umbrella of types and entry points) may be included by anyone.
  2. No file outside a layer's folder includes that layer's *_internal.h.
  3. examples/ include only the public headers (include/), never src/.
  4. With --lib libitscale.a: an object of one layer calls no function defined in a layer above
     (a declaration in a public header does not hide an upward call).
Known edges that still go up are listed in scripts/check_layers.allow, one per line; an
allowed edge that no longer occurs is an error too, so the list only shrinks.

usage: check_layers.py [--root DIR] [--lib libitscale.a] [--graph]
"""
import argparse
import os
import re
import subprocess
import sys

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def read_layers(root):
    """[(rank, name, folder)] from the layer table of docs/DESIGN.md."""
    path = os.path.join(root, "docs", "DESIGN.md")
    rows = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    sec = re.search(r"^### Layers\n(.*?)(?=^#)", text, re.M | re.S)
    if not sec:
        sys.exit(f"check_layers: no '### Layers' section in {path}")
    for m in re.finditer(r"^\|\s*(\d+)\s*\|\s*(\w+)\s*\|\s*`(src/[\w/]+?)/?`", sec.group(1), re.M):
        rows.append((int(m.group(1)), m.group(2), m.group(3)))
    if len(rows) < 3:
        sys.exit(f"check_layers: the layer table in {path} has {len(rows)} rows")
    return rows


def sources(root, top):
    for d, _, files in os.walk(os.path.join(root, top)):
        if "/build" in d or "/." in d:
            continue
        for f in files:
            if f.endswith((".c", ".h", ".cpp")):
                yield os.path.relpath(os.path.join(d, f), root)


def resolve(root, src, inc):
    """The repository path an #include "inc" in src reaches, or None (a system or generated
    header). Order as the compiler's: the including file's folder, then src/, then include/."""
    for base in (os.path.dirname(src), "src", "include"):
        p = os.path.normpath(os.path.join(base, inc))
        if os.path.isfile(os.path.join(root, p)):
            return p
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--lib", help="libitscale.a: also check which object calls which")
    ap.add_argument("--graph", action="store_true", help="print the include graph between layers")
    a = ap.parse_args()
    root = a.root
    layers = read_layers(root)
    by_folder = {folder: (rank, name) for rank, name, folder in layers}
    by_name = {name: (rank, name) for rank, name, _ in layers}

    def layer_of(path):
        for folder, v in by_folder.items():
            if path.startswith(folder + "/"):
                return v
        m = re.match(r"include/itscale/(\w+)\.h$", path)
        if m and m.group(1) in by_name:
            return by_name[m.group(1)]
        return None

    allow_path = os.path.join(root, "scripts", "check_layers.allow")
    allowed = {}
    with open(allow_path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if line:
                allowed[line] = n

    edges = []   # (kind, from, to, why)
    graph = set()
    for top in ("src", "include", "examples"):
        for src in sorted(sources(root, top)):
            with open(os.path.join(root, src), encoding="utf-8", errors="replace") as f:
                incs = INCLUDE_RE.findall(f.read())
            lf = layer_of(src)
            for inc in incs:
                dst = resolve(root, src, inc)
                if not dst:
                    continue
                lt = layer_of(dst)
                if lf and lt and lf != lt:
                    graph.add((lf, lt))
                if top == "examples" and dst.startswith("src/"):
                    edges.append(("include", src, dst, "a program includes a library-internal header"))
                elif dst.endswith("_internal.h") and os.path.dirname(dst) != os.path.dirname(src):
                    edges.append(("include", src, dst, "another layer's internal header"))
                elif lf and lt and lt[0] > lf[0]:
                    edges.append(("include", src, dst, f"{lf[1]} (layer {lf[0]}) reaches up to "
                                  f"{lt[1]} (layer {lt[0]})"))

    if a.lib:
        # member basename -> layer (basenames are unique in src/)
        member_layer = {}
        for src in sources(root, "src"):
            if src.endswith(".c"):
                member_layer[os.path.basename(src) + ".o"] = (layer_of(src), src)
        out = subprocess.run(["nm", "-A", a.lib], capture_output=True, text=True, check=True).stdout
        defined, undefined = {}, []
        for line in out.splitlines():
            m = re.match(r"^[^:]+:([^:]+):\s*(?:[0-9a-fA-F]+)?\s+([A-Za-z])\s+(\S+)$", line)
            if not m or m.group(1) not in member_layer:
                continue
            member, typ, sym = m.groups()
            if typ == "U":
                undefined.append((member, sym))
            elif typ in "TDBR":
                defined[sym] = member
        for member, sym in undefined:
            if sym not in defined:
                continue
            (lf, src), (lt, dst) = member_layer[member], member_layer[defined[sym]]
            if lf and lt and lt[0] > lf[0]:
                edges.append(("call", src, f"{dst}: {sym}()", f"{lf[1]} (layer {lf[0]}) calls "
                              f"up to {lt[1]} (layer {lt[0]})"))

    if a.graph:
        for (f, t) in sorted(graph):
            print(f"{f[1]} -> {t[1]}{'   UP' if t[0] > f[0] else ''}")

    bad, seen = 0, set()
    for kind, src, dst, why in edges:
        key = f"{kind} {src} -> {dst}"
        seen.add(key)
        if key in allowed:
            continue
        print(f"check_layers: {key}: {why}", file=sys.stderr)
        bad += 1
    for key, n in sorted(allowed.items(), key=lambda kv: kv[1]):
        if key.startswith("call ") and not a.lib:
            continue
        if key not in seen:
            print(f"check_layers: {allow_path}:{n}: '{key}' no longer occurs: remove the line",
                  file=sys.stderr)
            bad += 1
    left = sum(1 for k in allowed if k in seen)
    print(f"check_layers: {len(layers)} layers, {len(edges)} upward edges, {left} of them "
          f"allowed in scripts/check_layers.allow, {bad} problems", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
