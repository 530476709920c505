"""A PEP 517 build backend in the standard library only.

Why not setuptools: pip builds in an isolated environment and would download
setuptools from an index, which this project's machines (and hospitals'
networks) often do not reach. This package is pure Python with no
dependencies, so a wheel is a zip of continuous_learning_system/ plus the
three metadata files of the wheel format (PEP 427); that is all this does.
Name and version come from pyproject.toml's [project] table.
"""

import base64
import hashlib
import io
import os
import tarfile
import tomllib
import zipfile

_HERE = os.path.dirname(os.path.abspath(__file__))
_PACKAGE = "continuous_learning_system"


def _project():
    with open(os.path.join(_HERE, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    return project["name"], project["version"], project


def _dist_name():
    name, version, _ = _project()
    return name.replace("-", "_"), version


def _metadata():
    name, version, project = _project()
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {name}\n"
        f"Version: {version}\n"
        f"Summary: {project.get('description', '')}\n"
        f"Requires-Python: {project.get('requires-python', '>=3.11')}\n"
    )


def _wheel_file():
    return (
        "Wheel-Version: 1.0\n"
        "Generator: cls_build_backend\n"
        "Root-Is-Purelib: true\n"
        "Tag: py3-none-any\n"
    )


def _package_files():
    """(path in the wheel, path on disk) of every module, sorted."""
    root = os.path.join(_HERE, _PACKAGE)
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for n in sorted(names):
            if n.endswith((".py", ".pyi")) or n == "py.typed":
                disk = os.path.join(folder, n)
                files.append((os.path.relpath(disk, _HERE).replace(os.sep, "/"), disk))
    return files


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"{arcname},sha256={digest.decode()},{len(data)}\n"


def _write_wheel(wheel_directory, contents):
    """contents: list of (arcname, bytes); adds the dist-info files."""
    dist, version = _dist_name()
    info = f"{dist}-{version}.dist-info"
    contents = list(contents) + [
        (f"{info}/METADATA", _metadata().encode()),
        (f"{info}/WHEEL", _wheel_file().encode()),
    ]
    record = "".join(_record_line(a, d) for a, d in contents) + f"{info}/RECORD,,\n"
    filename = f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w",
                         zipfile.ZIP_DEFLATED) as z:
        for arcname, data in contents:
            z.writestr(arcname, data)
        z.writestr(f"{info}/RECORD", record)
    return filename


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    contents = []
    for arcname, disk in _package_files():
        with open(disk, "rb") as f:
            contents.append((arcname, f.read()))
    return _write_wheel(wheel_directory, contents)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # PEP 660: a .pth file putting this folder on sys.path.
    dist, _ = _dist_name()
    return _write_wheel(wheel_directory, [(f"{dist}.pth", (_HERE + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    dist, version = _dist_name()
    base = f"{dist}-{version}"
    filename = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as t:
        for rel in ("pyproject.toml", "cls_build_backend.py"):
            t.add(os.path.join(_HERE, rel), f"{base}/{rel}")
        for arcname, disk in _package_files():
            t.add(disk, f"{base}/{arcname}")
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        data = _metadata().encode()
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return filename
