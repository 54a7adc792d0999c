"""The adapters: zero-copy views on the CPU, device and dtype moves, shapes, autograd
gradients, native callbacks, and the package's metadata."""
from __future__ import annotations

import json

import numpy as np
import pytest

import itscale
from itscale._lib import ffi

torch = pytest.importorskip("torch")

DIM = 32


def half_x(x, t):
    """u = x / 2: exact in float32 and float64 alike, so a run is the same on any device."""
    return x * 0.5


def neg_sq(x0):
    return -(x0 * x0).reshape(x0.shape[0], -1).sum(1)


def _run(model, device=None, dtype=None, **kw):
    return itscale.generate(itscale.Model(model, dim=DIM, device=device, dtype=dtype),
                            neg_sq, sampler="best_of_n", params={"n": 4}, run={"steps": 6},
                            seed=11, **kw)


def test_cpu_path_copies_no_latent():
    seen = []

    def model(x, t):
        seen.append((x.dtype, x.device.type, x.is_contiguous(), torch.is_grad_enabled()))
        return half_x(x, t)
    r = _run(model)
    assert r.model_stats.calls == 6 and r.model_stats.rows == 24
    assert r.model_stats.bytes_in == 0                 # no latent copied on the way in
    assert r.verifier_stats.bytes_in == 0
    assert r.model_stats.bytes_out == 24 * DIM * 4     # the returned tensor, written once
    assert all(s == (torch.float32, "cpu", True, False) for s in seen)


def test_repeated_runs_reuse_buffers_and_views():
    """A Sampler's context keeps blocks of every size, so its second run hands the callables
    the buffers of the first (the same data pointers) and builds no new tensor view."""
    from itscale import adapters
    ptrs = []

    def model(x, t):
        ptrs.append((x.data_ptr(), t.data_ptr()))
        return half_x(x, t)

    def verifier(x0):
        ptrs.append((x0.data_ptr(),))
        return neg_sq(x0)
    views = adapters._views_for((DIM + 3,), True)  # a shape no other test uses
    with itscale.Sampler("fk_smc", {"n": 4}, {"steps": 5}) as s:
        runs = []
        for seed in (1, 2, 3):
            ptrs.clear()
            s.run(itscale.Model(model, dim=DIM + 3), verifier, seed=seed)
            runs.append((set(ptrs), len(views.cache)))
    (p1, v1), (p2, v2), (p3, v3) = runs
    assert p2 == p1 and p3 == p1
    assert v1 > 0 and v3 == v2 == v1


def test_callable_sees_the_library_buffer():
    """The tensor a model gets is a view of the library's memory: the address the C callback
    received, reached by calling the adapter's C callback directly on a buffer of ours."""
    got = []

    def model(x, t):
        got.append(x.data_ptr())
        return half_x(x, t)
    m = itscale.Model(model, dim=DIM)
    x = np.random.default_rng(0).standard_normal((3, DIM)).astype(np.float32)
    t = np.full(3, 0.5, dtype=np.float32)
    out = np.zeros_like(x)
    px = ffi.from_buffer("float[]", x)
    rc = m.c_struct.eval(ffi.NULL, px, ffi.from_buffer("float[]", t), 3,
                         ffi.from_buffer("float[]", out))
    assert rc == 0 and got == [int(ffi.cast("uintptr_t", px))]
    np.testing.assert_array_equal(out, x * 0.5)


def test_writes_out_copies_nothing():
    r = _run(None, writes_out=True) if False else itscale.generate(
        itscale.Model(lambda x, t, out: torch.mul(x, 0.5, out=out), dim=DIM, writes_out=True),
        neg_sq, sampler="best_of_n", params={"n": 4}, run={"steps": 6}, seed=11)
    ref = _run(half_x)
    assert r.model_stats.bytes_in == 0 and r.model_stats.bytes_out == 0
    assert torch.equal(r.samples, ref.samples)


def test_fake_device_moving_model():
    """A model that computes elsewhere (here float64, standing in for another device): inputs
    are moved to it, outputs moved back, the samples are those of the plain model."""
    seen = []

    def model(x, t):
        seen.append((x.dtype, t.dtype))
        return half_x(x, t)
    r = _run(model, dtype=torch.float64)
    ref = _run(half_x)
    assert set(seen) == {(torch.float64, torch.float64)}
    assert r.model_stats.bytes_in > 0
    assert torch.equal(r.samples, ref.samples)
    np.testing.assert_array_equal(r.scores, ref.scores)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="torch has no CUDA device")
def test_cuda_model():
    seen = []

    def model(x, t):
        seen.append(x.device.type)
        return half_x(x, t)
    r = _run(model, device="cuda")
    ref = _run(half_x)
    assert set(seen) == {"cuda"} and r.samples.device.type == "cuda"
    assert torch.equal(r.samples.cpu(), ref.samples)


def test_module_device_and_shape():
    class Net(torch.nn.Module):
        shape = (2, 4, 4)

        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor(0.5))

        def forward(self, x, t):
            assert x.shape[1:] == (2, 4, 4) and t.shape == (x.shape[0],)
            return x * self.scale

    r = itscale.generate(Net(), neg_sq, sampler="best_of_n", params={"n": 3},
                         run={"steps": 4}, top_k=2)
    assert r.samples.shape == (2, 2, 4, 4) and r.samples.dtype == torch.float32
    assert len(r.scores) == 2 and r.scores[0] >= r.scores[1]


def test_autograd_gradient():
    """The verifier's gradient by autograd equals the closed form (float32 arithmetic on each
    side: -2 x exactly)."""
    v = itscale.Verifier(neg_sq)
    v.bind((DIM,), None)
    x = np.random.default_rng(1).standard_normal((5, DIM)).astype(np.float32)
    g = np.zeros_like(x)
    s = np.zeros(5, dtype=np.float32)
    rc = v.c_struct.grad(ffi.NULL, ffi.from_buffer("float[]", x), 5,
                         ffi.from_buffer("float[]", g), ffi.from_buffer("float[]", s))
    assert rc == 0
    np.testing.assert_array_equal(g, -2 * x)
    np.testing.assert_array_equal(s, neg_sq(torch.from_numpy(x)).numpy())


def test_local_search_uses_autograd(gmm_task):
    T = gmm_task
    c = torch.from_numpy(T.c).float()

    def reward(x0):
        return -T.a * ((x0 - c) ** 2).sum(1)
    model = itscale.Model(lambda x, t: torch.from_numpy(T.model(x.numpy(), t.numpy())),
                          dim=T.dim)
    r = itscale.generate(model, reward, sampler="local_search", max_nfe=100, seed=2)
    none = itscale.generate(model, reward, sampler="none", max_nfe=100, seed=2)
    assert r.usage.grad_rows > 0 and r.verifier_stats.calls > 0
    assert r.scores[0] > none.scores[0]


def test_native_gmm_and_exact_answers(gmm_task):
    g = gmm_task.gmm
    x, comp = g.sample(256, seed=4)
    assert x.shape == (256, g.dim) and comp.max() < g.k
    # the exact velocity of the linear path at t = 0 is x0-independent noise minus data: at
    # t = 1 (pure noise) x0_hat is the mixture mean
    x0 = g.predict(np.zeros((1, g.dim), np.float32), 1.0, pred="x0")
    np.testing.assert_allclose(x0[0], (g.weights[:, None] * g.means).sum(0), atol=1e-6)
    lp = g.logpdf(x[:4])
    assert np.all(np.isfinite(lp))
    r = g.responsibilities(x[:4])
    np.testing.assert_allclose(r.sum(1), 1.0, rtol=1e-12)


def test_result_fields_and_json():
    r = _run(half_x)
    doc = json.loads(r.to_json())
    assert doc["sampler"] == "best_of_n" and doc["seed"] == 11
    assert r.config == doc["config"] and r.config["params"]["n"] == 4
    assert r.usage.nfe == 24 and r.stop == "completed" and r.status == "ITS_OK"
    assert r.trace and r.trace[-1][1] == pytest.approx(r.scores[0])


def test_samplers_lists_every_method():
    ms = {m.name: m for m in itscale.samplers()}
    assert {"none", "best_of_n", "fk_smc", "rbf", "local_search"} <= set(ms)
    assert {p.name for p in ms["rbf"].params} >= {"chains", "init"}
    n = next(p for p in ms["best_of_n"].params if p.name == "n")
    assert n.default == 4 and n.type == "int"


def test_version_matches():
    assert itscale.library_version.split(".")[:2] == itscale.__version__.split(".")[:2]


@pytest.mark.parametrize("framework", ["torch", "numpy"])
def test_thread_safe_model_runs_concurrently(framework):
    """thread_safe=True with threads=2: calls come from two threads, and samples, scores,
    usage and the bridge's counts equal the sequential run's; when both calls of a wave raise,
    the exception re-raised is that of the lower rows (the one the library reports)."""
    import threading
    sync = threading.Barrier(2, timeout=30)
    local = threading.local()
    seen = set()
    lock = threading.Lock()

    def meet():
        # the first call on each thread waits for the other thread's first call, so both
        # threads take part however the pool hands out the calls
        if sync is not None and not getattr(local, "met", False):
            local.met = True
            sync.wait()

    def model(x, t):
        with lock:
            seen.add(threading.get_ident())
        meet()
        return x * 0.5  # thread-safe: nothing shared

    def run(thread_safe, threads, fn=model):
        m = itscale.Model(fn, dim=DIM, max_batch=4, framework=framework,
                          thread_safe=thread_safe)
        r = itscale.generate(m, neg_sq, sampler="best_of_n", params={"n": 16},
                             run={"steps": 6}, seed=5, threads=threads)
        return r, m.stats

    sync, kept = None, sync
    seq, st0 = run(False, 1)
    assert seen == {threading.get_ident()}
    seen.clear()
    sync = kept
    par, st1 = run(True, 2)
    assert len(seen) == 2  # the calling thread and the library's worker
    np.testing.assert_array_equal(par.samples, seq.samples)
    np.testing.assert_array_equal(par.scores, seq.scores)
    assert (par.usage.nfe, par.usage.model_calls) == (seq.usage.nfe, seq.usage.model_calls)
    assert (st1.calls, st1.rows, st1.bytes_out) == (st0.calls, st0.rows, st0.bytes_out)

    addrs = []

    def failing(x, t):
        a = (x.data_ptr() if framework == "torch" else x.__array_interface__["data"][0])
        with lock:
            addrs.append(a)
        sync.wait()  # both calls of the first wave are under way before either raises
        raise RuntimeError(f"rows at {a}")
    sync = threading.Barrier(2, timeout=30)
    with pytest.raises(RuntimeError) as e:
        run(True, 2, failing)
    assert len(addrs) == 2 and str(e.value) == f"rows at {min(addrs)}"


def test_latent_cache_option():
    """Sampler(latent_cache=...) reaches the library; the outputs do not depend on it."""
    a = _run(half_x)
    with itscale.Sampler("best_of_n", {"n": 4}, {"steps": 6}, latent_cache=0) as s:
        b = s.run(itscale.Model(half_x, dim=DIM), neg_sq, seed=11)
    np.testing.assert_array_equal(a.samples, b.samples)
    with pytest.raises(ValueError, match="latent_cache"):
        itscale.Sampler("none", latent_cache=-1)


def test_views_outlive_inference_mode():
    """Buffer views are shared across runs and adapters; one made during a run inside
    torch.inference_mode() must still take writes and gradients in a later run outside it. The
    sampler's kept latent blocks (4 rows of 4,096 floats: 64 KiB) give the second run the first
    run's addresses, so it meets the first run's views."""
    dim = 4096

    def model(x, t):
        return x * 0.5

    def score(x0):
        return -(x0 * x0).sum(1)
    with itscale.Sampler("best_of_n", {"n": 4}, {"steps": 3}) as s:
        with torch.inference_mode():
            a = s.run(itscale.Model(model, dim=dim), score, seed=5)
        b = s.run(itscale.Model(model, dim=dim), score, seed=5)
    assert torch.equal(a.samples, b.samples)
    # the gradient path (local_search) makes its input require grad: not allowed on an
    # inference tensor, so a view made in that mode must be a normal one
    from itscale import adapters
    buf = ffi.new("float[]", 8)
    with torch.inference_mode():
        v = adapters._views_for((4,), True).get(buf, 2)
    assert not v.is_inference()
    assert v.detach().requires_grad_(True).requires_grad


def test_module_dtype_is_followed():
    """A module turned to float64 needs no dtype=: inputs go to its dtype, outputs come back as
    float32; the samples equal the float32 module's (u = x / 2 is exact in both)."""
    class Half(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor(0.5))

        def forward(self, x, t):
            assert x.dtype == self.scale.dtype
            return x * self.scale
    a = _run(Half())
    b = _run(Half().double())
    assert b.model_stats.bytes_in > 0 and a.model_stats.bytes_in == 0
    assert torch.equal(a.samples, b.samples) and b.samples.dtype == torch.float32


def test_verifier_module_dtype_is_followed():
    """As for a model: a verifier module turned to float64 (or a method of one) gets float64
    inputs without dtype=, and its scores equal the float32 module's where both are exact."""
    class Score(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(DIM))

        def forward(self, x0):
            assert x0.dtype == self.w.dtype
            return -(x0 * x0 * self.w).sum(-1)

        def score(self, x0):
            return self.forward(x0)
    m = itscale.Model(half_x, dim=DIM)
    a = itscale.generate(m, Score(), sampler="best_of_n", max_nfe=40, seed=3)
    v64 = Score().double()
    b = itscale.generate(m, v64, sampler="best_of_n", max_nfe=40, seed=3)
    c = itscale.generate(m, v64.score, sampler="best_of_n", max_nfe=40, seed=3)
    assert torch.equal(a.samples, b.samples) and torch.equal(b.samples, c.samples)
    assert b.verifier_stats.bytes_in > 0 and a.verifier_stats.bytes_in == 0


def test_shape_and_dim_arguments():
    assert itscale.Model(half_x, shape=DIM).shape == (DIM,)
    assert itscale.Model(half_x, shape=torch.Size([2, 16]), dim=DIM).shape == (2, 16)
    with pytest.raises(TypeError, match="shape="):
        itscale.Model(half_x, dim=(2, 16))
    with pytest.raises(ValueError, match="dim is 5"):
        itscale.Model(half_x, shape=(2, 2), dim=5)


def test_numpy_return_under_torch_names_the_fix():
    with pytest.raises(itscale.CallbackError, match="imported torch.*framework='numpy'"):
        _run(lambda x, t: np.zeros(tuple(x.shape), np.float32))
    with pytest.raises(itscale.CallbackError, match="framework='torch' was given"):
        itscale.generate(itscale.Model(lambda x, t: np.zeros(tuple(x.shape), np.float32),
                                       dim=DIM, framework="torch"), neg_sq,
                         sampler="best_of_n", max_nfe=40)


def test_gradient_in_inference_mode_says_why():
    with torch.inference_mode():
        with pytest.raises(itscale.CallbackError, match="inference_mode"):
            itscale.generate(itscale.Model(half_x, dim=DIM), neg_sq, sampler="local_search",
                             max_nfe=60, seed=1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="torch has a CUDA device")
def test_cuda_without_cuda_fails_when_wrapped():
    with pytest.raises(ValueError, match="no CUDA"):
        itscale.Model(half_x, dim=DIM, device="cuda")
