"""Results a reader can trust: cache keys that cover the code, one evaluation loop, tables that cannot crown the
wrong winner, committed results that are what the code produces, and a project that stands alone."""
from __future__ import annotations

import contextlib
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from colorbench import fingerprint
from colorbench.bench import grid
from colorbench.bench.outputs import README_END, README_METRICS, README_START, readme_block
from colorbench.bench.profiles import load_profile
from colorbench.metrics import js_divergence, kl_divergence
from colorbench.report import stats, tables

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ cache keys
@pytest.fixture
def fresh_hashes():
    """Clear the per-process hash caches before and after (a test edits the files they read)."""
    fingerprint.clear_caches()
    yield
    fingerprint.clear_caches()


@pytest.fixture
def sources(tmp_path, monkeypatch, fresh_hashes):
    """A copy of the ``colorbench`` and ``methods`` sources that the code hash reads instead of the real ones, so a
    test can edit them: ``sources / "colorbench" / "evaluator.py"``."""
    import shutil

    import colorbench
    import colorbench.methods

    real = fingerprint._module_file
    copies = {}
    for package in (colorbench, colorbench.methods):
        root = Path(package.__file__).resolve().parent
        copies[root] = tmp_path / ("colorbench" if package is colorbench else "methods")
        shutil.copytree(root, copies[root], ignore=shutil.ignore_patterns("__pycache__"))

    def redirected(name: str) -> Path | None:
        path = real(name)
        for root, copy in copies.items():
            if path is not None and root in path.parents:
                return copy / path.relative_to(root)
        return path

    monkeypatch.setattr(fingerprint, "_module_file", redirected)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _keys() -> dict[str, str]:
    fingerprint.clear_caches()
    return {c.label: c.key for c in grid.expand(load_profile("smoke"), methods=["unet_l1", "c2f"])}


def test_docs_comments_and_code_no_cell_runs_rekey_nothing(sources):
    """A docstring, comment or formatting edit in the evaluator, and code edits in the report, the commands, the
    study and the GPU check, leave every cell key (and so every cached cell) as it was."""
    before = _keys()
    core = sources / "colorbench"
    _edit(core / "evaluator.py", '"""', '"""An edited docstring. ')
    _edit(core / "evaluator.py", "\nimport math\n", "\n# a new comment\nimport math  # and another\n\n")
    text = (core / "evaluator.py").read_text()
    at = text.index('"""', text.index("\ndef evaluate("))
    (core / "evaluator.py").write_text(text[:at + 3] + "A function's docstring, edited. " + text[at + 3:])
    for shown in ("report/tables.py", "commands/bench.py", "study/stats.py", "gpu_check/run.py", "bench/outputs.py"):
        with open(core / shown, "a") as f:
            f.write("\n\ndef _an_edit_no_cell_runs():\n    return 42\n")
    assert _keys() == before


def test_a_body_edit_rekeys_exactly_the_cells_that_run_it(sources):
    before = _keys()
    with open(sources / "colorbench" / "metrics" / "pixel.py", "a") as f:
        f.write("\n\n_EPS = 1e-12\n")
    metrics = _keys()
    assert metrics.keys() == before.keys() and all(metrics[k] != before[k] for k in before)
    with open(sources / "methods" / "unet.py", "a") as f:
        f.write("\n\n_EDITED = True\n")
    unet = _keys()
    assert {k for k in unet if unet[k] != metrics[k]} == {"unet_l1 on synthetic seed 0", "unet_l1 (runtime)"}


def test_the_closure_reaches_computing_code_only():
    files = set(fingerprint.closure((fingerprint.CELL_RUNNER,)))
    for computes in ("colorbench.train.loop", "colorbench.evaluator", "colorbench.metrics.structural",
                     "colorbench.data.synthetic", "colorbench.color", "colorbench.checkpoint"):
        assert computes in files  # data.synthetic: named in the dataset registry's lazy table
    assert not {f for f in files if f.split(".")[1:2] in (["report"], ["commands"], ["study"], ["gpu_check"], ["cli"])}
    assert "colorbench.bench.runner" not in files and "colorbench.bench.outputs" not in files


def test_method_hash_follows_its_own_project_imports(tmp_path, monkeypatch, fresh_hashes):
    pkg = tmp_path / "plugpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helpers.py").write_text("SCALE = 1\n")
    (pkg / "unrelated.py").write_text("Z = 0\n")
    (pkg / "method.py").write_text("from plugpkg.helpers import SCALE\nimport torch\n\nclass M:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    files = fingerprint.code_files("plugpkg.method")
    assert {n for n in files if n.startswith("plugpkg")} == {"plugpkg.method", "plugpkg.helpers"}

    class Fake:
        __module__ = "plugpkg.method"
        __qualname__ = "M"

    before = fingerprint.code_hash(Fake)
    (pkg / "unrelated.py").write_text("Z = 1\n")
    fingerprint.clear_caches()
    assert fingerprint.code_hash(Fake) == before
    (pkg / "helpers.py").write_text("SCALE = 2\n")
    fingerprint.clear_caches()
    assert fingerprint.code_hash(Fake) != before


def test_environment_and_data_enter_the_key(tmp_path, fresh_hashes):
    profile = load_profile("smoke")
    one = grid.expand(profile, methods=["unet_l1"], threads=1)
    two = grid.expand(profile, methods=["unet_l1"], threads=2)
    assert one[0].settings["environment"]["threads"] == 1
    assert {c.key for c in one}.isdisjoint({c.key for c in two})
    (tmp_path / "a.png").write_bytes(b"x")
    first = fingerprint.data_fingerprint(tmp_path)
    (tmp_path / "b.png").write_bytes(b"y")
    assert fingerprint.data_fingerprint(tmp_path) != first and fingerprint.data_fingerprint(None) is None


def _committed(name: str) -> list[pd.DataFrame]:
    return [pd.read_csv(p) for p in sorted((REPO / "results").glob(f"*/**/{name}"))]


def test_committed_rows_are_what_head_computes():
    """Every committed result row was made by the code as it is now (no stale cell survives a code change)."""
    frames = _committed("metrics.csv") + _committed("runtime.csv")
    assert frames, "no committed results"
    for frame in frames:
        for method, code in zip(frame["method"], frame["code_hash"]):
            assert code == grid.code_hash(method), (
                f"{method}: committed row has code_hash {code}, HEAD computes {grid.code_hash(method)}: "
                "regenerate results/ with `make bench` (fresh cache)")


# ------------------------------------------------------------------------------------ one evaluation loop
@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    from colorbench.bench import run_bench

    tmp = tmp_path_factory.mktemp("trust")
    summary = run_bench("smoke", methods=["unet_l1"], results=tmp / "results", cache=tmp / "cache",
                        progress=False, device="cpu")
    assert not summary.failed
    return tmp, summary


def test_eval_command_bench_cell_and_validation_agree(smoke_run, capsys):
    from colorbench.checkpoint import load_method
    from colorbench.cli import main
    from colorbench.data import build_dataset, protocol_for
    from colorbench.evaluator import evaluate
    from colorbench.train.validate import validate

    tmp, summary = smoke_run
    row = next(r for r in summary.rows if r["method"] == "unet_l1" and r["kind"] == "train")
    ckpt = row["provenance"]["checkpoint"]
    out = tmp / "eval.csv"
    batch = str(load_profile("smoke")["eval"]["batch_size"])
    assert main(["eval", ckpt, "--csv", str(out), "--device", "cpu", "--batch-size", batch]) == 0
    assert main(["eval", ckpt, "--csv", str(out), "--device", "cpu", "--batch-size", "16"]) == 0
    printed = capsys.readouterr().out
    assert "test split at 16 px, 64 images (the dataset's protocol" in printed
    same_batch, other_batch = pd.read_csv(out).iloc[0], pd.read_csv(out).iloc[1]
    for m in ("psnr", "ssim", "mae_ab", "js_a", "kl_b", "colorfulness", "ab_std", "gamut_clipped"):
        assert same_batch[m] == row["metrics"][m], m  # the same loop, the same batches: the same figures
        # other batches round float32 convolutions differently, nothing more
        assert other_batch[m] == pytest.approx(row["metrics"][m], rel=1e-6, abs=1e-9), m
    # validation is the same loop on the val split, and its figures do not depend on the batch size
    method = load_method(ckpt)
    p = protocol_for("synthetic").validation(20)
    val = build_dataset("synthetic", p.split, size=p.size)
    direct = evaluate(method, val, batch_size=7, max_images=20).figures
    for bs in (3, 8):
        v = validate(method, val, bs, torch.device("cpu"), 20, contextlib.nullcontext)
        assert v["val_images"] == 20
        for m in ("psnr", "ssim", "mae_ab", "js_a"):
            assert v[f"val_{m}"] == pytest.approx(direct[m], rel=1e-6), (bs, m)


def test_plotted_histograms_are_the_counts_behind_js_and_kl(smoke_run):
    _, summary = smoke_run
    for row in (r for r in summary.rows if r["kind"] == "train"):
        with np.load(Path(row["_folder"]) / "hist.npz") as z:
            for ch in "ab":
                t, p = torch.from_numpy(z[f"true_{ch}"]), torch.from_numpy(z[f"pred_{ch}"])
                assert js_divergence(t, p) == pytest.approx(row["metrics"][f"js_{ch}"], abs=1e-12)
                assert kl_divergence(t / t.sum(), p / p.sum()) == pytest.approx(row["metrics"][f"kl_{ch}"], abs=1e-12)


def test_methods_filter_keeps_the_baselines_unless_told():
    profile = load_profile("smoke")
    with_base = {c.method for c in grid.expand(profile, methods=["unet_l1"])}
    assert with_base == {"unet_l1", "gray", "mean_color"}
    assert {c.method for c in grid.expand(profile, methods=["unet_l1"], baselines=False)} == {"unet_l1"}


def test_runtime_is_timed_once_per_network_not_per_seed():
    cells = grid.expand(load_profile("smoke"), methods=["unet_l1"], seeds=3)
    train = [c for c in cells if c.kind == "train" and c.method == "unet_l1"]
    runtime = [c for c in cells if c.kind == "runtime" and c.method == "unet_l1"]
    assert len(train) == 3 and len(runtime) == 1
    assert len([c for c in cells if c.kind == "train" and c.method == "gray"]) == 1  # nothing to train: one cell


def test_a_profile_cannot_change_the_protocol(tmp_path):
    from colorbench.bench.profiles import apply_profile_sets, parse_profile
    from colorbench.errors import UserError

    with pytest.raises(UserError, match="protocol"):
        parse_profile({"datasets": ["sample"], "data": {"test_size": 48}}, name="x")
    with pytest.raises(UserError, match="protocol"):
        apply_profile_sets(load_profile("smoke"), ["eval.max_images=3"])


# ---------------------------------------------------------------------------------------------- ranking
def _frames(rows: dict[str, dict[str, list[float]]], truth: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A fake results table: per label, per-image values of psnr, colorfulness and ab_std (one seed)."""
    metrics, per_image = [], []
    for method, vals in rows.items():
        n = len(vals["psnr"])
        metrics.append({"kind": "train", "method": method, "variant": "default", "dataset": "d", "seed": 0,
                        "status": "ok", "psnr": float(np.mean(vals["psnr"])),
                        "colorfulness": float(np.mean(vals["colorfulness"])),
                        "colorfulness_true": float(np.mean(truth)), "ab_std": vals.get("ab_std", 10.0),
                        "ab_std_true": 12.0, "gamut_clipped": 0.0, "gamut_delta_e": 0.0, "chroma_true": 15.0})
        per_image += [{"method": method, "variant": "default", "seed": 0, "image": i, "psnr": vals["psnr"][i],
                       "colorfulness": vals["colorfulness"][i], "colorfulness_true": truth[i]} for i in range(n)]
    return pd.DataFrame(metrics), pd.DataFrame(per_image)


def test_most_colourful_row_far_from_the_truth_is_not_bold():
    rng = np.random.default_rng(1)
    truth = list(35 + rng.normal(0, 3, 40))
    rows = {"vivid": {"psnr": list(20 + rng.normal(0, 1, 40)), "colorfulness": [t * 2.2 for t in truth]},
            "faithful": {"psnr": list(20 + rng.normal(0, 1, 40)), "colorfulness": [t + 1 for t in truth]}}
    s = tables.summarise(*_frames(rows, truth))
    mk = tables.marks(s, ["colorfulness"])
    assert mk["colorfulness"].best == "faithful"
    text, _ = tables.markdown(s, ["colorfulness"])
    assert "**" not in [line for line in text.splitlines() if line.startswith("| vivid")][0]


def test_rows_whose_paired_interval_spans_zero_tie():
    rng = np.random.default_rng(2)
    base = 20 + rng.normal(0, 2, 50)
    noise = rng.normal(0, 1, 50)
    rows = {"a": {"psnr": list(base + noise * 0.5), "colorfulness": [30.0] * 50},
            "b": {"psnr": list(base - noise * 0.5 + 0.001), "colorfulness": [30.0] * 50},
            "c": {"psnr": list(base - 3), "colorfulness": [30.0] * 50}}
    s = tables.summarise(*_frames(rows, [30.0] * 50))
    lo, hi = stats.paired_interval(rows["a"]["psnr"], rows["b"]["psnr"])
    assert lo < 0 < hi
    mk = tables.marks(s, ["psnr"])
    assert mk["psnr"].best is None and set(mk["psnr"].tied) == {"a", "b"}  # c is really worse: not tied
    text, notes = tables.markdown(s, ["psnr"])
    assert "**" not in text and any("Tied for best" in n and "psnr: " in n for n in notes)


def test_a_degenerate_row_is_flagged_and_never_bold():
    rows = {"flat": {"psnr": [30.0] * 20, "colorfulness": [1.0] * 20, "ab_std": 0.5},
            "ok": {"psnr": [20.0 + 0.1 * i for i in range(20)], "colorfulness": [30.0] * 20}}
    s = tables.summarise(*_frames(rows, [30.0] * 20))
    assert s.flags["flat"] == ["1/1 seeds degenerate: flat (seed 0) (a majority: not compared)"]
    assert "ok" not in s.flags
    assert tables.marks(s, ["psnr"])["psnr"].best == "ok"  # flat has the higher PSNR but is not eligible


def test_pooled_figures_without_per_item_histograms_are_shown_but_not_compared():
    rows = {"a": {"psnr": [20.0 + 0.1 * i for i in range(20)], "colorfulness": [30.0] * 20},
            "b": {"psnr": [25.0 + 0.1 * i for i in range(20)], "colorfulness": [30.0] * 20}}
    metrics, per_image = _frames(rows, [30.0] * 20)
    metrics["js_a"] = [0.1, 0.5]
    s = tables.summarise(metrics, per_image)
    assert tables.marks(s, ["js_a"])["js_a"].untested and tables.marks(s, ["psnr"])["psnr"].best == "b"
    text, notes = tables.markdown(s, ["psnr", "js_a"])
    assert any(n.startswith("Not compared: js_a") for n in notes) and "0.1000 |" in text
    from colorbench.report.reading import read_table

    assert "Best JS(a) by its mean: a (0.1); not tested" in read_table(s)  # never "really better"


# ----------------------------------------------------------------------------------- standing alone
FORBIDDEN = re.compile(r"DESIGN\.md|CORRECTIONS\.md|anchors\.md|\b\d{3}_[0-9a-f]{16}\.txt")


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    return [REPO / p for p in out.stdout.splitlines() if (REPO / p).is_file()]


def test_no_committed_file_points_outside_the_repository():
    bad = []
    for path in _tracked():
        if path.suffix in (".png", ".jpg", ".npz", ".pt") or path.name == Path(__file__).name:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if FORBIDDEN.search(text):
            bad.append(f"{path.relative_to(REPO)}: {FORBIDDEN.search(text).group(0)}")
        for m in re.finditer(r"(?<![\w.])/(?:work|root|home|tmp|Users)/[\w.-]+", text):
            bad.append(f"{path.relative_to(REPO)}: {m.group(0)}")
    assert not bad, "\n".join(bad[:20])


def test_readme_table_is_the_committed_metrics():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start, end = README_START.format(profile="quick"), README_END.format(profile="quick")
    assert start in readme and end in readme, "README lost its results markers"
    block = readme[readme.index(start): readme.index(end) + len(end)]
    from colorbench.report import item_histograms

    dataset = load_profile("quick").datasets[0]
    folder = REPO / "results" / "quick" / dataset
    metrics = pd.read_csv(folder / "metrics.csv")
    per_image = pd.read_csv(folder / "per_image.csv")
    for f in (metrics, per_image):
        f["variant"] = f["variant"].astype(object).fillna("default").astype(str)
    hist = item_histograms.read(folder / item_histograms.FILE)
    table, _ = tables.markdown(tables.summarise(metrics, per_image, histograms=hist), README_METRICS)
    assert block == readme_block("quick", dataset, table)


# ------------------------------------------------------------------------------------ --verify
def test_verify_reproduces_committed_rows_and_names_a_difference(smoke_run, tmp_path):
    """``bench --verify`` recomputes committed cells in a scratch cache: the smoke run's rows come back bit for bit;
    a committed figure edited by one ulp is named, with the figure and both values."""
    import shutil

    from colorbench.bench.verify import format_verdicts, verify

    tmp, _ = smoke_run
    results = tmp_path / "results"
    shutil.copytree(tmp / "results", results)
    verdicts = verify("smoke", results=results, progress=False)
    assert [v.label for v in verdicts] == ["gray on synthetic seed 0", "mean_color on synthetic seed 0",
                                           "unet_l1 on synthetic seed 0"]
    assert all(v.verdict == "identical" for v in verdicts), format_verdicts(verdicts)
    path = results / "smoke" / "synthetic" / "metrics.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    at = frame.index[frame["method"] == "unet_l1"][0]
    frame.loc[at, "psnr"] = repr(float(np.nextafter(float(frame.loc[at, "psnr"]), np.inf)))
    frame.to_csv(path, index=False)
    (tampered,) = [v for v in verify("smoke", results=results, progress=False) if v.label.startswith("unet_l1")]
    assert tampered.verdict == "DIFFERS" and "psnr" in tampered.detail, tampered
