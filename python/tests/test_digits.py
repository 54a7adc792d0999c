"""The digits networks as PyTorch modules against the C model (examples/digits), and searches
with them against the command line.

Tolerances come from a forward rounding-error bound, not from this machine's output. Each
float32 implementation (OpenBLAS sgemm in C, torch's addmm) computes a dense layer z = W h + b
with some summation order; whatever the order, |fl(z) - z| <= gamma_{d+1} (|W| |h| + |b|) per
element (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. 3.5), with
gamma_n = n u / (1 - n u), u = 2^-24. An error e in h reaches z as |W| e; SiLU is 1.1-Lipschitz
(max |silu'| = 1.0998) and each side evaluates it within 8 u relative (exp within 1 ulp, then
an add, a divide and a multiply); the time features are each side's rounding of the same double
sin/cos (u relative). Propagating this through the layers along a float64 reference gives, per
output element, E with |impl - exact| <= E to first order for both implementations, hence
|torch - C| <= 2 E, asserted. That worst case assumes every rounding error has the same sign
and is loose (about 4e-3 relative for a 3-layer net of width 128), so it cannot show that the two
agree to 1e-5. The sharper tolerance is a standard error: rounding errors modelled as
independent, zero mean, each within u of its result (standard deviation <= u / sqrt(3) times the
magnitude, the uniform case), so a length-d dot product's error has standard deviation
<= sqrt(d + 1) u / sqrt(3) (sum |w h| + |b|) in any order (Higham & Mary, SIAM J. Sci. Comput.
41(5), 2019), and errors carried in from the layer below reach z with variance W^2 sigma_h^2.
torch - C then has standard deviation sqrt(2) sigma per element, and the tests allow 6 of
those. The same model propagates through whole trajectories (below) as a covariance.
"""
from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import itscale  # noqa: E402
from itscale.digits import DigitsClassifier, DigitsFlow, read_itsw  # noqa: E402

U = 2.0 ** -24


def gamma(n: int) -> float:
    return n * U / (1 - n * U)


def mlp_bound(mlp, h: torch.Tensor, E: torch.Tensor):
    """float64 reference output and the elementwise first-order error bound of a float32
    evaluation, for input h (float64) known to within E."""
    last = len(mlp.linears) - 1
    for i, lin in enumerate(mlp.linears):
        W, b = lin.weight.double(), lin.bias.double()
        z = h @ W.T + b
        Ez = E @ W.abs().T + gamma(W.shape[1] + 1) * (h.abs() @ W.abs().T + b.abs())
        if i < last:
            h = torch.nn.functional.silu(z)
            E = 1.1 * Ez + 8 * U * h.abs()
        else:
            h, E = z, Ez
    return h, E


def mlp_sigma(mlp, h: torch.Tensor, var: torch.Tensor):
    """float64 reference output and the elementwise variance of a float32 evaluation's error
    under the independent rounding model, for input h carrying error variance var."""
    s2 = U * U / 3
    last = len(mlp.linears) - 1
    for i, lin in enumerate(mlp.linears):
        W, b = lin.weight.double(), lin.bias.double()
        z = h @ W.T + b
        S = h.abs() @ W.abs().T + b.abs()
        vz = var @ (W * W).T + (W.shape[1] + 1) * s2 * S * S
        if i < last:
            h = torch.nn.functional.silu(z)
            var = 1.1 ** 2 * vz + 8 * s2 * h * h
        else:
            h, var = z, vz
    return h, var


def feature_var(f64: torch.Tensor) -> torch.Tensor:
    v = torch.zeros_like(f64)
    v[:, 64:] = (U * U / 3) * f64[:, 64:] ** 2
    return v


@pytest.fixture(scope="session")
def weights(tmp_path_factory, build_dir: Path) -> Path:
    """Small digits networks trained in a few seconds with the project's trainer (what they
    compute does not matter here, only that C and torch compute the same)."""
    out = tmp_path_factory.mktemp("digits")
    subprocess.run([str(build_dir / "examples/digits/itscale-digits-train"), "--out", str(out),
                    "--epochs", "15", "--hidden", "128", "--layers", "3"],
                   check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def forward_bin(build_dir: Path) -> Path:
    p = build_dir / "examples/python/itscale-digits-forward"
    if not p.exists():
        pytest.fail(f"{p} not built")
    return p


def test_weight_file_checks(weights, tmp_path):
    kind, n_freq, n_class, dims, layers = read_itsw(weights / "flow.itsw")
    assert kind == 1 and dims[-1] == 64 and dims[0] == 64 + 2 * n_freq + n_class
    data = bytearray((weights / "flow.itsw").read_bytes())
    bad = tmp_path / "bad.itsw"
    data[40] ^= 1
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        DigitsFlow.load(bad)
    bad.write_bytes(bytes(data[:-9]))
    with pytest.raises(ValueError, match="bytes"):
        DigitsFlow.load(bad)
    with pytest.raises(ValueError, match="kind"):
        DigitsFlow.load(weights / "verifier.itsw")


def test_velocity_equals_the_c_model(weights, forward_bin, tmp_path):
    flow = DigitsFlow.load(weights / "flow.itsw")
    rng = np.random.default_rng(0)
    n = 256
    x = rng.standard_normal((n, 64)).astype(np.float32)
    t = rng.random(n).astype(np.float32)
    t[:4] = [0.0, 1.0, 0.5, 1e-3]
    np.concatenate([x.ravel(), t]).tofile(tmp_path / "in.bin")
    subprocess.run([str(forward_bin), "flow", str(weights / "flow.itsw"), str(tmp_path / "in.bin"),
                    str(tmp_path / "out.bin"), str(n)], check=True)
    u_c = np.fromfile(tmp_path / "out.bin", dtype=np.float32).reshape(n, 64)
    with torch.no_grad():
        xt, tt = torch.from_numpy(x), torch.from_numpy(t)
        u_t = flow(xt, tt).numpy()
        f = flow.features(xt.double(), tt)
        f64 = torch.cat([xt.double(), torch.sin(tt.double()[:, None] * flow.freqs),
                         torch.cos(tt.double()[:, None] * flow.freqs)], 1)
        E0 = torch.zeros_like(f64)
        E0[:, 64:] = 1.01 * U * f64[:, 64:].abs()
        ref, E = mlp_bound(flow, f64, E0)
        _, var = mlp_sigma(flow, f64, feature_var(f64))
    assert f.shape == f64.shape
    diff = np.abs(u_t.astype(np.float64) - u_c)
    assert np.all(diff <= 2 * E.numpy()), "outside the worst-case bound"
    tol = 6 * np.sqrt(2 * var.numpy())
    assert np.all(diff <= tol), f"outside 6 standard errors: worst excess {np.max(diff - tol)}"
    rel = np.linalg.norm(u_t - u_c) / np.linalg.norm(u_c)
    sd_rel = np.linalg.norm(np.sqrt(2 * var.numpy())) / np.linalg.norm(u_c)
    print(f"torch vs C velocity: relative {rel:.2e}; one standard error {sd_rel:.2e}, "
          f"worst case {np.linalg.norm(2 * E.numpy()) / np.linalg.norm(u_c):.2e}")
    assert rel <= 1e-5


def test_classifier_equals_the_c_verifier(weights, forward_bin, tmp_path):
    clf = DigitsClassifier.load(weights / "verifier.itsw", target=3)
    rng = np.random.default_rng(1)
    n = 128
    x = rng.uniform(-1, 1, (n, 64)).astype(np.float32)
    x.tofile(tmp_path / "in.bin")
    subprocess.run([str(forward_bin), "logp", str(weights / "verifier.itsw"),
                    str(tmp_path / "in.bin"), str(tmp_path / "out.bin"), str(n), "3"], check=True)
    lp_c = np.fromfile(tmp_path / "out.bin", dtype=np.float32)
    with torch.no_grad():
        lp_t = clf.log_prob(torch.from_numpy(x)).numpy()
        _, E = mlp_bound(clf, torch.from_numpy(x).double(), torch.zeros(n, 64, dtype=torch.float64))
    # log-softmax in double is 2-Lipschitz in the max norm of the logits; then a float cast
    tol = 2 * (2 * E.max(dim=1).values.numpy()) + 2 * U * np.abs(lp_c)
    assert np.all(np.abs(lp_t - lp_c) <= tol)


def _cli(cli, weights, sampler, seed, extra=()):
    out = subprocess.run([str(cli), "run", "--task", "digits", "--set",
                          f"task.weights={weights}", "--sampler", sampler, "--nfe", "200",
                          "--seed", str(seed), "--json", *extra],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _run_py(config, weights, seed):
    """The configuration run from Python with the torch modules (max_batch 64, as the task)."""
    flow = DigitsFlow.load(weights / "flow.itsw")
    clf = DigitsClassifier.load(weights / "verifier.itsw", target=3)
    with itscale.Sampler(config=config) as s:
        return s.run(itscale.Model(flow, max_batch=64), clf.log_prob, seed=seed,
                     verifier_max_batch=64), flow, clf


def _trajectory_sigma(config, seed, flow, clf):
    """Standard deviation of score_torch - score_C for each of best_of_n's Euler ODE
    trajectories, replayed in float64 from the run's initial noise under the rounding model:
    the state error's covariance goes C_{k+1} = A C_k A^T + h^2 diag(2 var_u) + diag(2 var_step)
    with A = I + h J_k (J_k the flow's Jacobian by autograd, var_u the velocity's error variance,
    var_step the Euler update's own rounding), then var_s = g^T C_T g + 2 var_verifier."""
    zero = itscale.Model(lambda x, t: torch.zeros_like(x), dim=64)
    with itscale.Sampler(config=config) as s:
        noise = s.run(zero, clf.log_prob, seed=seed).samples  # no motion: the initial noise
    run = config["run"]
    T = run["steps"]
    grid = [run["t_max"] * (1 - k / T) for k in range(T + 1)]
    flow64 = copy.deepcopy(flow).double()
    s2 = U * U / 3
    out = []
    for x in noise.double():
        x = x[None]
        C = torch.zeros(64, 64, dtype=torch.float64)
        for k in range(T):
            h = grid[k + 1] - grid[k]
            tt = torch.tensor([np.float32(grid[k])], dtype=torch.float64)
            f64 = torch.cat([x, torch.sin(tt[:, None] * flow.freqs),
                             torch.cos(tt[:, None] * flow.freqs)], 1)
            u, var = mlp_sigma(flow, f64, feature_var(f64))
            J = torch.autograd.functional.jacobian(lambda y: flow64(y[None], tt)[0], x[0])
            A = torch.eye(64, dtype=torch.float64) + h * J
            step = 2 * s2 * ((x[0]) ** 2 + (h * u[0]) ** 2)
            C = A @ C @ A.T + torch.diag(h * h * 2 * var[0] + step)
            x = x + h * u
        xf = x.float().requires_grad_(True)
        g = torch.autograd.grad(clf.log_prob(xf).sum(), xf)[0].double()[0]
        logits, vl = mlp_sigma(clf, x, torch.zeros_like(x))
        # log-softmax: d lp / d z = e_target - softmax, so var <= sum (e - p)^2 var_z
        p = torch.softmax(logits, 1)[0]
        e = torch.zeros_like(p)
        e[clf.target] = 1
        v_s = ((e - p) ** 2 * vl[0]).sum() + s2 * clf.log_prob(xf).double() ** 2
        out.append(float(torch.sqrt(g @ C @ g + 2 * v_s)))
    return np.array(out)


def test_best_of_n_matches_the_cli(cli, weights):
    rep = _cli(cli, weights, "best_of_n", 4, ["--set", "run.top_k=4"])
    r, flow, clf = _run_py(rep["config"], weights, 4)
    c = np.array(rep["topk"])
    sd = _trajectory_sigma(rep["config"], 4, flow, clf)
    tol = 6 * sd.max()
    print(f"best_of_n scores: max |torch - C| {np.max(np.abs(r.scores - c)):.2e}, "
          f"standard error {sd.max():.2e}")
    assert np.all(np.abs(r.scores - c) <= tol)
    assert r.usage.nfe == rep["usage"]["nfe"]


def test_rbf_matches_the_cli(cli, weights):
    """rbf selects: a child is accepted when its Tweedie score beats the chain's best. The two
    sides accept the same children unless two scores fall within their rounding difference, so
    the usage must be equal and the score within 1e-5 relative: 1e-5 is the velocity
    agreement asserted above, and a 10-step chain's score error stays near it (best_of_n's
    propagated standard error above is of the same order)."""
    rep = _cli(cli, weights, "rbf", 2)
    r, _, _ = _run_py(rep["config"], weights, 2)
    c = rep["topk"][0]
    assert r.usage.nfe == rep["usage"]["nfe"]
    assert abs(r.scores[0] - c) <= 1e-5 * max(1.0, abs(c))
