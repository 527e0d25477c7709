"""Packaging: a plain `pip install .` must carry every subpackage and every method file."""
from __future__ import annotations

import configparser
import pkgutil
from pathlib import Path

import colorbench.methods

ROOT = Path(__file__).resolve().parents[1]


def _declared_packages() -> set[str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return {line.strip() for line in cfg["options"]["packages"].splitlines() if line.strip()}


def test_every_subpackage_is_declared_in_setup_cfg():
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "colorbench").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    missing = found - _declared_packages()
    assert not missing, f"add these to setup.cfg [options] packages: {sorted(missing)}"


def test_methods_folder_installs_as_colorbench_methods():
    assert Path(colorbench.methods.__path__[0]).resolve() == (ROOT / "methods").resolve()
    files = {p.stem for p in (ROOT / "methods").glob("*.py") if not p.name.startswith("_")}
    assert files and files == {m.name for m in pkgutil.iter_modules(colorbench.methods.__path__)}


def test_no_top_level_package_named_datasets_or_methods():
    # generic names collide in site-packages (Hugging Face's `datasets`)
    assert not (ROOT / "datasets" / "__init__.py").exists()
    assert not (ROOT / "methods" / "__init__.py").exists() or "colorbench.methods" in _declared_packages()
