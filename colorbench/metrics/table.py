"""The metric declaration table: every figure the evaluator reports, with its direction, unit and meaning.

Tables (arrows, best-per-column marks) and ``colorbench list metrics`` read :data:`METRICS`; nothing else should
hard-code a metric's direction.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    """One reported figure.

    ``higher_is_better``: the table's arrow (↑ when True, ↓ when False). ``per_image``: whether the evaluator keeps
    one value per image in ``Evaluator.records`` (so bootstrap intervals and worst cases can be computed); the
    others are dataset-level only (pooled histograms, distribution distances).
    """

    name: str
    higher_is_better: bool
    unit: str
    description: str
    per_image: bool
    source: str = ""

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


_ROWS = (
    MetricInfo("psnr", True, "dB",
               "peak signal-to-noise ratio on sRGB rebuilt from the true L and the predicted ab, data range 1; "
               "identical images give inf", True, "skimage.metrics.peak_signal_noise_ratio"),
    MetricInfo("ssim", True, "",
               "structural similarity on sRGB: Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, population "
               "covariance, mean over channels and the interior 5 px from each border", True,
               "Wang et al. 2004; skimage structural_similarity(gaussian_weights=True)"),
    MetricInfo("colorfulness", True, "",
               "Hasler & Suesstrunk colourfulness of the prediction (sigma_rgyb + 0.3 mu_rgyb on 0..255 sRGB)",
               True, "Hasler & Suesstrunk 2003"),
    MetricInfo("colorfulness_true", True, "",
               "colourfulness of the ground truth (a reference figure, not a score)", True,
               "Hasler & Suesstrunk 2003"),
    MetricInfo("delta_colorfulness", False, "",
               "|colourfulness(true) - colourfulness(prediction)| per image", True, "Hasler & Suesstrunk 2003"),
    MetricInfo("mae_ab", False, "ab/110",
               "mean absolute error of the predicted ab in network units (ab/110), as in the KTH report's Table 1 "
               "(which scaled ab to [-1,1] its own way)",
               True, "Galvão, Santos & Sánchez-Mateos (KTH), Table 1"),
    MetricInfo("delta_e76", False, "ΔE76",
               "mean CIE76 colour difference per image between (true L, predicted ab) and (true L, true ab) in Lab "
               "units, i.e. the Euclidean ab error; the prediction is not gamut-clipped first", True, "CIE 1976"),
    MetricInfo("js_a", False, "nats",
               "squared Jensen-Shannon distance (natural log) between the pooled normalised histograms of a "
               "(220 one-unit bins on [-110,110)); at most ln 2", False, "Tarrés 2020 (UPC/BBC thesis), Table 2"),
    MetricInfo("js_b", False, "nats", "as js_a, for the b channel", False, "Tarrés 2020 (UPC/BBC thesis), Table 2"),
    MetricInfo("kl_a", False, "nats",
               "KL(true || prediction) of the pooled a histograms with epsilon 1e-10 and no renormalisation; "
               "histograms normalised to sum 1 (canonical) or mean counts per image (legacy form)", False,
               "Tarrés 2020 (UPC/BBC thesis), Table 2"),
    MetricInfo("kl_b", False, "nats", "as kl_a, for the b channel", False, "Tarrés 2020 (UPC/BBC thesis), Table 2"),
    MetricInfo("lpips", False, "",
               "LPIPS (AlexNet) through torchmetrics, only when the backbone weights are on disk; otherwise n/a",
               False, "Zhang et al. 2018"),
    MetricInfo("fid", False, "",
               "Frechet Inception distance through torchmetrics (needs torch-fidelity and its Inception weights on "
               "disk); otherwise n/a", False, "Heusel et al. 2017"),
)

METRICS: dict[str, MetricInfo] = {row.name: row for row in _ROWS}
"""name -> :class:`MetricInfo`, in the order tables show them."""

PER_IMAGE_METRICS: tuple[str, ...] = tuple(m.name for m in _ROWS if m.per_image)
