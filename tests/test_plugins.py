"""Plugins that travel: a method from outside the repository (an installed package's entry point, or a file on
``COLORBENCH_METHODS_PATH``) is recorded with its origin in the run folder; a later command that does not find it
names that origin and what loads it, and never imports anything the run folder names."""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from colorbench import cli, registry
from colorbench.checkpoint import load_method
from colorbench.errors import UserError

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(600)

METHOD = textwrap.dedent('''
    """{name}: one conv from L to ab with an L1 loss (a plugin for the tests)."""
    import dataclasses
    import pathlib

    import torch
    from torch import nn

    from colorbench.method import Method
    from colorbench.registry import register_method

    MARK = {mark!r}
    if MARK:  # counts the imports of this file
        with open(MARK, "a") as f:
            f.write("imported\\n")


    @dataclasses.dataclass
    class Config:
        width: int = 8
        lr: float = 1e-2


    @register_method("{name}", description="one conv, L1 (tests)", source="tests/test_plugins.py")
    class Plugin(Method):
        Config = Config
        watch_loss = "l1"

        def __init__(self, config=None, num_classes=None):
            super().__init__(config, num_classes)
            self.net = nn.Sequential(nn.Conv2d(1, self.config.width, 3, padding=1), nn.BatchNorm2d(self.config.width),
                                     nn.ReLU(), nn.Conv2d(self.config.width, 2, 3, padding=1), nn.Tanh())
            self.opt = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)

        def train_step(self, batch, step):
            loss = (self.net(batch["L"]) - batch["ab"]).abs().mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            return {{"l1": loss.item()}}

        def predict(self, L):
            return self.net(L)
''')


def _forget(name: str) -> None:
    """This process no longer has method ``name`` (as a fresh shell without the variable or the package)."""
    registry._REGISTRY.pop(name, None)
    for mod in [m for m in sys.modules if m.startswith("colorbench_user_methods")]:
        del sys.modules[mod]


def test_a_path_method_is_recorded_and_a_later_command_names_the_variable_without_importing(
        clean_registry, tmp_path, monkeypatch, capsys):
    folder, mark = tmp_path / "my methods", tmp_path / "imports.txt"
    folder.mkdir()
    (folder / "plug_path.py").write_text(METHOD.format(name="plug_path", mark=str(mark)))
    monkeypatch.setenv("COLORBENCH_METHODS_PATH", str(folder))
    registry.discover(force=True)
    assert registry.method_origin("plug_path") == {"kind": "path", "module": "colorbench_user_methods.plug_path",
                                                   "file": str((folder / "plug_path.py").resolve()),
                                                   "folder": str(folder.resolve())}
    run = tmp_path / "run"
    assert cli.main(["train", "plug_path", "--dataset", "synthetic", "--steps", "2", "--size", "16",
                     "--batch-size", "4", "--val-every", "0", "--out", str(run), "--no-progress"]) == 0
    recorded = json.loads((run / "run.json").read_text())["origin"]
    assert recorded["kind"] == "path" and recorded["folder"] == str(folder.resolve())
    assert mark.read_text().count("imported") == 1

    monkeypatch.delenv("COLORBENCH_METHODS_PATH")
    _forget("plug_path")
    capsys.readouterr()
    with pytest.raises(UserError) as err:
        load_method(run)
    message = str(err.value)
    assert f"COLORBENCH_METHODS_PATH={shlex.quote(str(folder.resolve()))}" in message and "plug_path" in message
    assert "\n" not in message
    from PIL import Image

    Image.new("RGB", (20, 10), (90, 90, 90)).save(tmp_path / "photo.png")
    for argv in (["eval", str(run), "--max-images", "2"],
                 ["colorize", str(run), str(tmp_path / "photo.png"), "--out", str(tmp_path / "o")]):
        code = cli.main(argv)
        err_text = capsys.readouterr().err
        assert code == 2 and f"COLORBENCH_METHODS_PATH={shlex.quote(str(folder.resolve()))}" in err_text, err_text
        assert err_text.count("\n") == 1
    assert mark.read_text().count("imported") == 1, "a path named by the run folder was imported"
    assert "plug_path" not in registry.list_methods()


def test_a_run_without_an_origin_still_says_what_to_do(clean_registry, tmp_path, monkeypatch):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "plug_old.py").write_text(METHOD.format(name="plug_old", mark=""))
    monkeypatch.setenv("COLORBENCH_METHODS_PATH", str(folder))
    registry.discover(force=True)
    run = tmp_path / "run"
    cli.main(["train", "plug_old", "--dataset", "synthetic", "--steps", "1", "--size", "16", "--batch-size", "4",
              "--val-every", "0", "--out", str(run), "--no-progress"])
    for config in run.glob("checkpoints/*/config.json"):  # as written by a colorbench that recorded no origin
        record = json.loads(config.read_text())
        del record["origin"]
        config.write_text(json.dumps(record))
    monkeypatch.delenv("COLORBENCH_METHODS_PATH")
    _forget("plug_old")
    with pytest.raises(UserError, match="records no origin .*COLORBENCH_METHODS_PATH"):
        load_method(run)


PYPROJECT = textwrap.dedent('''
    [build-system]
    requires = ["setuptools>=61"]
    build-backend = "setuptools.build_meta"

    [project]
    name = "colorbench-plugin-demo"
    version = "0.3.1"
    dependencies = ["colorbench"]

    [tool.setuptools]
    py-modules = ["colorbench_plugin_demo"]

    [project.entry-points."colorbench.methods"]
    plugin_demo = "colorbench_plugin_demo"
''')

# One fresh interpreter runs the commands a user would type, in order: no environment variable names the plugin.
DRIVER = textwrap.dedent('''
    import json, os, sys
    from colorbench import cli
    assert "COLORBENCH_METHODS_PATH" not in os.environ
    for argv in json.loads(sys.argv[1]):
        print("$ colorbench " + " ".join(argv), flush=True)
        code = cli.main(argv)
        print(f"exit {code}", flush=True)
        if code:
            sys.exit(code)
''')


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


@pytest.mark.slow
def test_an_installed_package_is_listed_checked_trained_evaluated_colourised_and_ranked(
        clean_registry, tmp_path, monkeypatch):
    pkg = tmp_path / "colorbench-plugin-demo"
    pkg.mkdir()
    (pkg / "pyproject.toml").write_text(PYPROJECT)
    (pkg / "colorbench_plugin_demo.py").write_text(METHOD.format(name="plugin_demo", mark=""))
    assert registry.ENTRY_POINT_GROUP == "colorbench.methods"
    installed = _pip("install", "--no-deps", "--no-build-isolation", "-q", "-e", str(pkg))
    assert installed.returncode == 0, installed.stderr[-2000:]
    try:
        run, photo, out = tmp_path / "run", tmp_path / "photo.png", tmp_path / "coloured"
        from PIL import Image

        Image.new("RGB", (45, 30), (120, 80, 40)).save(photo)
        results, cache = tmp_path / "results", tmp_path / "cache"
        commands = [
            ["list", "methods"],
            ["check-method", "plugin_demo"],
            ["train", "plugin_demo", "--dataset", "sample", "--steps", "3", "--size", "16", "--batch-size", "4",
             "--val-every", "0", "--out", str(run), "--no-progress"],
            ["eval", str(run), "--max-images", "4", "--batch-size", "4"],
            ["colorize", str(run), str(photo), "--out", str(out)],
            ["bench", "--profile", "quick", "--methods", "plugin_demo", "--no-baselines", "--seeds", "1",
             "--set", "train.steps=3", "--results", str(results), "--cache", str(cache), "--no-progress",
             "--jobs", "1"],
        ]
        env = {k: v for k, v in __import__("os").environ.items() if k != "COLORBENCH_METHODS_PATH"}
        done = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(commands)], capture_output=True, text=True,
                              cwd=tmp_path, env={**env, "OMP_NUM_THREADS": "1"}, timeout=500)
        log = done.stdout + done.stderr
        assert done.returncode == 0, log[-3000:]
        listing = log.split("$ colorbench list methods")[1].split("$ colorbench check-method")[0]
        assert "plugin_demo" in listing and "one conv, L1 (tests)" in listing
        checks = log.split("$ colorbench check-method plugin_demo")[1].split("$ colorbench train")[0]
        assert "all checks passed" in checks and checks.count("passed ") >= 6, checks
        origin = json.loads((run / "run.json").read_text())["origin"]
        assert origin == {"kind": "entry_point", "module": "colorbench_plugin_demo",
                          "entry_point": "plugin_demo = colorbench_plugin_demo",
                          "distribution": "colorbench-plugin-demo", "version": "0.3.1"}
        assert "psnr" in log.split("$ colorbench eval")[1]
        assert Image.open(out / "photo.png").size == (45, 30)
        assert not (tmp_path / ".pytest_cache").exists() and not (pkg / ".pytest_cache").exists()

        # ranked beside the committed quick table: the same protocol, the same table code
        from colorbench.report.tables import markdown, summarise

        committed = pd.read_csv(REPO / "results" / "quick" / "openphotos" / "metrics.csv")
        mine = pd.read_csv(results / "quick" / "openphotos" / "metrics.csv")
        assert set(mine["method"]) == {"plugin_demo"} and (mine["status"] == "ok").all()
        assert set(mine["protocol"]) == set(committed["protocol"])
        table, _ = markdown(summarise(pd.concat([committed, mine], ignore_index=True)))
        rows = [line for line in table.splitlines() if line.startswith("| ")]
        assert any("plugin_demo" in r for r in rows) and any("pix2pix" in r for r in rows)
    finally:
        removed = _pip("uninstall", "-y", "-q", "colorbench-plugin-demo")
        assert removed.returncode == 0, removed.stderr[-2000:]

    # uninstalled: the run names the package to install, and nothing is imported
    _forget("plugin_demo")
    sys.modules.pop("colorbench_plugin_demo", None)
    with pytest.raises(UserError) as err:
        load_method(run)
    assert "pip install 'colorbench-plugin-demo==0.3.1'" in str(err.value)
    assert "plugin_demo = colorbench_plugin_demo" in str(err.value)
    from colorbench.bench import run_bench

    with pytest.raises(UserError) as err:  # the bench finds the origin in its cached cell
        run_bench("quick", methods=["plugin_demo"], seeds=1, results=results, cache=cache, progress=False,
                  baselines=False)
    assert "cached cell" in str(err.value) and "pip install 'colorbench-plugin-demo==0.3.1'" in str(err.value)
    assert "colorbench_plugin_demo" not in sys.modules
