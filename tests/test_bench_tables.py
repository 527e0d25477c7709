"""The results layer's tables, runtime table and published rows, on fake rows (no training)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from colorbench.report import published, runtime, stats, tables


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"kind": "train", "variant": "default", "dataset": "sample", "status": "ok", **r}
                         for r in rows])


def images(method: str, values, metric: str = "psnr", seed: int = 0) -> list[dict]:
    return [{"method": method, "variant": "default", "seed": seed, "image": i, metric: v} for i, v in enumerate(values)]


def test_mean_std_over_seeds_matches_numpy():
    vals = [20.0, 21.5, 23.25]
    s = tables.summarise(frame([{"method": "pix2pix", "seed": i, "psnr": v} for i, v in enumerate(vals)]))
    r = s.frame.loc["pix2pix"]
    assert r["seeds"] == 3 and r["psnr_mean"] == pytest.approx(np.mean(vals))
    assert r["psnr_std"] == pytest.approx(np.std(vals, ddof=1))
    assert tables.cell_text(s, "pix2pix", "psnr") == f"21.58 ±{np.std(vals, ddof=1):.2f}"


def test_bootstrap_interval_matches_normal_approximation():
    rng = np.random.default_rng(1)
    x = rng.normal(25.0, 2.0, size=400)
    lo, hi = stats.mean_interval(x)
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert lo < x.mean() < hi
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.05)
    assert stats.mean_interval(x) == (lo, hi)  # seeded: repeatable


def test_one_seed_shows_the_interval_over_images_and_pooled_figures_none():
    per_image = pd.DataFrame(images("unet_l1", (22.0, 24.0, 26.0, 23.0, 25.0)))
    s = tables.summarise(frame([{"method": "unet_l1", "seed": 0, "psnr": 24.0, "js_a": 0.02}]), per_image)
    text = tables.cell_text(s, "unet_l1", "psnr")
    assert text.startswith("24.00 [") and text.endswith("]")
    lo, hi = (float(v) for v in text[text.index("[") + 1:-1].split(", "))
    assert 22.0 <= lo < 24.0 < hi <= 26.0
    assert tables.cell_text(s, "unet_l1", "js_a") == "0.0200"  # dataset-level figure: no interval


def test_markdown_bolds_only_a_real_winner_and_explains_na():
    rng = np.random.default_rng(0)
    base = 20 + rng.normal(0, 1, 60)
    per_image = pd.DataFrame(images("gray", base) + images("mean_color", base + 0.5) + images("pix2pix", base + 2.0))
    rows = [{"method": m, "seed": 0, "psnr": float(np.mean(v)), "lpips_alex": 0.3 if m == "pix2pix" else math.nan,
             "lpips_alex_note": "LPIPS weights not on disk", "fid": math.nan, "fid_note": "n/a: not requested"}
            for m, v in (("gray", base), ("mean_color", base + 0.5), ("pix2pix", base + 2.0))]
    s = tables.summarise(frame(rows), per_image)
    text, notes = tables.markdown(s, ("psnr", "lpips_alex", "fid", "fid_tv"))
    lines = text.splitlines()
    assert "psnr ↑ (dB)" in lines[0] and "lpips_alex ↓" in lines[0]
    by = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[3:-1]] for ln in lines[2:]}
    assert by["pix2pix"][0].startswith("**") and not by["gray (baseline)"][0].startswith("**")
    assert by["gray (baseline)"][1].startswith("n/a[^")
    assert any("LPIPS weights not on disk" in n for n in notes)
    # a column no row has is left out, and one note says why: the rows' reason, or that nobody asked for it
    assert "fid" not in lines[0] and len(lines[0].split("|")) == 7
    assert [n for n in notes if n.startswith("Not computed")] == [
        "Not computed: fid: n/a: not requested; fid_tv: not asked for (they need pretrained weights: "
        "`--metrics field` or the names)."]
    assert tables.header("fid_tv") == "fid_tv ↓ [torchvision Inception-v3]"
    assert tables.header("fid") == "fid ↓ [FID Inception]"
    assert "js_a legacy ↓" in tables.header("js_a", legacy=True) and tables.header("js_a") == "js_a ↓ (nats)"


def test_failed_cell_is_listed_with_its_error():
    rows = [{"method": "gray", "seed": 0, "psnr": 20.0},
            {"method": "c2f", "seed": 0, "status": "failed", "error": "RuntimeError: boom"}]
    text, _ = tables.markdown(tables.summarise(frame(rows)), ("psnr",))
    assert "| c2f | 0 | failed | failed: RuntimeError: boom |" in text


def test_baseline_comparison_says_better_worse_or_tie():
    rng = np.random.default_rng(3)
    base = 20 + rng.normal(0, 1, 80)
    noise = rng.normal(0, 1, 80)
    per_image = pd.DataFrame(images("gray", base) + images("mean_color", base + 3)
                             + images("pix2pix", base + 1 + 0.01 * noise))
    rows = [{"method": m, "seed": 0, "psnr": float(np.mean(v))}
            for m, v in (("gray", base), ("mean_color", base + 3), ("pix2pix", base + 1))]
    s = tables.summarise(frame(rows), per_image)
    assert tables.against_baselines(s, ("psnr",)) == {"pix2pix": {"psnr": {"gray": "✓", "mean_color": "✗"}}}
    tie = pd.DataFrame(images("gray", base) + images("pix2pix", base + noise * 0.5))
    s = tables.summarise(frame([{"method": "gray", "seed": 0, "psnr": 20.0}, {"method": "pix2pix", "seed": 0,
                                                                            "psnr": 20.0}]), tie)
    assert tables.against_baselines(s, ("psnr",))["pix2pix"]["psnr"]["gray"] == "tie"


def test_random_frozen_rows_are_never_bold_or_ticked():
    per_image = pd.DataFrame(images("gray", [10.0, 11, 12, 13]) + images("featrec", [30.0, 31, 32, 33]))
    rows = [{"method": "gray", "seed": 0, "psnr": 11.5},
            {"method": "featrec", "seed": 0, "psnr": 31.5, "random_frozen": '["vgg16"]'}]
    s = tables.summarise(frame(rows), per_image)
    assert "random weights" in s.flags["featrec"][0]
    assert tables.marks(s, ("psnr",))["psnr"].best != "featrec"
    assert tables.against_baselines(s, ("psnr",))["featrec"]["psnr"]["gray"] == "—"


def test_published_rows_flag_impossible_ssim_and_map_names_from_the_methods():
    rows = published.load_published()
    impossible = [r for r in rows if r.impossible]
    assert len(impossible) == 5 and all(r.source == "tarres" and r.value > 1 for r in impossible)
    kth = [r for r in rows if r.metric == "mae_test"]
    assert kth and all(r.our_metric == "mae_ab" for r in kth)
    c2f = {r.ours for r in rows if r.source == "c2f"}
    assert c2f == {("c2f", "base"), ("c2f", "s1.2_d1"), ("c2f", "s1.2_d10"), ("c2f", "s2.0_d1"), ("c2f", "s2.0_d10")}
    text = published.published_table(["psnr", "ssim", "mae_ab", "js_a", "kl_a"], rows)
    assert "1.13 ⚠ impossible" in text and "372.75 (legacy)" in text and "(published)" in text
    assert "| mae_test | `mae_ab` |" in published.mapping_table()
    # the mapping is what the methods declare beside their code
    from colorbench.registry import get_method

    declared = {(s, m, v): (name, *get_method(name).published[(s, m, v)])
                for name in ("unet_l1", "pix2pix", "vacgan", "c2f") for (s, m, v) in get_method(name).published}
    for key, (name, variant, how) in declared.items():
        assert published.method_map()[key] == (name, variant, how)


def _rt(method: str, variant: str, size: str, ms: float, lo: float | None = None, hi: float | None = None) -> dict:
    return {"kind": "runtime", "method": method, "variant": variant, "status": "ok", "params": 100,
            f"ms_per_image_{size}": ms, f"ms_min_{size}": lo if lo is not None else ms,
            f"ms_max_{size}": hi if hi is not None else ms, f"images_per_s_{size}": 1000 / ms,
            f"peak_memory_mb_{size}": 10.0}


def test_runtime_ratio_table_beside_the_papers():
    rows = pd.DataFrame([_rt("c2f", "base", "6000x4000", 100.0), _rt("c2f", "s1.2_d10", "6000x4000", 300.0),
                         _rt("c2f", "s2.0_d1", "6000x4000", 150.0)])
    text = runtime.ratio_markdown(rows, "c2f")
    line = next(ln for ln in text.splitlines() if ln.startswith("| 6000x4000"))
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[1] == "100.0"
    assert cells[2] == "n/a · (1.77)"                       # 203.3 / 115.1, not timed here
    assert cells[3] == "300.0 · 3.00 (2.95)"               # 339.7 / 115.1
    assert cells[4] == "150.0 · 1.50 (1.39)"               # 160.5 / 115.1
    md = runtime.runtime_markdown(pd.concat([rows, pd.DataFrame([_rt("pix2pix", "default", "256x256", 50.0, 48.0,
                                                                     53.5)])]), device="cpu")
    assert "| pix2pix |" in md and "50.0 ms (48.0–53.5) · 20 img/s · 10 MB" in md
    assert "c2f: time against its base model" in md
