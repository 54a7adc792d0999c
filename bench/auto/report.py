#!/usr/bin/env python3
"""Tables and the figure of `auto` against fixed methods from the tuning.json files that
`itscale tune --eval-seeds` writes (bench/auto/run.sh).

    bench/auto/report.py bench/results/auto [--nfe 100,500,2000]

For each variant folder under the results folder and each budget, on the held-out seeds:
- auto (the tuned policy) and the online mode, mean ± standard error;
- the oracle: the candidate with the best mean at that budget in hindsight, over the whole grid
  and over the methods' defaults only (the first candidate of each method: the method's
  defaults, as `itscale bench` runs them);
- auto − oracle as a paired difference over the same seeds (common random numbers), with its
  standard error, and whether auto is within one standard error of the oracle;
- the single best default (best mean rank over all budgets among the methods' defaults) and
  auto − that default, paired, in units of its standard error (z), and on how many held-out
  seeds auto scores above it, with the one-sided sign-test p (exact binomial; ties left out):
  a check that does not rest on the mean when the scores have heavy tails.
Writes summary.md and auto.svg (score against NFE: every method's default thin, auto bold, the
online mode dashed, the policy's choice per budget listed under each panel).
"""
import argparse
import json
import math
import os
import sys


def mean_se(xs):
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    n = len(xs)
    if n == 0:
        return float("nan"), float("nan"), 0
    m = sum(xs) / n
    if n < 2:
        return m, float("nan"), n
    v = sum((x - m) ** 2 for x in xs) / (n - 1)
    return m, math.sqrt(v / n), n


def paired(a, b):
    """mean and SE of a - b over the seeds both have."""
    d = [x - y for x, y in zip(a, b) if x is not None and y is not None]
    return mean_se(d)


def fmt(m, se, digits=3):
    if m is None or not math.isfinite(m):
        return "—"
    if se is None or not math.isfinite(se):
        return f"{m:.{digits}g}"
    return f"{m:.{digits}g} ± {se:.2g}"


def label(series):
    cfg = series.get("config")
    if not cfg:
        return series["name"]
    p = cfg.get("params") or {}
    run = cfg.get("run") or {}
    extra = [f"{k}={v}" for k, v in p.items()]
    dyn = (run.get("dynamics") or {}).get("kind")
    if dyn and series["name"] in ("best_of_n",):
        extra.append(dyn)
    return series["name"] + (f" ({', '.join(extra)})" if extra else "")


def load(folder):
    with open(os.path.join(folder, "tuning.json")) as f:
        d = json.load(f)
    with open(os.path.join(folder, "policy.json")) as f:
        pol = json.load(f)
    return d, pol


def analyse(name, d, pol, budgets):
    series = d["eval"]
    cands = [s for s in series if s.get("config")]
    auto = next(s for s in series if s["name"] == "auto")
    online = next(s for s in series if s["name"] == "auto_online")
    seen = set()
    defaults = []
    for s in cands:
        if s["name"] not in seen:
            seen.add(s["name"])
            defaults.append(s)
    all_b = [p["nfe"] for p in auto["points"]]

    def pt(s, b):
        return next(p for p in s["points"] if p["nfe"] == b)

    def m(s, b):
        v = pt(s, b).get("mean")
        return v if v is not None else -math.inf

    # single best default: best mean rank over every budget measured
    ranks = {id(s): 0.0 for s in defaults}
    for b in all_b:
        order = sorted(defaults, key=lambda s: -m(s, b))
        for r, s in enumerate(order):
            ranks[id(s)] += r
    single = min(defaults, key=lambda s: ranks[id(s)])

    rows = []
    for b in budgets:
        if b not in all_b:
            continue
        a = pt(auto, b)
        o = pt(online, b)
        g_or = max(cands, key=lambda s: m(s, b))
        d_or = max(defaults, key=lambda s: m(s, b))
        dg = paired(a["scores"], pt(g_or, b)["scores"])
        dd = paired(a["scores"], pt(d_or, b)["scores"])
        ds = paired(a["scores"], pt(single, b)["scores"])
        do = paired(o["scores"], pt(d_or, b)["scores"])
        dos = paired(o["scores"], pt(single, b)["scores"])
        st = sign_test(a["scores"], pt(single, b)["scores"])
        entry = None
        for e in pol["entries"]:
            if e["nfe"][0] <= b and (e["nfe"][1] is None or b <= e["nfe"][1]):
                entry = e
        rows.append(dict(b=b, auto=a, online=o, g_or=g_or, d_or=d_or, dg=dg, dd=dd, ds=ds, do=do,
                         dos=dos, st=st, entry=entry, gp=pt(g_or, b), dp=pt(d_or, b), sp=pt(single, b)))
    return dict(name=name, single=single, rows=rows, defaults=defaults, cands=cands, auto=auto,
                online=online, all_b=all_b, d=d, pol=pol)


def sign_test(a, b):
    """Seeds where a > b and a < b (ties and missing left out), and the one-sided sign-test p of
    that many wins or more under the null of a fair coin (exact binomial tail)."""
    w = sum(1 for x, y in zip(a, b) if x is not None and y is not None and x > y)
    l = sum(1 for x, y in zip(a, b) if x is not None and y is not None and x < y)
    n = w + l
    p = sum(math.comb(n, k) for k in range(w, n + 1)) / 2 ** n if n else 1.0
    return w, l, p


def sign_txt(st):
    w, l, p = st
    return "— (same scores)" if w + l == 0 else f"{w} of {w + l} ({p:.2g})"


def z(diff):
    m, se, _ = diff
    if not math.isfinite(m):
        return float("nan")
    if not math.isfinite(se) or se == 0:
        return math.inf if m > 0 else (-math.inf if m < 0 else 0.0)
    return m / se


def entry_label(e):
    if not e:
        return "—"
    p = e.get("params") or {}
    keys = {"local_search": ["rho", "recur", "n"], "fk_smc": ["lambda", "n"], "beam": ["beams", "children"],
            "svdd": ["n", "children"], "code": ["n", "block", "children"], "rbf": ["chains", "init"],
            "bfs": ["temp", "n"], "best_of_n": ["n"], "zero_order": ["neighbors", "tau"],
            "search_over_paths": ["n", "m"], "dfs": ["depth", "backtracks"]}.get(e["sampler"], [])
    return e["sampler"] + " " + ", ".join(f"{k}={p[k]}" for k in keys if k in p)


def table(res):
    out = []
    K = res["d"]["eval_seeds"]["count"]
    t = res["d"]["tuning"]
    out.append(f"### {res['name']}\n")
    out.append(f"Tuning: seeds {t['seed']}..{t['seed'] + t['seeds'] - 1}, {t['runs']} runs, "
               f"{t['nfe']} NFE, {t['seconds']:.1f} s. Held-out: seeds "
               f"{res['d']['eval_seeds']['seed']}..{res['d']['eval_seeds']['seed'] + K - 1}. "
               f"Single best default: `{res['single']['name']}`.\n")
    out.append("| NFE | auto chose | auto | oracle (grid) | auto − oracle (paired) | within 1 SE | "
               "oracle (defaults) | single best default | auto − it (z) | auto > it on seeds (sign test p) | "
               "online | online pilot NFE | online − single best default (z) |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in res["rows"]:
        a = r["auto"]
        dg_m, dg_se, _ = r["dg"]
        within = "yes" if -dg_m <= (dg_se if math.isfinite(dg_se) else 0) + 1e-300 else "**no**"
        pil = r["online"].get("pilot_nfe")
        pil_txt = "—" if pil is None else f"{pil:.0f} ({100 * pil / r['b']:.0f}%)"
        out.append(
            f"| {r['b']} | {entry_label(r['entry'])} | {fmt(a['mean'], a['se'])} | "
            f"{fmt(r['gp']['mean'], r['gp']['se'])} `{label(r['g_or'])}` | {fmt(dg_m, dg_se)} | {within} | "
            f"{fmt(r['dp']['mean'], r['dp']['se'])} `{r['d_or']['name']}` | "
            f"{fmt(r['sp']['mean'], r['sp']['se'])} | {fmt(r['ds'][0], r['ds'][1])} ({z(r['ds']):.1f}) | "
            f"{sign_txt(r['st'])} | "
            f"{fmt(r['online']['mean'], r['online']['se'])} | "
            f"{pil_txt} | "
            f"{fmt(r['dos'][0], r['dos'][1])} ({z(r['dos']):.1f}) |")
    return "\n".join(out) + "\n"


def figure(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(results)
    cols = 2 if n > 1 else 1
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(7.0 * cols + 2.4, 6.4 * rows), squeeze=False)
    cmap = plt.get_cmap("tab20")
    # dark shades first, then the light ones, so that neighbours in the method list differ
    shades = [cmap(i) for i in range(0, 20, 2)] + [cmap(i) for i in range(1, 20, 2)]
    styles = ["-", "-.", ":"]

    def tr(v):
        # scores are log-probabilities or negative squared distances (<= 0): plot -log10(-score)
        if v is None or not math.isfinite(v):
            return float("nan")
        return -math.log10(max(-v, 1e-12))

    for k, res in enumerate(results):
        ax = axes[k // cols][k % cols]
        xs = res["all_b"]
        for i, s in enumerate(res["defaults"]):
            ys = [tr(p.get("mean")) for p in s["points"]]
            ax.plot(xs, ys, lw=1.0, color=shades[i % len(shades)], ls=styles[(i // 10) % 3],
                    alpha=0.9, label=s["name"])
        ys = [tr(p.get("mean")) for p in res["online"]["points"]]
        ax.plot(xs, ys, lw=1.8, ls="--", color="0.25", label="auto (online, no policy)")
        ys = [tr(p.get("mean")) for p in res["auto"]["points"]]
        ax.plot(xs, ys, lw=3.2, color="crimson", marker="o", label="auto (tuned policy)")
        # the policy's pick per budget, listed in a box instead of written over the lines
        picks = []
        for b in xs:
            e = None
            for en in res["pol"]["entries"]:
                if en["nfe"][0] <= b and (en["nfe"][1] is None or b <= en["nfe"][1]):
                    e = en
            if e:
                picks.append(f"{b:>5}: {entry_label(e)}")
        if picks:
            ax.text(0.0, -0.14, "auto's pick per budget (NFE: configuration)\n" + "\n".join(picks),
                    transform=ax.transAxes, ha="left", va="top", fontsize=7.5,
                    family="monospace", color="crimson")
        ax.set_xscale("log")
        ax.set_xlabel("NFE budget (log scale)")
        ax.set_ylabel("−log10(−verifier score)  (higher is better)")
        ax.set_title(res["name"])
        ax.grid(alpha=0.3)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="center right", ncol=1, frameon=False)
    fig.suptitle("auto against every method at its defaults (thin lines): mean over held-out seeds")
    fig.tight_layout(rect=(0, 0, 1 - 2.2 / (7.0 * cols + 2.4), 0.97))
    fig.savefig(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--nfe", default="100,500,2000")
    a = ap.parse_args()
    budgets = [int(x) for x in a.nfe.split(",")]
    results = []
    for name in sorted(os.listdir(a.results)):
        folder = os.path.join(a.results, name)
        if not os.path.isfile(os.path.join(folder, "tuning.json")):
            continue
        d, pol = load(folder)
        if "eval" not in d:
            continue
        results.append(analyse(name, d, pol, budgets))
    if not results:
        print("report.py: no tuning.json with an evaluation under " + a.results, file=sys.stderr)
        return 2
    text = "# auto against fixed methods (held-out seeds)\n\n" + "\n".join(table(r) for r in results)
    with open(os.path.join(a.results, "summary.md"), "w") as f:
        f.write(text)
    print(text)
    figure(results, os.path.join(a.results, "auto.svg"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
