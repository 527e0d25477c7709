"""`colorbench list methods|datasets|metrics` prints what the declarations hold."""
from __future__ import annotations

import importlib

import pytest

from colorbench import registry
from colorbench.cli import main
from colorbench.data import list_datasets


def test_list_datasets_prints_every_name_with_source_and_size(capsys):
    assert main(["list", "datasets"]) == 0
    out = capsys.readouterr().out
    for info in list_datasets():
        assert info.name in out
    assert out.count("source:") == len(list_datasets()) and out.count("size:") == len(list_datasets())


def test_list_methods_prints_registry_and_variants(capsys):
    assert main(["list", "methods"]) == 0
    out = capsys.readouterr().out
    names = registry.list_methods()
    if not names:
        assert "no methods registered" in out
    for name in names:
        assert name in out
        cls = registry.get_method(name)
        assert cls.description.split()[0] in out and all(v in out for v in cls.variants)


def test_list_methods_reports_files_that_failed(capsys, monkeypatch):
    monkeypatch.setattr(registry, "load_errors", lambda: {"/x/broken.py": "SyntaxError: invalid syntax"})
    assert main(["list", "methods"]) == 0
    out = capsys.readouterr().out
    assert "failed to load" in out and "/x/broken.py: SyntaxError: invalid syntax" in out


def test_list_metrics_reads_the_declaration_table_or_says_it_is_missing(capsys):
    assert main(["list", "metrics"]) == 0
    out = capsys.readouterr().out
    try:
        metrics = importlib.import_module("colorbench.metrics")
    except ModuleNotFoundError:
        assert "evaluator not installed" in out
        return
    table = getattr(metrics, "METRICS", {})
    if not table:
        assert "no metrics declared" in out
    for name in table:
        assert name in out


def test_list_metrics_formats_each_declaration_style(capsys, monkeypatch):
    import sys
    import types

    from colorbench.commands.list_cmd import format_metrics

    fake = types.ModuleType("colorbench.metrics")
    fake.METRICS = {"psnr": {"direction": "higher", "unit": "dB", "description": "peak signal-to-noise ratio"},
                    "mae_ab": ("lower", "ab/110", "mean absolute error of ab"),
                    "ssim": types.SimpleNamespace(higher_is_better=True, unit="", description="structural similarity")}
    monkeypatch.setitem(sys.modules, "colorbench.metrics", fake)
    out = format_metrics(100)
    assert "psnr" in out and "↑ higher is better" in out and "unit: dB" in out
    assert "mae_ab" in out and "↓ lower is better" in out and "structural similarity" in out
    assert out.count("↑") == 2


def test_list_rejects_unknown_tables():
    with pytest.raises(SystemExit):
        main(["list", "models"])
