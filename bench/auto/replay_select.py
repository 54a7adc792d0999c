#!/usr/bin/env python3
"""Replays the tuning's selection rules on committed measurements (bench/results/auto/*/tuning.json):
for each task and budget, the candidate the rule `mean` (best tuning mean) and the rule `lcb` (best
tuning mean - SE, `itscale tune --select lcb`) pick, and that candidate's held-out score minus the
held-out oracle (paired over the held-out seeds, mean ± SE). No runs; reads the files only."""
import json
import math
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/auto")
print("| task | NFE | oracle (held-out) | rule mean: pick, pick − oracle | rule lcb: pick, pick − oracle |")
print("|---|---|---|---|---|")
for task in ("gmm-dim64", "gmm-dim256", "digits", "fashion"):
    d = json.loads((root / task / "tuning.json").read_text())
    K, C, E = d["tuning"]["seeds"], d["candidates"], d["eval"]
    assert [c["config"]["sampler"] for c in C] == [e["name"] for e in E[: len(C)]], task
    for bi, at in enumerate(C[0]["at"]):
        nfe = at["nfe"]
        if nfe not in (100, 500, 2000):
            continue
        full = [i for i, c in enumerate(C)
                if c["at"][bi]["n"] == K and c["at"][bi].get("se") is not None]

        def ep(i):
            return next(q for q in E[i]["points"] if q["nfe"] == nfe)

        orc = max(range(len(C)), key=lambda i: ep(i)["mean"] if ep(i)["mean"] is not None else -1e300)
        row = [task, str(nfe), f"{E[orc]['name']} (#{orc})"]
        for rule in ("mean", "lcb"):
            def key(a):
                return a["mean"] if rule == "mean" else a["mean"] - a["se"]
            i = max(full, key=lambda j: key(C[j]["at"][bi]))
            diff = [x - y for x, y in zip(ep(i)["scores"], ep(orc)["scores"])]
            n = len(diff)
            mu = sum(diff) / n
            se = math.sqrt(sum((x - mu) ** 2 for x in diff) / (n - 1) / n)
            row.append(f"{C[i]['config']['sampler']} (#{i}), {mu:.3g} ± {se:.2g}")
        print("| " + " | ".join(row) + " |")
