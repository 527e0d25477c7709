"""Tables, runtime table and published rows of `colorbench bench`, on fake rows (no training)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from colorbench.bench import published, tables
from colorbench.bench.runtime_table import c2f_table, collect, runtime_markdown

DECLS = {
    "psnr": {"direction": "higher", "unit": "dB", "description": ""},
    "mae_ab": {"direction": "lower", "unit": "ab/110", "description": ""},
    "js_a": {"direction": "lower", "unit": "", "description": ""},
    "lpips": {"direction": "lower", "unit": "", "description": ""},
}


def row(method, seed, psnr, mae, js, variant="default", key=None, lpips=None):
    return {"kind": "train", "method": method, "variant": variant, "dataset": "sample", "seed": seed,
            "status": "ok", "key": key or f"{method}-{variant}-{seed}",
            "metrics": {"psnr": psnr, "mae_ab": mae, "js_a": js, "lpips": lpips},
            "na_reasons": {"lpips": "LPIPS weights not on disk"}, "provenance": {"device": "cpu"}, "runtime": []}


def test_mean_std_over_seeds_matches_numpy():
    vals = [20.0, 21.5, 23.25]
    rows = [row("pix2pix", s, v, 0.1, 0.01) for s, v in enumerate(vals)]
    (entry,) = tables.summarise(rows, [], ["psnr"])
    assert entry["n_seeds"] == 3
    assert entry["psnr"]["mean"] == pytest.approx(np.mean(vals))
    mean, std = entry["psnr"]["text"].split(" ± ")
    assert float(mean) == pytest.approx(np.mean(vals), abs=5e-3)
    assert float(std) == pytest.approx(np.std(vals, ddof=1), abs=5e-3)


def test_bootstrap_interval_matches_normal_approximation():
    rng = np.random.default_rng(1)
    x = rng.normal(25.0, 2.0, size=400)
    lo, hi = tables.bootstrap_ci(x)
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert lo < x.mean() < hi
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.12)
    assert tables.bootstrap_ci(x) == (lo, hi)  # seeded: repeatable


def test_one_seed_shows_bootstrap_interval_from_per_image_rows():
    r = row("unet_l1", 0, 24.0, 0.1, 0.02, key="k1")
    per_image = [{"key": "k1", "psnr": v} for v in (22.0, 24.0, 26.0, 23.0, 25.0)]
    (entry,) = tables.summarise([r], per_image, ["psnr", "js_a"])
    text = entry["psnr"]["text"]
    assert text.startswith("24.00 [") and text.endswith("]")
    lo, hi = (float(v) for v in text[text.index("[") + 1:-1].split(", "))
    assert 22.0 <= lo < 24.0 < hi <= 26.0
    assert entry["js_a"]["text"] == "0.0200"  # dataset-level figure: no interval


def test_markdown_bolds_best_per_direction_and_explains_na():
    rows = [row("gray", 0, 20.0, 0.20, 0.30), row("mean_color", 0, 21.0, 0.15, 0.20),
            row("pix2pix", 0, 22.0, 0.18, 0.10)]
    text, notes = tables.markdown_table(rows, [], DECLS, legacy=False)
    lines = text.splitlines()
    assert "psnr ↑ (dB)" in lines[0] and "mae_ab ↓ (ab/110)" in lines[0] and "js_a canonical ↓" in lines[0]
    by_method = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[3:-1]] for ln in lines[2:]}
    assert by_method["pix2pix"][0] == "**22.00**" and by_method["gray"][0] == "20.00"
    assert by_method["mean_color"][1] == "**0.1500**"
    assert by_method["pix2pix"][2] == "**0.1000**"
    assert by_method["gray"][3].startswith("n/a[^")
    assert any("LPIPS weights not on disk" in n for n in notes)
    legacy_text, _ = tables.markdown_table(rows, [], DECLS, legacy=True)
    assert "js_a legacy ↓" in legacy_text


def test_failed_cell_is_na_with_its_error():
    rows = [row("gray", 0, 20.0, 0.2, 0.3),
            {"kind": "train", "method": "c2f", "variant": "default", "seed": 0, "status": "failed",
             "error": "RuntimeError: boom", "metrics": {}, "runtime": []}]
    text, notes = tables.markdown_table(rows, [], DECLS)
    assert "| c2f | 0 | n/a" in text
    assert any("c2f failed: RuntimeError: boom" in n for n in notes)


def test_baseline_comparison():
    rows = [row("gray", 0, 20.0, 0.20, 0.30), row("mean_color", 0, 21.0, 0.15, 0.20),
            row("pix2pix", 0, 20.5, 0.18, 0.10)]
    cmp = tables.baseline_comparison(rows, DECLS)
    assert set(cmp) == {"pix2pix"}
    assert cmp["pix2pix"]["psnr"] == {"gray": True, "mean_color": False}
    assert cmp["pix2pix"]["mae_ab"] == {"gray": True, "mean_color": False}
    assert cmp["pix2pix"]["js_a"] == {"gray": True, "mean_color": True}
    assert "lpips" not in cmp["pix2pix"]


def test_declarations_normalise_shapes():
    from collections import namedtuple

    M = namedtuple("M", "direction unit description")
    d = tables.declarations({"a": M("higher", "dB", "x"), "b": ("lower", "", "y"),
                             "c": {"higher_is_better": False, "unit": "u"}})
    assert d["a"]["direction"] == "higher" and d["a"]["unit"] == "dB"
    assert d["b"]["direction"] == "lower" and d["c"]["direction"] == "lower"


def test_published_rows_flag_impossible_ssim_and_map_names():
    rows = published.load_published()
    impossible = [r for r in rows if r.impossible]
    assert len(impossible) == 5 and all(r.source == "tarres" and r.value > 1 for r in impossible)
    kth = [r for r in rows if r.metric == "mae_test"]
    assert kth and all(r.our_metric == "mae_ab" for r in kth)
    c2f = {r.ours for r in rows if r.source == "c2f"}
    assert c2f == {("c2f", "base"), ("c2f", "s1.2_d1"), ("c2f", "s1.2_d10"), ("c2f", "s2.0_d1"), ("c2f", "s2.0_d10")}
    text = published.published_table(["psnr", "ssim", "mae_ab", "js_a", "kl_a"])
    assert "1.13 ⚠ impossible" in text and "372.75 (legacy)" in text and "(published)" in text
    assert "| kth | pix2pix | DCGAN with L1 lambda 100 | `pix2pix` |" in published.mapping_table()
    assert "| mae_test | `mae_ab` |" in published.mapping_table()


def test_shipped_copy_equals_shared_reference():
    from importlib import resources
    from pathlib import Path

    shared = Path("/work/shared/reference/published.csv")
    if not shared.is_file():
        pytest.skip("the shared reference folder exists only in the build workspace")
    assert resources.files("colorbench").joinpath("reference/published.csv").read_text() == shared.read_text()


def _rt(method, variant, size, ms):
    return {"method": method, "variant": variant, "runtime": [
        {"size": size, "status": "ok", "ms_per_image": ms, "images_per_s": 1000 / ms, "peak_memory_mb": 10.0,
         "params": 100}]}


def test_c2f_runtime_table_ratios_beside_the_papers():
    rows = [_rt("c2f", "base", "6000x4000", 100.0), _rt("c2f", "s1.2_d10", "6000x4000", 300.0),
            _rt("c2f", "s2.0_d1", "6000x4000", 150.0)]
    text = c2f_table(collect(rows))
    line = next(ln for ln in text.splitlines() if ln.startswith("| 6000x4000"))
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[1] == "100.0"
    assert cells[2] == "n/a · (1.77)"                       # 203.3 / 115.1, not timed here
    assert cells[3] == "300.0 · 3.00 (2.95)"               # 339.7 / 115.1
    assert cells[4] == "150.0 · 1.50 (1.39)"               # 160.5 / 115.1
    md = runtime_markdown(rows + [_rt("pix2pix", "default", "256x256", 50.0)], device="cpu")
    assert "| pix2pix | 50.0 ms · 20 img/s · 10 MB |" in md and "Table 1c" in md
