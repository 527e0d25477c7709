"""The prepared GPU check end to end on the CPU at toy sizes (``--device cpu --quick``): every file, every section
with figures or a stated skip reason; and ``--budget-s`` skips what is left yet still writes the report."""
from __future__ import annotations

import csv

import pytest

from colorbench.gpu_check.run import main

pytestmark = pytest.mark.timeout(600)
FILES = {"gpu.md", "conformance.csv", "trainer.csv", "graphs.csv", "metrics.csv", "runtime.csv", "ratios.csv"}


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_quick_run_on_cpu_writes_every_section(tmp_path):
    out = tmp_path / "gpu"
    assert main(["--out", str(out), "--device", "cpu", "--quick"]) == 0
    names = {p.name for p in out.iterdir()}
    assert names == FILES and len(names) <= 8 and all(p.is_file() for p in out.iterdir())
    report = (out / "gpu.md").read_text()
    for section in ("conformance", "trainer", "graphs", "metrics", "runtime", "ratios"):
        assert f"## {section}\n" in report
    assert "- device: cpu" in report and "- torch: " in report and "- date: " in report
    conf = _rows(out / "conformance.csv")
    checked = [r for r in conf if r["check"] != "build"]
    assert len(checked) == len({r["method"] for r in conf}) and all(r["status"] == "ok" for r in checked)
    assert all(r["status"] == "ok" or r["status"].startswith("skipped: ") for r in conf), conf
    assert all(float(r["resume_max_rel_diff"]) <= float(r["resume_tol"]) for r in checked)
    trainer = _rows(out / "trainer.csv")
    assert [r["precision"] for r in trainer] == ["fp32"]
    assert all(float(r["trainer_images_per_s"]) > 0 and float(r["bare_loop_images_per_s"]) > 0 for r in trainer)
    graphs = _rows(out / "graphs.csv")
    assert float(graphs[0]["eager_images_per_s"]) > 0 and float(graphs[0]["eager_read_once_images_per_s"]) > 0
    assert graphs[0]["status"].startswith("skipped: --cuda-graphs needs a CUDA device")
    metrics = _rows(out / "metrics.csv")
    assert [int(r["pairs"]) for r in metrics] == [4, 8] and all(float(r["metric_set_ms"]) > 0 for r in metrics)
    runtime = _rows(out / "runtime.csv")
    assert {r["method"] for r in runtime} == {r["method"] for r in conf}
    assert all(r["status"] == "ok" and float(r["ms_per_image"]) > 0 for r in runtime)
    ratios = _rows(out / "ratios.csv")
    assert ratios and all(float(r["time_ratio"]) > 0 for r in ratios)


def test_spent_budget_skips_and_still_reports(tmp_path):
    out = tmp_path / "gpu"
    assert main(["--out", str(out), "--device", "cpu", "--quick", "--budget-s", "0"]) == 0
    report = (out / "gpu.md").read_text()
    assert report.count("skipped: --budget-s spent") >= 5


def test_missing_smp_reads_as_a_skip_not_a_crash(monkeypatch):
    import sys

    import colorbench
    from colorbench.gpu_check.sections import missing_module
    from colorbench.registry import build_config, create_method, get_method

    monkeypatch.setitem(sys.modules, "segmentation_models_pytorch", None)  # as on a machine without the wheel
    reasons = []
    for name in colorbench.list_methods():
        cls = get_method(name)
        for variant, settings in cls.variants.items():
            if "smp" not in repr(settings) and variant not in ("unet", "fpn"):
                continue
            with pytest.raises(ImportError) as err:
                create_method(name, build_config(cls, {}, variant), variant=variant)
            reasons.append(missing_module(err.value))
    assert reasons and set(reasons) == {"skipped: segmentation_models_pytorch not installed"}
