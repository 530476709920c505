"""The in-tree build backend (python/cls_build_backend.py) makes a valid
wheel: every file in RECORD with its hash, metadata from pyproject.toml."""

import base64
import hashlib
import os
import sys
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import cls_build_backend  # noqa: E402


def test_wheel_records_every_file_with_its_hash(tmp_path):
    name = cls_build_backend.build_wheel(str(tmp_path))
    assert name == "continuous_learning_system-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(tmp_path / name) as z:
        names = set(z.namelist())
        info = "continuous_learning_system-0.1.0.dist-info"
        assert {f"{info}/METADATA", f"{info}/WHEEL", f"{info}/RECORD",
                "continuous_learning_system/__init__.py",
                "continuous_learning_system/enums.py"} <= names
        assert not any("__pycache__" in n or n.startswith("tests/") for n in names)
        record = z.read(f"{info}/RECORD").decode().splitlines()
        listed = set()
        for line in record:
            path, digest, size = line.rsplit(",", 2)
            listed.add(path)
            if path == f"{info}/RECORD":
                assert digest == "" and size == ""
                continue
            data = z.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert digest == "sha256=" + expected.decode()
            assert int(size) == len(data)
        assert listed == names
        metadata = z.read(f"{info}/METADATA").decode()
        assert "Name: continuous-learning-system\n" in metadata
        assert "Version: 0.1.0\n" in metadata
        assert "Root-Is-Purelib: true" in z.read(f"{info}/WHEEL").decode()


def test_nothing_to_download_for_the_build():
    assert cls_build_backend.get_requires_for_build_wheel() == []
    assert cls_build_backend.get_requires_for_build_sdist() == []


def test_sdist_has_the_backend_and_metadata(tmp_path):
    name = cls_build_backend.build_sdist(str(tmp_path))
    with tarfile.open(tmp_path / name) as t:
        names = set(t.getnames())
    base = "continuous_learning_system-0.1.0"
    assert {f"{base}/pyproject.toml", f"{base}/cls_build_backend.py", f"{base}/PKG-INFO",
            f"{base}/continuous_learning_system/federation.py"} <= names
