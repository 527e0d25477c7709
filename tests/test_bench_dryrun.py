"""`colorbench bench --dry-run`: every paper cell builds, trains two steps and colourises a batch on CPU.

The paper cells run here at batch <= 2 and crops <= 16 px (the table marks both), with stand-in data and no
pretrained files (the local-first loader leaves the backbones random): the point is that each cell runs and its
networks are the paper's, not the figures of a CPU projection."""
from __future__ import annotations

import math

import pytest
import torch

from colorbench.bench import dryrun
from colorbench.bench.profiles import load_profile
from colorbench.bench.grid import expand

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def paper_rows(tmp_path_factory):
    from colorbench import pretrained

    empty = tmp_path_factory.mktemp("caches")
    with pytest.MonkeyPatch.context() as mp:  # empty weight caches: every backbone stays random, nothing downloads
        mp.setenv("TORCH_HOME", str(empty / "torch"))
        mp.setenv("HF_HOME", str(empty / "hf"))
        mp.delenv("HF_HUB_CACHE", raising=False)
        rows, device = dryrun.dry_run_profile("paper", device="cpu", max_batch=2, max_size=16)
    pretrained.reset_warnings()
    return rows, device


@pytest.mark.slow
def test_every_paper_cell_runs(paper_rows) -> None:
    rows, device = paper_rows
    cells = expand(load_profile("paper"))
    assert [r.label for r in rows] == [c.label for c in cells]
    assert [r.error for r in rows if r.status != "ok"] == []
    table = dryrun.format_table(rows, device)
    assert f"cells: {len(cells)}, {len(cells)} ran, 0 failed" in table
    assert "batch 128→2 (--max-batch)" in table and "crop 256→16 (--max-size)" in table  # says what it reduced


@pytest.mark.slow
def test_paper_cells_report_the_papers_networks(paper_rows) -> None:
    rows, _ = paper_rows
    by = {r.label.split(" on ")[0]: r for r in rows if r.kind == "train"}
    assert (by["unet_l1"].trainable, by["unet_l1"].frozen) == (16_654_722, 0)  # KTH U-Net at 32²
    assert by["vacgan[dcgan]"].trainable == 16_654_722 + 2_766_657  # no classifier
    assert by["vacgan[dcgan_code]"].trainable == 16_654_722 + 2_764_737  # and no BN in D, as src/GAN
    assert by["vacgan"].trainable == 16_654_722 + 2_766_657 + 1_748_682
    assert by["pix2pix"].trainable == 54_409_858 + 2_765_633  # counted at 256², though it ran at 16²
    assert by["featrec"].frozen == 1_735_488  # VGG16 up to relu3_3
    koala = by["koalarization"]
    assert koala.paper_batch == 64 and koala.paper_size == 224 and koala.batch == 2 and koala.size == 16
    assert koala.pretrained == "inception_resnet_v2=random"
    for r in by.values():
        assert r.step_s is not None and r.step_s > 0 and r.eval_s is not None
        assert r.projected_step_s >= r.step_s  # scaled up to the cell's batch and crop, never down
    # steps of the full cell: KTH 200 epochs of 44,477 // 128; pix2pix 23 epochs of 50,000 // 16
    assert by["unet_l1"].total_steps == 200 * (44_477 // 128)
    assert by["pix2pix"].total_steps == 23 * 3_125  # the budget of the other rows of Tarrés' tables
    assert by["unet_l1"].wall_s == pytest.approx(by["unet_l1"].total_steps * by["unet_l1"].projected_step_s, rel=0.05)


def test_projection_is_linear_in_batch_and_area() -> None:
    cell = expand(load_profile("paper"), methods=["unet_l1"])[0]
    row = dryrun.DryRow(label="x", kind="train", trainable=1_000_000, batch=2, paper_batch=8, size=16, paper_size=32,
                        step_s=0.5, eval_s=0.1, eval_batch=4, peak_mb=100.0)
    dryrun._project(row, cell, None, eval_paper=32, free=1e9)
    fixed = 16e6 / 2**20
    assert row.projected_peak_mb == pytest.approx(fixed + (100 - fixed) / 2 * 4 * 8)
    assert row.projected_step_s == pytest.approx(0.5 * 4 * 4) and row.fits
    dryrun._project(row, cell, None, eval_paper=32, free=1000.0)
    assert not row.fits and row.largest_batch == math.floor((900 - fixed) / ((100 - fixed) / 2 * 4))


def test_out_of_memory_halves_the_batch(monkeypatch) -> None:
    cell = expand(load_profile("paper"), methods=["unet_l1"])[0]
    real = dryrun._measure

    def measure(cell, batch, size, device, *args):
        if batch > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(cell, batch, size, device, *args)

    monkeypatch.setattr(dryrun, "_measure", measure)
    monkeypatch.setattr(dryrun, "_free_memory_mb", lambda device: None)  # no CPU probe: only the OOM path
    row = dryrun.dry_run_cell(cell, torch.device("cpu"), max_batch=8, max_size=16)
    assert row.status == "ok" and row.batch == 2
    assert [m for m in row.marks if "out of memory" in m] == ["batch 8→4 (out of memory)", "batch 4→2 (out of memory)"]


@pytest.mark.slow
def test_cli_flag(capsys, tmp_path) -> None:
    from colorbench.cli import main

    code = main(["bench", "--profile", "paper", "--dry-run", "--device", "cpu", "--methods", "vacgan",
                 "--max-batch", "2", "--no-progress", "--results", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert (tmp_path / "paper" / "dryrun.csv").is_file() and (tmp_path / "paper" / "reproduction" / "kth.md").is_file()
    assert "| vacgan[dcgan] on cifar10_kth seed 0 | 19,421,379 | 0 | 2/128 | 32/32 | stand-in |" in out


@pytest.mark.slow
def test_dry_run_writes_its_table_and_the_reproduction_tables(paper_rows, tmp_path) -> None:
    rows, device = paper_rows
    written = dryrun.write_dry_run(tmp_path, "paper", rows, device, dryrun.format_table(rows, device))
    names = sorted(p.relative_to(tmp_path / "paper").as_posix() for p in written)
    assert names == ["dryrun.csv", "dryrun.md", "reproduction/c2f.md", "reproduction/koalarization.md",
                     "reproduction/kth.md", "reproduction/tarres.md"]
    kth = (tmp_path / "paper" / "reproduction" / "kth.md").read_text()
    line = next(ln for ln in kth.splitlines() if ln.startswith("| unet_l1 |"))
    assert "not run: `colorbench bench --profile paper --methods unet_l1 --datasets cifar10_kth` (dry run: ≈" in line
