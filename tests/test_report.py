"""Unit tests of colorbench.report on hand-made results folders (no training): tables with a missing metric, a
single seed and several, a published row without a measured twin, the C2F Table 1 layout and ratios, missing
results. Expected values come from numpy / the csv module, computed here independently."""
from __future__ import annotations

import csv
import json
import math
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from colorbench.cli import main
from colorbench.errors import UserError
from colorbench.report import load, published, reading, resolution, runtime, tables
from colorbench.report.figures import Note, loss_curves


def _rows(**cols) -> pd.DataFrame:
    base = {"method": ["gray"], "variant": ["default"], "dataset": ["sample"], "seed": [0], "status": ["ok"]}
    base.update(cols)
    return pd.DataFrame(base)


def _write(tmp: Path, df: pd.DataFrame, profile: str = "quick", dataset: str = "sample") -> Path:
    d = tmp / profile / dataset
    d.mkdir(parents=True)
    df.to_csv(d / "metrics.csv", index=False)
    return tmp


def test_a_metric_no_row_has_is_left_out_with_one_note():
    df = pd.DataFrame({"method": ["gray", "pix2pix"], "variant": ["default", "default"], "seed": [0, 0],
                       "status": ["ok", "ok"], "psnr": [22.5, 23.25]})  # no ssim column at all
    df["ssim"] = math.nan  # a column with no value anywhere: left out, and the note names it
    s = tables.summarise(df, names=("psnr", "ssim"))
    assert math.isnan(s.frame.loc["gray", "ssim_mean"])
    shown = tables.measured_table(s, ("psnr", "ssim"))
    assert "psnr ↑ (dB)" in shown.columns and not any(c.startswith("ssim") for c in shown.columns)
    note = tables.not_computed_note(s, ("psnr", "ssim"))
    assert "ssim" in note and "psnr" not in note
    assert tables.not_computed_note(s, ("psnr",)) == ""
    assert shown.loc["pix2pix", "psnr ↑ (dB)"] == "23.25"  # no per-image rows: not compared, no mark
    assert tables.marks(s, ("psnr",))["psnr"].untested
    assert shown.loc["gray", "psnr ↑ (dB)"] == "22.50"


def test_single_seed_has_no_spread_and_several_seeds_give_sample_std():
    vals = [8.0, 9.5, 7.25]
    df = pd.DataFrame({"method": ["unet_l1"] * 3 + ["gray"], "variant": ["default"] * 4, "seed": [0, 1, 2, 0],
                       "status": ["ok"] * 4, "delta_e76": vals + [6.0]})
    s = tables.summarise(df, names=("delta_e76",))
    f = s.frame
    assert f.loc["unet_l1", "seeds"] == 3 and f.loc["gray", "seeds"] == 1
    assert f.loc["unet_l1", "delta_e76_mean"] == pytest.approx(np.mean(vals))
    assert f.loc["unet_l1", "delta_e76_std"] == pytest.approx(np.std(vals, ddof=1))
    assert math.isnan(f.loc["gray", "delta_e76_std"])
    shown = tables.measured_table(s, ("delta_e76",))
    col = "delta_e76 ↓ (ΔE76)"
    assert shown.loc["gray", col] == "6.000"  # lowest mean, but no per-image rows: not compared, not a win
    assert shown.loc["unet_l1", col] == f"{np.mean(vals):.3f} ±{np.std(vals, ddof=1):.3f}"
    assert list(f.index) == ["gray", "unet_l1"]  # baselines first


def test_failed_rows_are_left_out_and_pretrained_false_is_flagged():
    df = pd.DataFrame({"method": ["c2f", "c2f"], "variant": ["default", "default"], "seed": [0, 1],
                       "status": ["ok", "failed: boom"], "psnr": [20.0, 99.0],
                       "pretrained": [json.dumps({"resnet18": False}), ""]})
    s = tables.summarise(df, names=("psnr",))
    assert s.frame.loc["c2f", "seeds"] == 1 and s.frame.loc["c2f", "psnr_mean"] == 20.0
    assert s.frame.loc["c2f", "pretrained_false"] == ["resnet18"]
    assert "pretrained=false" in reading.read_table(s)


def _published(source: str, table: str, method: str, variant: str, metric: str, resolution: str = "") -> float:
    text = resources.files("colorbench").joinpath("reference/published.csv").read_text(encoding="utf-8")
    for r in csv.DictReader(text.splitlines()):
        key = (r["source"], r["table"], r["method"], r["variant"], r["metric"])
        if key == (source, table, method, variant, metric) and resolution in ("", r["resolution"]):
            return float(r["value"])
    raise KeyError((source, table, method, variant, metric))


def test_a_table_lists_no_published_rows_for_methods_or_protocols_it_does_not_show():
    """The one rule (published.shown_beside): a table of gray on sample lists none of the 40+ published rows of
    methods it does not show or of protocols that are not its own (they stay in the reproduction tables)."""
    s = tables.summarise(_rows(psnr=[22.0], ssim=[0.9]), names=("psnr", "ssim"))
    assert s.dataset == "sample"
    t = tables.comparison_table(s, ("psnr", "ssim"))
    assert list(t.index) == ["gray"] and (t["kind"] == "measured").all()
    df = pd.DataFrame({"method": ["gray", "pix2pix"], "variant": ["default"] * 2, "seed": [0, 0],
                       "dataset": ["imagenet_val_subset"] * 2, "status": ["ok"] * 2, "psnr": [22.0, 23.0],
                       "js_a": [0.1, 0.2]})
    t = tables.comparison_table(tables.summarise(df, names=("psnr", "js_a")), ("psnr", "js_a"))
    # Tarrés' pix2pix figures are on a split of ImageNet nobody can redraw: not this table's protocol
    assert (t["kind"] == "measured").all() and len(t) == 2


def _ddcolor(dataset: str, **cols) -> pd.DataFrame:
    # the paper's figures are claimed by its released model, evaluated without training (``ddcolor:paper``)
    base = {"method": ["gray", "ddcolor"], "variant": ["default", "zoo:paper"], "dataset": [dataset] * 2,
            "seed": [0, 0], "status": ["ok"] * 2}
    return pd.DataFrame({**base, **cols})


def test_published_row_follows_its_method_on_its_protocol_and_metric_variant_only():
    names = ("psnr", "fid_tv", "colorfulness_abs")
    df = _ddcolor("imagenet_val5k", psnr=[22.0, 23.0], fid_tv=[9.0, 5.0], colorfulness_abs=[20.0, 35.0],
                  colorfulness_abs_true=[38.0, 38.0])
    t = tables.comparison_table(tables.summarise(df, names=(*names, "colorfulness_abs_true")), names)
    labels = list(t.index)
    assert labels == ["gray", "ddcolor [zoo:paper]", "  ddcolor [zoo:paper] (published)"]
    pub = t.loc["  ddcolor [zoo:paper] (published)"]
    assert pub["kind"] == "published" and "ddcolor Table 1" in pub["flags"] and "not measured" not in pub["flags"]
    assert float(pub[tables.header("fid_tv")]) == _published("ddcolor", "Table 1", "ddcolor", "", "fid_tv") == 3.92
    assert float(pub[tables.header("colorfulness_abs")]) == 38.26 and pub[tables.header("psnr")] == ""
    # another metric variant (fid, colorfulness: other networks, other formulas) shows nothing
    other = ("psnr", "fid", "colorfulness")
    df = _ddcolor("imagenet_val5k", psnr=[22.0, 23.0], fid=[9.0, 5.0], colorfulness=[20.0, 35.0],
                  colorfulness_true=[38.0, 38.0])
    summary = tables.summarise(df, names=(*other, "colorfulness_true"))
    assert (tables.comparison_table(summary, other)["kind"] == "measured").all()
    # another protocol (COCO-Stuff), or the table on val5k without ddcolor, shows nothing
    df = _ddcolor("coco_stuff_val", psnr=[22.0, 23.0], fid_tv=[9.0, 5.0], colorfulness_abs=[20.0, 35.0],
                  colorfulness_abs_true=[38.0, 38.0])
    summary = tables.summarise(df, names=(*names, "colorfulness_abs_true"))
    assert (tables.comparison_table(summary, names)["kind"] == "measured").all()
    assert published.shown_beside("imagenet_val5k", [("gray", "default")], names) == []
    assert published.shown_beside(None, [("ddcolor", "zoo:paper")], names) == []
    assert {r.metric for r in published.shown_beside("imagenet_val5k", [("ddcolor", "zoo:paper")], names)} == \
        {"fid_tv", "colorfulness_abs"}


def test_runtime_table_orders_sizes_by_pixels():
    df = _rows(kind=["runtime"], **{"ms_per_image_1500x1000": [30.0], "ms_per_image_256x256": [2.0],
                                    "ms_per_image_750x500": [9.0]})
    rt = runtime.runtime_table(df)
    assert list(rt.columns) == ["256x256", "750x500", "1500x1000"]
    assert rt.loc["gray"].tolist() == [2.0, 9.0, 30.0]
    assert "×15.0" in reading.read_runtime(rt)


def test_missing_results_say_run_make_bench(tmp_path, capsys):
    with pytest.raises(UserError, match="make bench"):
        load.load_results(tmp_path / "nothing", "quick")
    _write(tmp_path, _rows(psnr=[1.0]), profile="smoke")
    with pytest.raises(UserError, match="smoke"):  # names the profiles that do exist
        load.load_results(tmp_path, "quick")
    assert main(["report", "--results", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert "make bench" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_load_results_reads_the_layout(tmp_path):
    _write(tmp_path, _rows(psnr=[1.0], variant=[None]))
    (tmp_path / "quick" / "sample" / "histograms.png").write_bytes(b"")
    (tmp_path / "quick" / "runtime.md").write_text("x")
    res = load.load_results(tmp_path, "quick")
    assert list(res.datasets) == ["sample"] and res.dataset.per_image.empty
    assert res.dataset.metrics.loc[0, "variant"] == "default"  # an empty variant cell is the default
    assert "histograms" in res.dataset.figures and res.runtime_md is not None and res.runtime_png is None


def test_loss_curves_without_runs_cache_is_a_note():
    note = loss_curves(_rows(checkpoint=["/no/such/cell/train/checkpoints/step_1"]), "gray")
    assert isinstance(note, Note) and "runs/" in note.text


def test_c2f_side_by_side_ratios_and_published_layout():
    measured = pd.DataFrame([
        {"setting": "base", "resolution": "750x500", "ssim": 0.9, "psnr": 24.0, "seconds": 0.5},
        {"setting": "s1.2_d1", "resolution": "750x500", "ssim": 0.8, "psnr": 23.0, "seconds": 1.25},
    ])
    t = resolution.side_by_side(measured, "c2f")
    assert list(t.index) == ["base", "s1.2_d1", "s1.2_d10", "s2.0_d1", "s2.0_d10"]
    assert t.loc["s1.2_d1", "750x500 × ref"] == pytest.approx(2.5)
    paper = {v: _published("c2f", "Table 1c", m, pv, "seconds", "750x500") for v, m, pv in
             (("base", "base", ""), ("s1.2_d1", "c2f", "shrink 1.2 / depth 1"))}
    assert t.loc["s1.2_d1", "750x500 × ref (paper)"] == pytest.approx(paper["s1.2_d1"] / paper["base"])
    assert t.loc["s2.0_d10", "750x500 ssim (paper)"] == _published("c2f", "Table 1a", "c2f", "shrink 2.0 / depth 10",
                                                                  "ssim", "750x500")
    assert math.isnan(t.loc["s1.2_d10", "750x500 ssim"])  # not measured: empty, not invented
    wide = resolution.published_wide("c2f")
    assert [r for m, r in wide.columns if m == "psnr"] == list(resolution.PAPER_SIZES)
    assert wide.loc["base", ("psnr", "6000x4000")] == _published("c2f", "Table 1b", "base", "", "psnr", "6000x4000")


def test_c2f_without_checkpoints_says_so(tmp_path):
    _write(tmp_path, _rows(psnr=[1.0], checkpoint=["/gone/step_1"]))
    found = resolution.find_checkpoints(tmp_path, "quick", "c2f")
    assert found == {"model": None, "reference": None}
    note = resolution.availability(found, "c2f")
    assert isinstance(note, Note) and "no trained model or reference checkpoint of c2f" in note.text
    assert resolution.rebuild(found, "c2f", ["48x32"]).empty


def test_read_losses_from_the_cell_folder(tmp_path):
    cell = tmp_path / "cell"
    (cell / "train" / "checkpoints" / "step_20").mkdir(parents=True)
    steps = np.arange(1, 21)
    l1 = 1.0 / steps
    with open(cell / "loss.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "loss_g", "l1"])
        w.writerows([s, 5.0, v] for s, v in zip(steps, l1))
    df = _rows(method=["pix2pix"], checkpoint=[str(cell / "train" / "checkpoints" / "step_20")])
    text = reading.read_losses(df, {"pix2pix": "l1"})
    assert f"{l1[:2].mean():.4g} → {l1[-2:].mean():.4g} (fell, 20 steps)" in text
    assert isinstance(reading.read_losses(_rows(checkpoint=[""]), {}), Note)


def test_read_samples_names_washed_out_methods():
    df = pd.DataFrame({"method": ["gray", "unet_l1", "pix2pix"], "variant": ["default"] * 3, "seed": [0] * 3,
                       "status": ["ok"] * 3, "colorfulness": [0.0, 10.0, 30.0], "colorfulness_true": [40.0] * 3})
    text = reading.read_samples(df)
    assert "(truth 40.0)" in text and "Below half the truth's: unet_l1:" in text


def test_in_place_copy_keeps_relative_results_and_records_parameters(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from colorbench.report.notebooks import _strip_into

    nb = new_notebook()
    nb.cells = [new_code_cell('method = "unet_l1"\nresults_dir = "../results"', metadata={"tags": ["parameters"]}),
                new_code_cell('method = "c2f"\nresults_dir = "/abs/results"',
                              metadata={"tags": ["injected-parameters"]}),
                new_code_cell("1 + 1")]
    nb.metadata["papermill"] = {"x": 1}
    src = tmp_path / "run.ipynb"
    nbformat.write(nb, str(src))
    _strip_into(src, tmp_path / "out.ipynb", {"method": "c2f", "results_dir": "/abs/results"})
    out = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    assert [c.source for c in out.cells] == ['method = "c2f"\nresults_dir = "../results"', "1 + 1"]
    assert "papermill" not in out.metadata


def test_relative_checkpoints_resolve_against_the_results_parent(tmp_path, monkeypatch):
    ckpt = tmp_path / "runs" / "bench" / "abc" / "train" / "checkpoints" / "step_3"
    ckpt.mkdir(parents=True)
    _write(tmp_path / "results", _rows(checkpoint=["runs/bench/abc/train/checkpoints/step_3"]))
    monkeypatch.chdir(tmp_path / "results")  # as a kernel in notebooks/ would be: not where the bench ran
    res = load.load_results(tmp_path / "results", "quick")
    row = res.dataset.metrics.iloc[0]
    assert load.checkpoint_of(row) == ckpt and load.cell_folder(row) == ckpt.parents[2]


def test_photo_grids_become_small_jpegs():
    from PIL import Image as PILImage

    from colorbench.report.figures import PHOTO_MAX_WIDTH, photo

    rng = np.random.default_rng(0)
    im = PILImage.fromarray(rng.integers(0, 255, (300, 2000, 3), dtype=np.uint8))
    out = photo(im)
    assert out.format == "jpeg" and out.data[:2] == b"\xff\xd8"
    import io

    assert PILImage.open(io.BytesIO(out.data)).size == (PHOTO_MAX_WIDTH, 150)
