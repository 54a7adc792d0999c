"""Finding the library: ITSCALE_LIBRARY, the loader's path, and a clear error otherwise."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import itscale

PKG_PARENT = str(Path(itscale.__file__).resolve().parents[1])


def _import(env_extra, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("ITSCALE_LIBRARY",
                                                             "LD_LIBRARY_PATH")}
    env.update(env_extra)
    env["PYTHONPATH"] = PKG_PARENT
    return subprocess.run([sys.executable, "-c",
                           "import itscale; print(itscale.library_path, itscale.library_version)"],
                          capture_output=True, text=True, env=env, cwd=cwd)


def test_explicit_library(tmp_path):
    lib = Path(itscale.library_path).resolve()
    r = _import({"ITSCALE_LIBRARY": str(lib)}, tmp_path)
    assert r.returncode == 0 and str(lib) in r.stdout


def test_loader_path(tmp_path):
    lib = Path(itscale.library_path).resolve()
    r = _import({"LD_LIBRARY_PATH": str(lib.parent)}, tmp_path)
    assert r.returncode == 0, r.stderr
    assert itscale.library_version in r.stdout


def test_missing_library_is_a_clear_import_error(tmp_path):
    r = _import({"ITSCALE_LIBRARY": str(tmp_path / "nope.so")}, tmp_path)
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "ITSCALE_LIBRARY" in r.stderr


def test_numpy_user_does_not_import_torch(tmp_path):
    code = ("import sys, itscale\n"
            "r = itscale.generate(lambda x, t: -x, lambda x: -(x * x).sum(1), 'best_of_n',\n"
            "                     max_nfe=40, dim=4)\n"
            "print(type(r.samples).__module__, 'torch' in sys.modules)\n")
    env = dict(os.environ, PYTHONPATH=PKG_PARENT,
               ITSCALE_LIBRARY=str(Path(itscale.library_path).resolve()))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["numpy", "False"]


def test_not_found_lists_where_it_looked(tmp_path):
    """A copy of the package outside the checkout, with no ITSCALE_LIBRARY: the error names the
    folders it searched (skipped where a system prefix or the loader has the library)."""
    import shutil
    shutil.copytree(Path(itscale.__file__).resolve().parent, tmp_path / "pkg" / "itscale",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("ITSCALE_LIBRARY",
                                                             "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(tmp_path / "pkg")
    r = subprocess.run([sys.executable, "-c", "import itscale"], capture_output=True, text=True,
                       env=env, cwd=tmp_path)
    if r.returncode == 0:
        import pytest
        pytest.skip("libitscale.so.0 is installed where any import finds it")
    assert "No libitscale.so.0 in:" in r.stderr and "/usr/local/lib" in r.stderr
    assert "ITSCALE_LIBRARY" in r.stderr


def test_older_library_is_a_clear_import_error(monkeypatch):
    """A library that lacks a function this package declares (an older build of the same
    version) fails the import check with an ImportError naming it, not an AttributeError."""
    import pytest
    from itscale import _lib

    real = _lib.lib

    class Older:
        def __getattr__(self, name):
            if name == "its_gen_options_init_sized":
                raise AttributeError(f"function/symbol '{name}' not found in library")
            return getattr(real, name)
    _lib._check_structs()  # the real library passes
    monkeypatch.setattr(_lib, "lib", Older())
    with pytest.raises(ImportError, match="older than this package.*its_gen_options_init_sized"):
        _lib._check_structs()
    monkeypatch.setattr(_lib, "lib", real)
