"""The package's own PEP 517 / PEP 660 build backend, standard library only.

``pip install ./python`` builds in an isolated environment whose build requirements pip fetches
from an index; on a machine whose only registries are Debian's, an index-hosted backend
(setuptools) cannot be fetched and the install fails. This backend needs nothing but the
Python that runs it (``requires = []``, found through ``backend-path``), so the default install
works offline.

The package is pure Python (cffi in ABI mode opens libitscale.so at import time), so a wheel is
a zip of ``itscale/`` and a ``.dist-info`` folder: METADATA (core metadata 2.1, from the
``[project]`` table of pyproject.toml), WHEEL (py3-none-any, purelib) and RECORD (sha256 digests
and sizes, as pip checks them). The editable wheel holds, instead of the package's files, a
``.pth`` file that imports a finder mapping the package to this folder.

Hooks: build_wheel, build_sdist, build_editable, prepare_metadata_for_build_wheel,
prepare_metadata_for_build_editable and get_requires_for_build_{wheel,sdist,editable}.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

#: The source folder (python/): this file is python/_build/itscale_build.py.
ROOT = Path(__file__).resolve().parent.parent
#: The import package the wheel carries.
PACKAGE = "itscale"
WHEEL_TAG = "py3-none-any"
GENERATOR = "itscale_build 1"

# ---------------------------------------------------------------------------------------------
# pyproject.toml
# ---------------------------------------------------------------------------------------------


def _parse_toml_subset(text: str) -> Dict[str, Any]:
    """The TOML that pyproject.toml uses, for Pythons without tomllib (before 3.11): tables
    ``[a.b]``, and ``key = value`` with a basic or literal string, an integer, true/false, an
    array of strings (over several lines too) or an inline table of strings. Anything else is
    an error rather than a guess (tests/test_install.py checks it agrees with tomllib)."""
    doc: Dict[str, Any] = {}
    table = doc
    lines = text.splitlines()
    i = 0

    def strip_comment(s: str) -> str:
        for ch, pos, quoted in _scan(s):
            if ch == "#" and not quoted:
                return s[:pos].strip()
        return s.strip()

    while i < len(lines):
        line = strip_comment(lines[i])
        i += 1
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]") or line.startswith("[["):
                raise ValueError(f"pyproject.toml:{i}: unsupported table header {line!r}")
            table = doc
            for part in _split_key(line[1:-1]):
                table = table.setdefault(part, {})
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"pyproject.toml:{i}: expected key = value")
        value = value.strip()
        # an array may run over several lines, until its brackets balance
        while value.startswith("[") and _depth(value) > 0:
            if i >= len(lines):
                raise ValueError("pyproject.toml: unterminated array")
            value += " " + strip_comment(lines[i])
            i += 1
        parts = _split_key(key.strip())
        t = table
        for part in parts[:-1]:
            t = t.setdefault(part, {})
        t[parts[-1]] = _value(value, i)
    return doc


def _scan(s: str):
    """(character, position, inside a string) for each character of s: a basic string ends at
    an unescaped double quote, a literal one at the next single quote."""
    quote, escaped = None, False
    for pos, ch in enumerate(s):
        if quote:
            yield ch, pos, True
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = None
        else:
            if ch in "\"'":
                quote = ch
                yield ch, pos, True
            else:
                yield ch, pos, False


def _depth(s: str) -> int:
    d = 0
    for ch, _, quoted in _scan(s):
        if not quoted:
            d += ch in "[{"
            d -= ch in "]}"
    return d


def _split_key(key: str) -> List[str]:
    parts = []
    for p in key.split("."):
        p = p.strip()
        if len(p) >= 2 and p[0] == p[-1] and p[0] in "\"'":
            p = p[1:-1]
        parts.append(p)
    return parts


_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'')


def _value(v: str, line: int) -> Any:
    v = v.strip()
    m = _STRING.fullmatch(v)
    if m:
        if m.group(1) is not None:
            return m.group(1).encode("latin-1", "backslashreplace").decode("unicode_escape")
        return m.group(2)
    if v in ("true", "false"):
        return v == "true"
    if re.fullmatch(r"[+-]?\d+", v):
        return int(v)
    if v.startswith("[") and v.endswith("]"):
        return [_value(x, line) for x in _items(v[1:-1])]
    if v.startswith("{") and v.endswith("}"):
        out = {}
        for item in _items(v[1:-1]):
            k, sep, x = item.partition("=")
            if not sep:
                raise ValueError(f"pyproject.toml:{line}: bad inline table {v!r}")
            out[_split_key(k.strip())[-1]] = _value(x, line)
        return out
    raise ValueError(f"pyproject.toml:{line}: unsupported value {v!r}")


def _items(s: str) -> List[str]:
    """The comma-separated items of an array or inline table body (strings kept whole)."""
    out: List[str] = []
    cur: List[str] = []
    depth = 0
    for ch, _, quoted in _scan(s):
        if not quoted:
            if ch in "[{":
                depth += 1
            elif ch in "]}":
                depth -= 1
            elif ch == "," and depth == 0:
                out.append("".join(cur).strip())
                cur = []
                continue
        cur.append(ch)
    last = "".join(cur).strip()
    if last:
        out.append(last)
    return [x for x in out if x]


def load_pyproject(root: Path = ROOT) -> Dict[str, Any]:
    """pyproject.toml as a dict (tomllib where the Python has it)."""
    data = (root / "pyproject.toml").read_bytes()
    try:
        import tomllib  # Python 3.11+
    except ImportError:
        return _parse_toml_subset(data.decode("utf-8"))
    return tomllib.loads(data.decode("utf-8"))


def _project(root: Path = ROOT) -> Dict[str, Any]:
    project = load_pyproject(root).get("project")
    if not isinstance(project, dict) or "name" not in project or "version" not in project:
        raise ValueError("pyproject.toml: [project] needs name and version")
    return project


def _normalized(name: str) -> str:
    """The distribution name as wheel file names spell it (PEP 427/503)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def metadata_text(root: Path = ROOT) -> str:
    """Core metadata 2.1 (the METADATA / PKG-INFO file) from [project]."""
    p = _project(root)
    lines = ["Metadata-Version: 2.1", f"Name: {p['name']}", f"Version: {p['version']}"]
    if p.get("description"):
        lines.append(f"Summary: {p['description']}")
    lic = p.get("license")
    if isinstance(lic, dict) and lic.get("text"):
        lines.append(f"License: {lic['text']}")
    elif isinstance(lic, str):
        lines.append(f"License: {lic}")
    if p.get("requires-python"):
        lines.append(f"Requires-Python: {p['requires-python']}")
    for dep in p.get("dependencies", []):
        lines.append(f"Requires-Dist: {dep}")
    for extra, deps in p.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        for dep in deps:
            marker = f'extra == "{extra}"'
            req, sep, own = dep.partition(";")
            both = f"({own.strip()}) and {marker}" if sep else marker
            lines.append(f"Requires-Dist: {req.strip()}; {both}")
    body = ""
    readme = p.get("readme")
    if isinstance(readme, str):
        readme_path = root / readme
        ctype = "text/markdown" if readme.lower().endswith(".md") else "text/plain"
        lines.append(f"Description-Content-Type: {ctype}")
        body = readme_path.read_text(encoding="utf-8")
    return "\n".join(lines) + "\n\n" + body


def _names(root: Path = ROOT) -> Tuple[str, str, str]:
    p = _project(root)
    name, version = _normalized(p["name"]), str(p["version"])
    return name, version, f"{name}-{version}.dist-info"


# ---------------------------------------------------------------------------------------------
# Wheels
# ---------------------------------------------------------------------------------------------


def _epoch() -> Tuple[int, int, int, int, int, int]:
    """The zip timestamp: SOURCE_DATE_EPOCH when set (reproducible wheels), else 1980-01-01."""
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if sde and sde.isdigit():
        t = time.gmtime(max(int(sde), 315532800))
        return t[:6]  # type: ignore[return-value]
    return (1980, 1, 1, 0, 0, 0)


def _package_files(root: Path = ROOT) -> List[Path]:
    """The package's files, sorted: every file under itscale/ but bytecode caches."""
    pkg = root / PACKAGE
    out = []
    for path in sorted(pkg.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        out.append(path)
    return out


def record_digest(data: bytes) -> str:
    """A RECORD hash: ``sha256=`` and the urlsafe base64 digest without padding."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


class _WheelWriter:
    def __init__(self, path: Path, dist_info: str):
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        self.dist_info = dist_info
        self.records: List[Tuple[str, str, int]] = []
        self.when = _epoch()

    def add(self, arcname: str, data: bytes, mode: int = 0o644) -> None:
        info = zipfile.ZipInfo(arcname, date_time=self.when)
        info.external_attr = (0o100000 | mode) << 16  # a regular file and its permissions
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        self.records.append((arcname, record_digest(data), len(data)))

    def close(self) -> None:
        record = f"{self.dist_info}/RECORD"
        rows = [f"{name},{digest},{size}" for name, digest, size in self.records]
        rows.append(f"{record},,")  # RECORD cannot hash itself
        info = zipfile.ZipInfo(record, date_time=self.when)
        info.external_attr = (0o100644) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, "\n".join(rows) + "\n")
        self.zip.close()


def _wheel_file() -> str:
    return (f"Wheel-Version: 1.0\nGenerator: {GENERATOR}\nRoot-Is-Purelib: true\n"
            f"Tag: {WHEEL_TAG}\n")


def _dist_info_files(root: Path, metadata_directory: Optional[str]) -> Dict[str, bytes]:
    """METADATA and WHEEL; METADATA from prepare_metadata's folder when pip passes it, so the
    wheel carries exactly the metadata pip resolved against."""
    _, _, dist_info = _names(root)
    meta = None
    if metadata_directory:
        m = Path(metadata_directory) / dist_info / "METADATA"
        if not m.is_file():
            m = Path(metadata_directory) / "METADATA"
        if m.is_file():
            meta = m.read_bytes()
    if meta is None:
        meta = metadata_text(root).encode("utf-8")
    top = (PACKAGE + "\n").encode()
    return {"METADATA": meta, "WHEEL": _wheel_file().encode(), "top_level.txt": top}


def _finder_source(pkg_dir: Path) -> str:
    """The editable install's import hook: maps the package name, and only it, to pkg_dir."""
    return f'''"""Editable install of {PACKAGE}: imports it from {pkg_dir}."""
import importlib.abc
import importlib.util
import sys

NAME = {PACKAGE!r}
PATH = {str(pkg_dir)!r}


class Finder(importlib.abc.MetaPathFinder):
    """Finds the top-level package NAME in PATH; submodules follow its __path__."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != NAME:
            return None
        return importlib.util.spec_from_file_location(
            NAME, PATH + "/__init__.py", submodule_search_locations=[PATH])


if not any(type(f).__module__ == __name__ for f in sys.meta_path):
    sys.meta_path.append(Finder())
'''


def _build(wheel_directory: str, metadata_directory: Optional[str], editable: bool,
           root: Path = ROOT) -> str:
    name, version, dist_info = _names(root)
    filename = f"{name}-{version}-{WHEEL_TAG}.whl"
    out = Path(wheel_directory)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (filename + ".part")
    w = _WheelWriter(tmp, dist_info)
    try:
        if editable:
            # A .pth line that imports a finder for the one package: site.py runs it at
            # startup, and `import itscale` then reads the files being edited, while nothing
            # else in the source folder (tests, this backend) becomes importable.
            finder = f"__editable___{PACKAGE}_finder"
            w.add(f"__editable__.{name}-{version}.pth", f"import {finder}\n".encode())
            w.add(f"{finder}.py", _finder_source(root / PACKAGE).encode())
        else:
            for path in _package_files(root):
                w.add(path.relative_to(root).as_posix(), path.read_bytes())
        for fname, data in _dist_info_files(root, metadata_directory).items():
            w.add(f"{dist_info}/{fname}", data)
        w.close()
    except BaseException:
        w.zip.close()
        tmp.unlink()
        raise
    os.replace(tmp, out / filename)
    return filename


def _prepare_metadata(metadata_directory: str, root: Path = ROOT) -> str:
    _, _, dist_info = _names(root)
    d = Path(metadata_directory) / dist_info
    d.mkdir(parents=True, exist_ok=True)
    for fname, data in _dist_info_files(root, None).items():
        (d / fname).write_bytes(data)
    return dist_info


# ---------------------------------------------------------------------------------------------
# Source distributions
# ---------------------------------------------------------------------------------------------


def _sdist_files(root: Path = ROOT) -> List[Path]:
    """What an sdist carries: pyproject.toml, the README, this backend, the package and its
    tests (enough to build the wheel again and test it)."""
    files = [root / "pyproject.toml", root / "README.md", Path(__file__).resolve()]
    files += _package_files(root)
    tests = root / "tests"
    if tests.is_dir():
        files += [p for p in sorted(tests.rglob("*.py")) if "__pycache__" not in p.parts]
    return [f for f in files if f.is_file()]


def _build_sdist(sdist_directory: str, root: Path = ROOT) -> str:
    name, version, _ = _names(root)
    base = f"{name}-{version}"
    filename = f"{base}.tar.gz"
    out = Path(sdist_directory)
    out.mkdir(parents=True, exist_ok=True)
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    mtime = int(sde) if sde and sde.isdigit() else 315532800

    def add(tar: tarfile.TarFile, arcname: str, data: bytes) -> None:
        info = tarfile.TarInfo(f"{base}/{arcname}")
        info.size, info.mtime, info.mode = len(data), mtime, 0o644
        info.uname = info.gname = "root"
        tar.addfile(info, io.BytesIO(data))

    tmp = out / (filename + ".part")
    # gzip's own header time fixed too (GzipFile mtime) so the archive is reproducible
    import gzip
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=mtime) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in _sdist_files(root):
            add(tar, path.relative_to(root).as_posix(), path.read_bytes())
        add(tar, "PKG-INFO", metadata_text(root).encode("utf-8"))
    os.replace(tmp, out / filename)
    return filename


# ---------------------------------------------------------------------------------------------
# The hooks (PEP 517, PEP 660)
# ---------------------------------------------------------------------------------------------


def get_requires_for_build_wheel(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    """Nothing to install: the standard library builds the wheel."""
    return []


def get_requires_for_build_sdist(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    """Nothing to install."""
    return []


def get_requires_for_build_editable(
        config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    """Nothing to install."""
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str,
                                     config_settings: Optional[Dict[str, Any]] = None) -> str:
    """Writes ``<name>-<version>.dist-info`` (METADATA, WHEEL) and returns its name."""
    return _prepare_metadata(metadata_directory)


def prepare_metadata_for_build_editable(metadata_directory: str,
                                        config_settings: Optional[Dict[str, Any]] = None) -> str:
    """As prepare_metadata_for_build_wheel: an editable install has the same metadata."""
    return _prepare_metadata(metadata_directory)


def build_wheel(wheel_directory: str, config_settings: Optional[Dict[str, Any]] = None,
                metadata_directory: Optional[str] = None) -> str:
    """Writes ``<name>-<version>-py3-none-any.whl`` and returns its file name."""
    return _build(wheel_directory, metadata_directory, editable=False)


def build_editable(wheel_directory: str, config_settings: Optional[Dict[str, Any]] = None,
                   metadata_directory: Optional[str] = None) -> str:
    """Writes the editable wheel: a ``.pth`` naming the source folder, and the metadata."""
    return _build(wheel_directory, metadata_directory, editable=True)


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    """Writes ``<name>-<version>.tar.gz`` and returns its file name."""
    return _build_sdist(sdist_directory)
