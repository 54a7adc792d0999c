#!/usr/bin/env python3
"""The cost grid of `bench_scaling --grid --csv FILE` as a log-log SVG: library time per NFE and
element against dim, one panel per method, one line per particle count, and the memory bound of
an Euler step (12 bytes per element at the single-thread triad bandwidth measured by the same
run, in DRAM and in L2) drawn across every panel. Same look as the quality-vs-compute curves
(examples/itscale/cli_plot.c).

Usage: plot_scaling.py GRID.csv OUT.svg [--title TEXT]
"""
import argparse
import csv
import math
from collections import defaultdict

PW, PH, ML, MR, MT, MB, COLS = 430.0, 330.0, 72.0, 18.0, 34.0, 58.0, 2
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]


def esc(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def read(path):
    meta, machine, rows = {}, "", []
    with open(path) as f:
        lines = []
        for line in f:
            if line.startswith("# machine:"):
                machine = line[len("# machine:"):].strip()
            elif line.startswith("#"):
                for kv in line[1:].split():
                    k, _, v = kv.partition("=")
                    meta[k] = v
            else:
                lines.append(line)
    for r in csv.DictReader(lines):
        rows.append(r)
    return machine, meta, rows


def dim_label(d):
    if d >= 1 << 20 and d % (1 << 20) == 0:
        return "%dM" % (d >> 20)
    if d >= 1 << 10 and d % (1 << 10) == 0:
        return "%dK" % (d >> 10)
    return str(d)


def panel(out, title, series, bounds, ox, oy, lx0, lx1, ly0, ly1):
    x0, x1, y0, y1 = ox + ML, ox + PW - MR, oy + MT, oy + PH - MB

    def sx(v):
        return x0 + (math.log10(v) - lx0) / (lx1 - lx0) * (x1 - x0)

    def sy(v):
        return y1 - (math.log10(v) - ly0) / (ly1 - ly0) * (y1 - y0)

    out.append('<g>\n<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fff" '
               'stroke="#444" stroke-width="1"/>' % (x0, y0, x1 - x0, y1 - y0))
    out.append('<text x="%.1f" y="%.1f" font-size="14" font-weight="bold" '
               'text-anchor="middle">%s</text>' % ((x0 + x1) / 2, oy + MT - 10, esc(title)))
    # y: decades labelled, 2 and 5 as minor grid
    for dec in range(math.floor(ly0), math.ceil(ly1) + 1):
        for m in range(1, 10):
            v = m * 10.0 ** dec
            lv = math.log10(v)
            if lv < ly0 - 1e-9 or lv > ly1 + 1e-9:
                continue
            out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>'
                       % (x0, sy(v), x1, sy(v), "#dcdcdc" if m == 1 else "#f2f2f2"))
            if m in (1,) or (m in (2, 5) and ly1 - ly0 <= 3):
                out.append('<text x="%.1f" y="%.1f" font-size="11" text-anchor="end">%g</text>'
                           % (x0 - 6, sy(v) + 4, v))
    # x: powers of 2, labelled at 2, 16, ..., 64K and 1M
    for e in range(1, 21):
        v = 2 ** e
        out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>'
                   % (sx(v), y0, sx(v), y1, "#dcdcdc" if e % 2 == 1 else "#f2f2f2"))
        if e in (1, 4, 7, 10, 13, 16, 20):
            out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#444"/>'
                       % (sx(v), y1, sx(v), y1 + 5))
            out.append('<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%s</text>'
                       % (sx(v), y1 + 18, dim_label(v)))
    out.append('<text x="%.1f" y="%.1f" font-size="12" text-anchor="middle">dim (floats per '
               'particle, log scale)</text>' % ((x0 + x1) / 2, y1 + 38))
    out.append('<text transform="translate(%.1f %.1f) rotate(-90)" font-size="12" '
               'text-anchor="middle">library ns per NFE per element (log)</text>'
               % (ox + 18, (y0 + y1) / 2))
    for val, col, dash, label in bounds:
        if not (ly0 <= math.log10(val) <= ly1):
            continue
        out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" '
                   'stroke-width="1.6" stroke-dasharray="%s"/>' % (x0, sy(val), x1, sy(val),
                                                                  col, dash))
        out.append('<text x="%.1f" y="%.1f" font-size="10" fill="%s" text-anchor="end">%s'
                   '</text>' % (x1 - 4, sy(val) + 13, col, esc(label)))
    for i, (name, pts) in enumerate(series):
        col = PALETTE[i % len(PALETTE)]
        if not pts:
            continue
        out.append("<g>\n<title>%s</title>" % esc(name))
        if len(pts) > 1:
            out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                       % (col, " ".join("%.1f,%.1f" % (sx(x), sy(y)) for x, y in pts)))
        for x, y in pts:
            out.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s" stroke="#fff" '
                       'stroke-width="1"/>' % (sx(x), sy(y), col))
        out.append("</g>")
    out.append("</g>")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("svg")
    ap.add_argument("--title", default="Library time per NFE and element against dim")
    a = ap.parse_args()
    machine, meta, rows = read(a.csv)
    methods, parts = [], []
    data = defaultdict(list)
    for r in rows:
        m, p = r["method"], int(r["particles"])
        if m not in methods:
            methods.append(m)
        if p not in parts:
            parts.append(p)
        data[(m, p)].append((int(r["dim"]), float(r["lib_ns_per_elem"])))
    parts.sort()
    ys = [y for v in data.values() for _, y in v if y > 0]
    dram = 12.0 / float(meta["triad_dram_gbs"])
    l2 = 12.0 / float(meta["triad_l2_gbs"])
    ys += [dram, l2]
    # a decade's margin below a line that would sit on the bottom edge, for its label
    ly0, ly1 = math.floor(math.log10(min(ys)) - 0.2), math.ceil(math.log10(max(ys)))
    lx0, lx1 = math.log10(2) - 0.25, math.log10(2 ** 20) + 0.25
    bounds = [(dram, "#000", "7,4", "memory bound, DRAM: 12 B / %.1f GB/s = %.2f ns"
               % (float(meta["triad_dram_gbs"]), dram)),
              (l2, "#666", "2,3", "in L2: 12 B / %.0f GB/s = %.3f ns"
               % (float(meta["triad_l2_gbs"]), l2))]
    cols = min(COLS, len(methods))
    nrows = (len(methods) + cols - 1) // cols
    per_row = 4
    lrows = (len(parts) + per_row - 1) // per_row
    head = 62 + 22.0 * lrows
    W, H = PW * cols + 20, head + PH * nrows + 10
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f '
           '%.0f" font-family="Helvetica, Arial, sans-serif">' % (W, H, W, H),
           '<rect width="100%" height="100%" fill="#fff"/>',
           '<text x="%.1f" y="26" font-size="18" font-weight="bold" text-anchor="middle">%s'
           '</text>' % (W / 2, esc(a.title))]
    sub = ("%s; SIMD path %s (best %s); 1 thread; SDE, %s steps, null model; library = wall "
           "less callbacks" % (machine, meta.get("simd_used", "?"),
                                         meta.get("simd_best", "?"), meta.get("steps", "?")))
    out.append('<text x="%.1f" y="46" font-size="12" fill="#555" text-anchor="middle">%s</text>'
               % (W / 2, esc(sub)))
    ew = 150
    for r in range(lrows):
        n = min(per_row, len(parts) - r * per_row)
        lx, ly = W / 2 - ew * n / 2, 66 + 22.0 * r
        for j in range(n):
            s = r * per_row + j
            col = PALETTE[s % len(PALETTE)]
            x = lx + ew * j
            out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" '
                       'stroke-width="2.5"/>' % (x, ly, x + 26, ly, col))
            out.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>' % (x + 13, ly, col))
            out.append('<text x="%.1f" y="%.1f" font-size="13">%d particle%s</text>'
                       % (x + 32, ly + 4, parts[s], "" if parts[s] == 1 else "s"))
    for k, m in enumerate(methods):
        series = [("%d particles" % p, sorted(data.get((m, p), []))) for p in parts]
        panel(out, m, series, bounds, 10 + PW * (k % cols), head + PH * (k // cols), lx0, lx1,
              ly0, ly1)
    out.append("</svg>")
    with open(a.svg, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
