#!/usr/bin/env python3
"""How much room the grid leaves above the single best default, from committed held-out
measurements (bench/results/auto/<task>/tuning.json, written by `itscale tune --eval-seeds`).

    python3 bench/auto/ceiling.py [RESULTS] [TASK...]     (default: bench/results/auto digits fashion)

The digits and fashion verifier scores are log-probabilities of the target class, so their ceiling
is 0. For each task and budget, on the held-out seeds:
- table 1: the highest single score of any row, how many rows have a mean within 1e-5 of 0, the
  best three means, the single best default and auto minus it (paired over the seeds, with z);
- table 2: the candidate auto ran (the one whose held-out scores it reproduces), the held-out
  oracle of the grid, auto minus the oracle (paired, z, within one SE or not), and the oracle
  minus the single best default: the largest gain any policy over this grid could have shown on
  these seeds, chosen in hindsight on them, so an upper bound.
"Single best default" and "oracle" are chosen as bench/auto/report.py chooses them (best mean
rank over every budget among the methods' defaults; best held-out mean among the candidates).
No runs; reads the files only.
"""
import json
import math
import pathlib
import sys


def mean_se(xs):
    n = len(xs)
    m = sum(xs) / n
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1) / n)


def paired(a, b):
    return mean_se([x - y for x, y in zip(a, b)])


def ms(m, se):
    return f"{m:.3g} ± {se:.2g}"


def diff(d):
    m, se = d
    if se == 0:
        return "0 ± 0 (same runs)" if m == 0 else f"{m:.3g} ± 0"
    return f"{ms(m, se)} (z {m / se:.1f})"


def label(s):
    p = (s.get("config") or {}).get("params") or {}
    return f"`{s['name']}` (" + (", ".join(f"{k}={v}" for k, v in p.items()) if p else "defaults") + ")"


def report(root, task):
    d = json.loads((root / task / "tuning.json").read_text())
    series = d["eval"]
    cands = [s for s in series if s.get("config")]
    auto = next(s for s in series if s["name"] == "auto")
    budgets = [p["nfe"] for p in auto["points"]]
    seen, defaults = set(), []
    for s in cands:  # a method's first candidate is its defaults
        if s["name"] not in seen:
            seen.add(s["name"])
            defaults.append(s)

    def pt(s, b):
        return next(p for p in s["points"] if p["nfe"] == b)

    def m(s, b):
        v = pt(s, b).get("mean")
        return v if v is not None else -math.inf

    ranks = {id(s): sum(sorted(defaults, key=lambda t: -m(t, b)).index(s) for b in budgets)
             for s in defaults}
    single = min(defaults, key=lambda s: ranks[id(s)])

    ev, tu = d["eval_seeds"], d["tuning"]
    out = [f"### {task}\n",
           f"Held-out seeds {ev['seed']}..{ev['seed'] + ev['count'] - 1} (tuning seeds "
           f"{tu['seed']}..{tu['seed'] + tu['seeds'] - 1}); {len(series)} rows = {len(cands)} "
           f"candidates, auto and its online mode. Single best default: {label(single)}.\n",
           "| NFE | highest single held-out score | rows with mean within 1e−5 of 0 | best three means "
           "| single best default | auto − it (paired) |",
           "|---|---|---|---|---|---|"]
    rows2 = ["| NFE | auto ran | held-out oracle | auto − oracle (paired) | within 1 SE "
             "| oracle − single best default (paired) |",
             "|---|---|---|---|---|---|"]
    for b in budgets:
        sc = {id(s): pt(s, b)["scores"] for s in series}
        top = max(max(v) for v in sc.values())
        near = sum(1 for s in series if m(s, b) >= -1e-5)
        ran = [s for s in cands if sc[id(s)] == sc[id(auto)]]

        def note(s):
            tags = (["= auto"] if s in ran else []) + (["= single best default"] if s is single else [])
            return label(s) + (" " + ", ".join(tags) if tags else "")

        best3 = sorted(cands, key=lambda s: -m(s, b))[:3]
        out.append(f"| {b} | {top:.2g} | {near} of {len(series)} | "
                   + "; ".join(f"{ms(m(s, b), pt(s, b)['se'])} {note(s)}" for s in best3)
                   + f" | {ms(m(single, b), pt(single, b)['se'])} "
                   f"| {diff(paired(sc[id(auto)], sc[id(single)]))} |")
        orc = max(cands, key=lambda s: m(s, b))
        dm, dse = paired(sc[id(auto)], sc[id(orc)])
        within = "yes" if -dm <= dse else "**no**"
        rows2.append(f"| {b} | {', '.join(label(s) for s in ran) or '—'} "
                     f"| {label(orc)} {ms(m(orc, b), pt(orc, b)['se'])} | {diff((dm, dse))} | {within} "
                     f"| {diff(paired(sc[id(orc)], sc[id(single)]))} |")
    return "\n".join(out + [""] + rows2) + "\n"


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/auto")
    tasks = sys.argv[2:] or ["digits", "fashion"]
    print("\n".join(report(root, t) for t in tasks), end="")


if __name__ == "__main__":
    main()
