"""The papers' numbers as tests: each released model (a zoo entry) scored on the protocol its source publishes
figures for, against those figures (``colorbench/reference/published.csv``, the rows the entry's ``published``
names), within the tolerance below.

Marked ``reference``: run with ``pytest -m reference``. Each test runs when the released weights are on disk
(``colorbench weights fetch NAME``) and the protocol's images are in ``$COLORBENCH_REFERENCE_DATA/<protocol>``
(e.g. ``.../imagenet_val5k`` holding ILSVRC2012 validation images); otherwise it is skipped naming the missing
file or folder. A figure our evaluator does not compute (yet) is skipped naming it. Scores are kept beside the
model (:mod:`colorbench.compare`), so a second run only compares.

Tolerances: the protocol pins the images, the crop and the resize filter, so what is left is decoding, the colour
conversion and float order, plus each figure's own noise:

* FID over 5,000 images: a 2-decimal figure whose estimate moves by a few tenths with the resize filter and the
  Inception port (Parmar, Zhang and Zhu 2022, "On Aliased Resizing and Surprising Subtleties in GAN Evaluation"):
  within 10 % of the published value, at least 0.5;
* colourfulness (Hasler and Süsstrunk 2003) is a mean over images of a per-image statistic whose spread is ~20:
  over 5,000 images its standard error is ~0.3, so within 1.0 (three standard errors);
* PSNR (dB) within 0.3, SSIM within 0.01, AuC/accuracy-style percentages within 1 point.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from colorbench import pretrained as pt

pytestmark = pytest.mark.reference
DATA_VARIABLE = "COLORBENCH_REFERENCE_DATA"


def tolerance(metric: str, published: float) -> float:
    """How far a re-measured figure may lie from the published one (the module docstring says why)."""
    if metric.startswith("fid"):
        return max(0.5, 0.1 * abs(published))
    if metric.startswith("colorfulness"):
        return 1.0
    if metric == "psnr":
        return 0.3
    if metric == "ssim":
        return 0.01
    return max(1.0, 0.02 * abs(published))


def cases() -> list[tuple[str, object]]:
    """``(zoo name, published row)`` for every row a zoo entry claims that has a protocol of ours."""
    from colorbench.report.published import load_published

    out = []
    rows = load_published()
    for name, entry in pt.zoo_entries().items():
        for key in entry.published:
            out += [(name, r) for r in rows if (r.source, r.method, r.variant) == tuple(key) and r.protocol]
    return out


CASES = cases()


def test_every_claimed_row_exists():
    """An entry that names a published row that is not in published.csv (a typo) fails here, not silently."""
    from colorbench.report.published import load_published

    keys = {(r.source, r.method, r.variant) for r in load_published()}
    for name, entry in pt.zoo_entries().items():
        for key in entry.published:
            assert tuple(key) in keys, f"{name} claims published row {key}, which published.csv does not have"


@pytest.mark.parametrize("name, row", CASES, ids=[f"{n}-{r.protocol}-{r.metric}" for n, r in CASES])
def test_released_model_gives_its_published_figure(name, row):
    from colorbench import compare

    weights = pt.zoo_path(name)
    if not weights.is_file():
        pytest.skip(f"{weights} is missing: `colorbench weights fetch {name}`")
    root = os.environ.get(DATA_VARIABLE)
    data = Path(root) / row.protocol if root else None
    if data is None or not data.is_dir():
        pytest.skip(f"{data or '$' + DATA_VARIABLE + '/' + row.protocol} is missing: put the {row.protocol} images "
                    f"there and set {DATA_VARIABLE}")
    got, _, _ = compare.scores(compare.target(name), row.protocol, str(data))
    value = got["figures"].get(row.our_metric)
    if value is None:
        pytest.skip(f"{row.our_metric} is not computed by this evaluator (published {row.metric} = {row.value})")
    tol = tolerance(row.our_metric, row.our_value)
    assert abs(value - row.our_value) <= tol, (f"{name} on {row.protocol}: {row.our_metric} {value:.3f}, "
                                               f"published {row.our_value} ± {tol:.2f} ({row.source} {row.table})")


def test_missing_weights_or_data_skip_naming_what_is_missing(caches, monkeypatch):
    from colorbench.report.published import load_published

    row = next(r for r in load_published() if r.protocol == "imagenet_val5k")
    monkeypatch.delenv(DATA_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception,
                       match=r"release_v2-9b330a0b\.pth is missing: `colorbench weights fetch cic:eccv16`"):
        test_released_model_gives_its_published_figure("cic:eccv16", row)
    pt.zoo_path("cic:eccv16").parent.mkdir(parents=True)
    pt.zoo_path("cic:eccv16").write_bytes(b"stand-in")
    with pytest.raises(pytest.skip.Exception, match=r"\$COLORBENCH_REFERENCE_DATA/imagenet_val5k is missing"):
        test_released_model_gives_its_published_figure("cic:eccv16", row)
    monkeypatch.setenv(DATA_VARIABLE, str(caches / "data"))
    with pytest.raises(pytest.skip.Exception, match=str(caches / "data" / "imagenet_val5k") + " is missing"):
        test_released_model_gives_its_published_figure("cic:eccv16", row)


def test_tolerances():
    assert tolerance("fid_tv", 3.92) == 0.5 and tolerance("fid", 20.0) == pytest.approx(2.0)
    assert tolerance("colorfulness_abs", 38.26) == 1.0 and tolerance("psnr", 24.0) == 0.3
