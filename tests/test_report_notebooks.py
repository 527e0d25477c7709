"""The report notebooks executed (papermill, nbclient underneath) against smoke results made here, failing on any
cell error; the C2F Table 1 rebuild checked against skimage on the same trained checkpoint."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F

from colorbench.report import resolution
from colorbench.report.notebooks import run_reports

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """A smoke bench (synthetic 16 px, 3 steps) with the baselines and c2f at its default and base variants."""
    from colorbench.bench import run_bench

    tmp = tmp_path_factory.mktemp("report")
    profile = (ROOT / "profiles" / "smoke.toml").read_text().replace(
        "methods = []", 'methods = ["c2f"]\nvariants = { c2f = ["default", "base"] }', 1)
    assert 'variants = { c2f' in profile
    path = tmp / "profiles" / "smoke.toml"
    path.parent.mkdir()
    path.write_text(profile)
    summary = run_bench(str(path), results=tmp / "results", cache=tmp / "runs", progress=False)
    assert not summary.failed
    return tmp / "results"


def _outputs(nb_path: Path) -> str:
    nb = nbformat.read(str(nb_path), as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"{nb_path.name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    text = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            data = o.get("data", {})
            text.append(o.get("text", "") + "".join(str(data.get(k, "")) for k in ("text/html", "text/plain",
                                                                                 "text/markdown")))
    return "\n".join(text)


def test_every_notebook_executes_into_html(smoke, tmp_path):
    out = tmp_path / "report"
    done = run_reports(smoke, "smoke", out, notebooks=ROOT / "notebooks", resolution_sizes=["40x24"],
                       resolution_photos=1, stop_on_error=True)
    assert [e.name for e in done] == ["overview", "method-c2f", "resolution-c2f"]
    assert done[1].parameters == {"method": "c2f", "variant": "default"}
    for e in done:
        assert not e.error and e.html is not None and e.html.stat().st_size > 10_000
        assert "<html" in e.html.read_text(encoding="utf-8")[:2000].lower()
    overview = _outputs(out / "ipynb" / "overview.ipynb")
    assert "profile smoke" in overview and "c2f [base]" in overview
    # the one rule (colorbench.report.published.shown_beside): published rows only on their own protocol, and no
    # source publishes on the synthetic set, so the overview shows none (they stay in the reproduction tables)
    assert "published, not measured here" not in overview and "*published*" not in overview
    assert "The baseline gray scores PSNR" in overview
    method = _outputs(out / "ipynb" / "method-c2f.ipynb")
    assert "c2f" in method
    c2f = _outputs(out / "ipynb" / "resolution-c2f.ipynb")
    assert "Both models found" in c2f and "40x24" in c2f
    nb = nbformat.read(str(out / "ipynb" / "overview.ipynb"), as_version=4)
    pngs = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    jpegs = [o for c in nb.cells for o in c.get("outputs", []) if "image/jpeg" in o.get("data", {})]
    assert len(pngs) >= 4 and len(jpegs) == 1  # histograms, loss curves, runtime (ours and the bench's); samples


def test_c2f_table_matches_skimage_on_the_same_checkpoint(smoke):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from colorbench.checkpoint import load_method
    from colorbench.color import lab_to_rgb, rgb_to_lab
    from colorbench.data import sample_test_photos

    found = resolution.find_checkpoints(smoke, "smoke", "c2f")
    assert found["model"]["variant"] == "default" and found["reference"]["variant"] == "base"
    table = resolution.rebuild(found, "c2f", ["40x24"], photos=1, settings=["s2.0_d10"], warmup=False)
    assert list(table["setting"]) == ["base", "s2.0_d10"] and (table["upsampled"] == 0).all()
    _, rgb = max(sample_test_photos(), key=lambda p: p[1].shape[-1] * p[1].shape[-2])  # the largest photo
    truth = F.interpolate(rgb[None], size=(24, 40), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    lab = rgb_to_lab(truth)
    for setting, ckpt, kw in (("base", found["reference"]["checkpoint"], {}),
                              ("s2.0_d10", found["model"]["checkpoint"], {"shrink_size": 2.0, "max_c2f_depth": 10})):
        with torch.no_grad():
            ab = load_method(ckpt).colorize(lab[:, :1] / 50 - 1, **kw)
        pred = lab_to_rgb(torch.cat([lab[:, :1], ab * 110], 1)).clamp(0, 1)
        p, t = pred[0].permute(1, 2, 0).double().numpy(), truth[0].permute(1, 2, 0).double().numpy()
        row = table[table["setting"] == setting].iloc[0]
        assert row["psnr"] == pytest.approx(peak_signal_noise_ratio(t, p, data_range=1.0), abs=1e-3)
        assert row["ssim"] == pytest.approx(structural_similarity(t, p, data_range=1.0, channel_axis=2,
                                                                  gaussian_weights=True, sigma=1.5,
                                                                  use_sample_covariance=False), abs=1e-3)
        assert row["seconds"] > 0
