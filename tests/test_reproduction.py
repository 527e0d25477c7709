"""One reproduction table per source document: its layout, its unit (KTH's MAE on ab/127.5), its split, and
"not run" with the command and the dry run's projection where a cell has not run."""
from __future__ import annotations

import pandas as pd
import pytest

from colorbench.report import reproduction
from colorbench.report.published import format_value, load_published, load_sources


def _row(method, variant, dataset, **figures):
    return {"kind": "train", "method": method, "variant": variant, "dataset": dataset, "seed": 0, "status": "ok",
            "histograms": "legacy", **figures}


def test_every_published_source_has_its_description():
    sources = load_sources()
    assert {r.source for r in load_published()} <= set(sources)
    for src in sources.values():
        assert src.cite and src.dataset and src.split and src.layout in ("methods", "resolution")


def test_kth_mae_is_set_beside_ours_on_the_reports_scale():
    """Ours is ab/110, the report's ab/127.5: our 0.0785 is the report's 0.0677 (× 110/127.5)."""
    metrics = pd.DataFrame([_row("unet_l1", "code", "cifar10_kth", mae_ab=0.0785, psnr=25.0),
                            _row("unet_l1", "code", "cifar10_kth", mae_ab=0.0785, psnr=25.0)])
    text = reproduction.reproduction_tables("paper", metrics, datasets=["cifar10_kth"])["kth"]
    line = next(ln for ln in text.splitlines() if ln.startswith("| unet_l1 |"))
    assert "`unet_l1 [code]`" in line and "0.0677 · 0.0677" in line and "measured, 2 seeds" in line
    assert "0.603 · study" in line and "0.0239 · not measured" in line
    assert "ab/127.5" in text and "holds the same images" in text
    assert "`cifar10_kth`'s protocol: test split at 32 px, the first 4992 images" in text  # the code's 39 × 128
    gan = next(ln for ln in text.splitlines() if ln.startswith("| gan (DCGAN"))  # the report's "GAN", not pix2pix
    assert "`vacgan [dcgan_code]`" in gan and "not run: `colorbench bench --profile paper --methods vacgan " \
        "--datasets cifar10_kth`" in gan
    assert "`unet_l1 [code]`: KTH 'U-Net L1' as its code trained it" in text  # each row names its configuration


def test_published_kth_mae_is_shown_in_our_unit_in_the_bench_tables():
    row = next(r for r in load_published() if r.source == "kth" and r.method == "unet_l1" and r.metric == "mae_test")
    assert row.our_value == pytest.approx(0.0677 * 127.5 / 110)
    assert format_value(row) == "0.0785 (published 0.0677 on ab/127.5)"


def test_not_run_cells_quote_the_dry_run_projection():
    dry = pd.DataFrame([{"kind": "train", "method": "unet_l1", "variant": "tarres", "dataset": "imagenet_val_subset",
                         "status": "ok", "wall_s": 7200.0, "device": "cuda:0"}])
    text = reproduction.reproduction_tables("paper", dry=dry, datasets=["imagenet_val_subset"])["tarres"]
    line = next(ln for ln in text.splitlines() if "`unet_l1 [tarres]`" in ln)
    assert line.count("· not run") == 6 and "(dry run: ≈2.0 GPU-hours on cuda:0)" in line
    assert "never measured on the same photos" in text
    assert "Table 2 (Keras)" in text and "Table 3 (PyTorch)" in text  # one table per published table, not merged


def test_histogram_figures_only_in_the_published_form():
    rows = [_row("pix2pix", "default", "imagenet_val_subset", js_a=0.2, psnr=24.0)]
    rows[0]["histograms"] = "normalised"
    text = reproduction.reproduction_tables("paper", pd.DataFrame(rows), datasets=["imagenet_val_subset"])["tarres"]
    line = next(ln for ln in text.splitlines() if ln.startswith("| pix2pix |"))
    assert "0.13 · other form" in line and "26.7 · 24.00" in line


def test_resolution_layout_and_a_source_without_figures():
    runtime = pd.DataFrame([{"kind": "runtime", "method": "c2f", "variant": "base", "status": "ok",
                             "ms_per_image_750x500": 1234.0, "device": "cpu (2 threads)"}])
    tables = reproduction.reproduction_tables("paper", runtime=runtime, datasets=["coco_sample", "places_extra69"],
                                              variants={"koalarization": ["default"]})
    c2f = tables["c2f"]
    assert "| resolution | base | c2f shrink 1.2 / depth 1 |" in c2f
    assert "| 750x500 | 1.6 · 1.234 | 3 · not run |" in c2f  # Table 1c: seconds per image from the runtime cells
    koala = tables["koalarization"]
    assert "publishes no figures" in koala and "`koalarization`" in koala and "--datasets places_extra69" in koala
