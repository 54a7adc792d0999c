#!/usr/bin/env python3
"""Markdown table of one budget from an `itscale bench` curves.json: every metric as
mean ± standard error over seeds (pooled metrics have no standard error: one value over the
seeds' best samples), and the difference of the verifier score to a baseline sampler.

    bench/curves/table.py bench/results/digits/curves.json [--nfe 500] [--baseline none]
"""
import argparse
import json
import math
import sys


def fmt(mean, se, digits=3):
    if mean is None:
        return "—"
    if se is None or (isinstance(se, float) and math.isnan(se)):
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} ± {se:.2g}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("curves")
    ap.add_argument("--nfe", type=float, default=500)
    ap.add_argument("--baseline", default="none")
    a = ap.parse_args()
    with open(a.curves) as f:
        d = json.load(f)
    metrics = d["metrics"]
    pts = {}
    for c in d["curves"]:
        for p in c["points"]:
            if p["nfe"] == a.nfe:
                pts[c["sampler"]] = p
    if not pts:
        sys.exit(f"table.py: no points at NFE {a.nfe:g} in {a.curves}")
    base = pts.get(a.baseline)
    b = base["score"]["mean"] if base and base["score"]["mean"] is not None else None
    # the score column repeats the first metric on tasks whose metric is the verifier itself
    shown = [m for m in metrics if m["name"] != "verifier_logp"]
    # labels such as "log p(target | x)" must not split a Markdown cell
    head = ["sampler", "NFE used"] + [m["label"].replace("|", "\\|") for m in shown]
    head.append(f"Δ score vs {a.baseline}")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for c in d["curves"]:
        p = pts.get(c["sampler"])
        if p is None:
            continue
        row = [f"`{c['sampler']}`"]
        if p["runs"] == 0:
            row += ["—"] * (len(head) - 2) + [f"no run: {p.get('error', '?')}"]
            print("| " + " | ".join(row) + " |")
            continue
        row.append(f"{p['nfe_used']:.0f}")
        for m in shown:
            v = p[m["name"]]
            row.append(fmt(v["mean"], v["se"]))
        s = p["score"]["mean"]
        row.append("—" if b is None or s is None else f"{s - b:+.3g}")
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
