#!/usr/bin/env python3
"""A replicate of `auto` against one fixed method on fresh held-out seeds, without re-tuning.

`itscale tune --eval-seeds` measures every candidate on the held-out seeds, which on a slow task
costs far more than the comparison the targets ask for. This runs only the two configurations
that comparison needs, seed by seed with the CLI: `auto` reading a committed policy, and the
other method with its defaults fitted to each budget (as `itscale tune` evaluates a method's
defaults), on seeds that neither the tuning nor the first evaluation used. The number of seeds
is fixed before the run and the result is reported whatever it is.

    bench/auto/replicate.py --policy bench/results/auto/fashion/policy.json --task fashion \\
        --against svdd --nfe 100,500,2000 --seeds 512 --seed 200000 \\
        --out bench/results/auto-replicate/fashion

Writes OUT/scores.json (every run's best score) and OUT/table.md (means ± SE, the paired
difference auto − method with its z, and the one-sided sign test, as in summary.md), and prints
the table. Progress goes to stderr. A run that fails stops the replicate (the runs not yet started
are cancelled) with the command line's message, and nothing is written.
"""
import argparse
import concurrent.futures
import json
import os
import platform
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import fmt, mean_se, paired, sign_test, sign_txt, z  # noqa: E402


RUN_TIMEOUT_S = 600  # one CLI run; a 2000-NFE fashion run takes about a second


def run_one(cli, task_args, config, nfe, seed):
    cmd = [cli, "run", *task_args, "--nfe", str(nfe), "--seed", str(seed), "--json"]
    if isinstance(config, str):
        cmd += ["--sampler", config]
    else:
        cmd += ["--config", config["file"]]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    d = json.loads(p.stdout)
    return d["best"]["score"], d["usage"]["nfe"], d["config"]["sampler"]


def commit():
    p = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                       cwd=os.path.dirname(os.path.abspath(__file__)))
    return p.stdout.strip() if p.returncode == 0 else "unknown"


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", default="build/rel/examples/itscale/itscale")
    ap.add_argument("--task", required=True)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="task setting passed to every run (e.g. task.dim=64)")
    ap.add_argument("--policy", required=True, help="policy.json written by itscale tune")
    ap.add_argument("--against", required=True, help="the fixed method (its defaults)")
    ap.add_argument("--nfe", default="100,500,2000")
    ap.add_argument("--seeds", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True, help="first seed of the replicate")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.against == "auto":
        ap.error("--against: a fixed method, not auto")

    os.makedirs(a.out, exist_ok=True)
    with open(a.policy) as f:
        policy = json.load(f)
    cfg_file = os.path.join(a.out, "auto.json")
    with open(cfg_file, "w") as f:
        json.dump({"sampler": "auto", "params": {"policy": policy}}, f)
    task_args = ["--task", a.task]
    for s in a.set:
        task_args += ["--set", s]
    budgets = [int(x) for x in a.nfe.split(",")]
    seeds = list(range(a.seed, a.seed + a.seeds))
    methods = {"auto": {"file": cfg_file}, a.against: a.against}

    jobs = [(m, n, s) for n in budgets for m in methods for s in seeds]
    res = {m: {n: [None] * len(seeds) for n in budgets} for m in methods}
    ran = {n: set() for n in budgets}
    t0 = time.time()
    ex = concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs)
    try:
        futs = {ex.submit(run_one, a.cli, task_args, methods[m], n, s): (m, n, s)
                for m, n, s in jobs}
        for done, fut in enumerate(concurrent.futures.as_completed(futs), 1):
            m, n, s = futs[fut]
            score, _, sampler = fut.result()
            res[m][n][s - a.seed] = score
            if m == "auto":
                ran[n].add(sampler)
            if done % 50 == 0 or done == len(jobs):
                print(f"[{done}/{len(jobs)}] {time.time() - t0:.0f} s", file=sys.stderr)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        ex.shutdown(wait=True, cancel_futures=True)
        sys.exit(f"replicate.py: {e}")
    ex.shutdown()
    wall = time.time() - t0

    with open(os.path.join(a.out, "scores.json"), "w") as f:
        json.dump({"task": a.task, "set": a.set, "policy": a.policy, "against": a.against,
                   "commit": commit(),
                   "seed": a.seed, "seeds": a.seeds,
                   "scores": {m: {str(n): v for n, v in r.items()} for m, r in res.items()}},
                  f, indent=1)

    lines = [f"Replicate on seeds {a.seed}..{a.seed + a.seeds - 1} ({a.seeds}, fixed before the "
             f"run): `auto` with {a.policy} against `{a.against}` with its defaults, task "
             f"`{a.task}`{' ' + ' '.join(a.set) if a.set else ''}. {cpu_name()}, "
             f"{len(jobs)} runs in {wall:.0f} s.", "",
             f"| NFE | auto ran | auto | {a.against} | auto − {a.against} (z) | "
             f"auto > {a.against} on seeds (one-sided sign test p) |",
             "|---|---|---|---|---|---|"]
    for n in budgets:
        au, ag = res["auto"][n], res[a.against][n]
        ma, sa, _ = mean_se(au)
        mb, sb, _ = mean_se(ag)
        d = paired(au, ag)
        lines.append(f"| {n} | {', '.join(sorted(ran[n]))} | {fmt(ma, sa)} | {fmt(mb, sb)} | "
                     f"{fmt(d[0], d[1])} ({z(d):.1f}) | {sign_txt(sign_test(au, ag))} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()
