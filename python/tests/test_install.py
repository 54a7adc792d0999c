"""Installing the package as the README says, offline: a fresh venv made by Debian's Python with
--system-site-packages, `pip install ./python` with build isolation on and no index (the
package's own backend, python/_build/itscale_build.py, needs nothing from one), an import that
lists the methods, the wheel's RECORD, an uninstall that leaves nothing behind, and the editable
install."""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest

REPO = Path(__file__).resolve().parents[2]
PKG_SRC = REPO / "python"
SYSTEM_PYTHON = Path("/usr/bin/python3")

sys.path.insert(0, str(PKG_SRC / "_build"))
import itscale_build  # noqa: E402  (the backend, standard library only)

sys.path.remove(str(PKG_SRC / "_build"))


def _env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
    env.update(extra)
    return env


def _run(args: List[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in args], cwd=cwd, env=_env(**extra), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, f"{' '.join(map(str, args))}:\n{r.stdout}\n{r.stderr}"
    return r


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(
        b"=").decode()


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh venv from /usr/bin/python3 with the system's site packages (Debian's numpy,
    cffi, torch), as the README makes one."""
    if not SYSTEM_PYTHON.exists():
        pytest.skip("/usr/bin/python3 not found")
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import venv, ensurepip"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("/usr/bin/python3 lacks venv/ensurepip (Debian: apt install python3-venv): "
                    + probe.stderr.strip().splitlines()[-1])
    d = tmp_path_factory.mktemp("venv") / "env"
    r = subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", "--system-site-packages", str(d)],
                       capture_output=True, text=True, env=_env())
    if r.returncode != 0 and "ensurepip" in (r.stdout + r.stderr):
        pytest.skip("/usr/bin/python3 -m venv cannot bootstrap pip (ensurepip unavailable)")
    assert r.returncode == 0, r.stderr
    return d


def _site_packages(venv: Path) -> Path:
    r = _run([venv / "bin/python", "-c",
              "import sysconfig; print(sysconfig.get_paths()['purelib'])"], venv)
    return Path(r.stdout.strip())


def test_wheel_record_verifies(venv, tmp_path):
    """pip builds the wheel through the in-tree backend in an isolated environment; every file
    in it is in RECORD with the right digest and size, and the metadata is pyproject's."""
    out = tmp_path / "wheels"
    _run([venv / "bin/pip", "wheel", "--no-deps", "-w", out, "./python"], REPO)
    wheels = list(out.glob("*.whl"))
    assert [w.name for w in wheels] == ["itscale-0.1.0-py3-none-any.whl"]
    with zipfile.ZipFile(wheels[0]) as z:
        names = set(z.namelist())
        record = z.read("itscale-0.1.0.dist-info/RECORD").decode()
        rows = list(csv.reader(io.StringIO(record)))
        listed = {row[0] for row in rows}
        assert listed == names, names ^ listed
        for name, digest, size in rows:
            if name.endswith("/RECORD"):
                assert (digest, size) == ("", "")
                continue
            data = z.read(name)
            assert digest == _digest(data), name
            assert int(size) == len(data), name
        wheel = z.read("itscale-0.1.0.dist-info/WHEEL").decode()
        meta = z.read("itscale-0.1.0.dist-info/METADATA").decode()
    assert "Root-Is-Purelib: true" in wheel.splitlines()
    assert "Tag: py3-none-any" in wheel.splitlines()
    pkg = {p.relative_to(PKG_SRC).as_posix() for p in (PKG_SRC / "itscale").iterdir()
           if p.is_file() and p.suffix in (".py", ".typed")}
    assert pkg <= names and "itscale/py.typed" in names
    project = itscale_build.load_pyproject()["project"]
    head = meta.split("\n\n", 1)[0].splitlines()
    assert "Metadata-Version: 2.1" in head
    assert f"Name: {project['name']}" in head and f"Version: {project['version']}" in head
    assert f"Requires-Python: {project['requires-python']}" in head
    deps = [h.split(": ", 1)[1] for h in head if h.startswith("Requires-Dist:") and ";" not in h]
    assert deps == project["dependencies"]


def test_install_import_uninstall(venv, tmp_path):
    """`pip install ./python` offline with build isolation, the methods listed from the
    installed package, and `pip uninstall -y itscale` removes every file it installed."""
    lib = os.environ.get("ITSCALE_LIBRARY")
    if not lib:
        pytest.fail("ITSCALE_LIBRARY not set and no build tree found (conftest.py)")
    _run([venv / "bin/pip", "install", "./python"], REPO)
    site = _site_packages(venv)
    dist = site / "itscale-0.1.0.dist-info"
    assert dist.is_dir()
    r = _run([venv / "bin/python", "-c",
              "import itscale; print(itscale.__file__); print(itscale.samplers())"],
             tmp_path, ITSCALE_LIBRARY=lib)
    first, listing = r.stdout.split("\n", 1)
    assert Path(first).resolve().is_relative_to(site.resolve()), first
    names = {line.split()[0] for line in listing.splitlines() if line and not line[0].isspace()}
    assert {"none", "best_of_n", "fk_smc", "rbf", "svdd", "local_search"} <= names, names
    # the installed RECORD: every file there (pip adds bytecode and INSTALLER, unhashed)
    installed = []
    for name, digest, size in csv.reader(io.StringIO((dist / "RECORD").read_text())):
        path = (site / name).resolve()
        assert path.is_file(), name
        if digest:
            data = path.read_bytes()
            assert digest == _digest(data) and int(size) == len(data), name
        installed.append(path)
    assert any(p.name == "py.typed" for p in installed)
    _run([venv / "bin/pip", "uninstall", "-y", "itscale"], tmp_path)
    left = [str(p) for p in installed if p.exists()]
    assert not left, left
    assert not list(site.glob("itscale*")), list(site.glob("itscale*"))


def test_editable_install(venv, tmp_path):
    """`pip install -e ./python` (PEP 660): the venv imports the source folder's package (and
    its submodules) and nothing else from that folder, and uninstalling removes the hook."""
    lib = os.environ.get("ITSCALE_LIBRARY", "")
    _run([venv / "bin/pip", "install", "-e", "./python"], REPO)
    site = _site_packages(venv)
    pth = list(site.glob("__editable__.itscale-*.pth"))
    assert len(pth) == 1 and pth[0].read_text() == "import __editable___itscale_finder\n"
    code = ("import importlib.util as u, itscale, itscale.gmm; print(itscale.__file__); "
            "print(itscale.gmm.__file__); "
            "s = [u.find_spec(m) for m in ('tests', 'conftest', 'itscale_build', '_build')]; "
            "print([p for x in s if x for p in [x.origin or ''] + "
            "list(x.submodule_search_locations or [])])")
    r = _run([venv / "bin/python", "-c", code], tmp_path, ITSCALE_LIBRARY=lib)
    init, gmm, found = r.stdout.splitlines()
    assert Path(init).resolve() == (PKG_SRC / "itscale" / "__init__.py").resolve()
    assert Path(gmm).resolve() == (PKG_SRC / "itscale" / "gmm.py").resolve()
    # the source folder itself is not on sys.path: nothing else in it is importable
    # (a package of the same name elsewhere, e.g. in Debian's site-packages, may be)
    stray = [p for p in eval(found) if p and str(PKG_SRC) in str(Path(p).resolve())]
    assert stray == []
    _run([venv / "bin/pip", "uninstall", "-y", "itscale"], tmp_path)
    assert not pth[0].exists() and not list(site.glob("itscale*"))
    assert not list(site.glob("__editable__*"))


def test_sdist_builds_the_same_wheel(tmp_path):
    """The sdist carries the backend, pyproject and the package: its wheel has the same files."""
    name = itscale_build.build_sdist(str(tmp_path))
    import tarfile
    with tarfile.open(tmp_path / name) as t:
        kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        t.extractall(tmp_path / "src", **kw)
    root = tmp_path / "src" / "itscale-0.1.0"
    assert (root / "PKG-INFO").read_text() == itscale_build.metadata_text()
    a = itscale_build.build_wheel(str(tmp_path / "a"))
    # build from the unpacked sdist with its own copy of the backend
    r = subprocess.run([sys.executable, "-c",
                        "import sys; sys.path.insert(0, '_build'); import itscale_build as b; "
                        f"print(b.build_wheel({str(tmp_path / 'b')!r}))"],
                       cwd=root, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(tmp_path / "a" / a) as za, \
            zipfile.ZipFile(tmp_path / "b" / r.stdout.strip()) as zb:
        assert {n: za.read(n) for n in za.namelist()} == {n: zb.read(n) for n in zb.namelist()}


def test_fallback_toml_parser_matches_tomllib():
    """Pythons before 3.11 read pyproject.toml with the backend's own small parser: it must
    read the file exactly as tomllib does."""
    tomllib = pytest.importorskip("tomllib")
    text = (PKG_SRC / "pyproject.toml").read_text()
    assert itscale_build._parse_toml_subset(text) == tomllib.loads(text)
    sample = ('[a]\nx = "q\\"s" # c\ny = [\n  "1", # one\n  \'2\',\n]\n[a.b]\nz = {text = "M"}\n'
              'n = 3\nf = false\n')
    assert itscale_build._parse_toml_subset(sample) == tomllib.loads(sample)
    sample = "a = \"x#y\"\nb = 'c\\d' # e\n"
    assert itscale_build._parse_toml_subset(sample) == tomllib.loads(sample)
    with pytest.raises(ValueError):
        itscale_build._parse_toml_subset("[[arr]]\n")
