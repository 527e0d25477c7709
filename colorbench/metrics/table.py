"""The metric declaration table: every figure the evaluator reports, with its goal, unit and meaning.

Tables (arrows, best marks, rankings), the degenerate-output flags and ``colorbench list metrics`` read
:data:`METRICS`; nothing else may hard-code a metric's direction.

A metric's **goal** is one of

* ``"higher"`` / ``"lower"``: better is larger / smaller;
* ``"truth"``: closest to the ground truth's own figure is best (``truth`` names the twin column, e.g.
  ``colorfulness_true``): a prediction twice as colourful as the photo is not better than one as colourful;
* ``"reference"``: a figure of the ground truth itself (the same for every method), never ranked;
* ``"diagnostic"``: a property of the prediction used to flag degenerate output, never ranked.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

GOALS = ("higher", "lower", "truth", "reference", "diagnostic")
HISTOGRAM_METRICS = ("js_a", "js_b", "kl_a", "kl_b")
"""Figures of the pooled test-set histograms: one value per run, no per-image values."""


@dataclass(frozen=True)
class MetricInfo:
    """One reported figure.

    ``goal``: see the module docstring; ``truth``: the ground-truth twin of a ``"truth"`` goal. ``per_image``:
    whether the evaluator keeps one value per image in its records (so paired tests, intervals and worst cases can
    be computed); the others are dataset-level only (pooled histograms, distribution distances).
    """

    name: str
    goal: str
    unit: str
    description: str
    per_image: bool
    source: str = ""
    truth: str = ""

    def __post_init__(self) -> None:
        if self.goal not in GOALS:
            raise ValueError(f"metric {self.name}: goal must be one of {GOALS}, got {self.goal!r}")
        if (self.goal == "truth") != bool(self.truth):
            raise ValueError(f"metric {self.name}: a 'truth' goal needs its twin column (truth=...), and only it")

    @property
    def ranked(self) -> bool:
        """Whether tables rank this figure (``reference`` and ``diagnostic`` figures are not)."""
        return self.goal in ("higher", "lower", "truth")

    @property
    def arrow(self) -> str:
        """↑ higher is better, ↓ lower, → closest to the truth's figure; nothing for unranked figures."""
        return {"higher": "↑", "lower": "↓", "truth": "→truth"}.get(self.goal, "")


_ROWS = (
    MetricInfo("psnr", "higher", "dB",
               "peak signal-to-noise ratio on sRGB rebuilt from the true L and the predicted ab, data range 1; "
               "identical images give inf", True, "skimage.metrics.peak_signal_noise_ratio"),
    MetricInfo("ssim", "higher", "",
               "structural similarity on sRGB: Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, population "
               "covariance, mean over channels and the interior 5 px from each border", True,
               "Wang et al. 2004; skimage structural_similarity(gaussian_weights=True)"),
    MetricInfo("colorfulness", "truth", "",
               "Hasler & Suesstrunk colourfulness of the prediction (sigma_rgyb + 0.3 mu_rgyb on 0..255 sRGB); "
               "best when closest to the ground truth's", True, "Hasler & Suesstrunk 2003",
               truth="colorfulness_true"),
    MetricInfo("colorfulness_true", "reference", "",
               "colourfulness of the ground truth (a reference figure, not a score)", True,
               "Hasler & Suesstrunk 2003"),
    MetricInfo("delta_colorfulness", "lower", "",
               "|colourfulness(true) - colourfulness(prediction)| per image", True, "Hasler & Suesstrunk 2003"),
    MetricInfo("mae_ab", "lower", "ab/110",
               "mean absolute error of the predicted ab in network units (ab/110), as in the KTH report's Table 1 "
               "(which scaled ab to [-1,1] its own way)",
               True, "Galvão, Santos & Sánchez-Mateos (KTH), Table 1"),
    MetricInfo("delta_e76", "lower", "ΔE76",
               "mean CIE76 colour difference per image between (true L, predicted ab) and (true L, true ab) in Lab "
               "units, i.e. the Euclidean ab error; the prediction is not gamut-clipped first", True, "CIE 1976"),
    MetricInfo("js_a", "lower", "nats",
               "squared Jensen-Shannon distance (natural log) between the pooled normalised histograms of a "
               "(220 one-unit bins on [-110,110)); at most ln 2", False, "Tarrés 2020 (UPC/BBC thesis), Table 2"),
    MetricInfo("js_b", "lower", "nats", "as js_a, for the b channel", False, "Tarrés 2020 (UPC/BBC thesis), Table 2"),
    MetricInfo("kl_a", "lower", "nats",
               "KL(true || prediction) of the pooled a histograms with epsilon 1e-10 and no renormalisation; "
               "histograms normalised to sum 1 (canonical) or mean counts per image (legacy form)", False,
               "Tarrés 2020 (UPC/BBC thesis), Table 2"),
    MetricInfo("kl_b", "lower", "nats", "as kl_a, for the b channel", False, "Tarrés 2020 (UPC/BBC thesis), Table 2"),
    MetricInfo("lpips", "lower", "",
               "LPIPS (AlexNet) through torchmetrics, only when the backbone weights are on disk; otherwise n/a",
               False, "Zhang et al. 2018"),
    MetricInfo("fid", "lower", "",
               "Frechet Inception distance through torchmetrics (needs torch-fidelity and its Inception weights on "
               "disk); otherwise n/a", False, "Heusel et al. 2017"),
    # Declared for the published figures (colorbench/reference/published.csv); computed by the metrics layer.
    MetricInfo("fid_tv", "lower", "",
               "Frechet distance on torchvision's ImageNet Inception-v3 pool features with ImageNet normalisation, "
               "as DDColor's and CT2's evaluation scripts compute it (not comparable with fid)", False,
               "piddnad/DDColor basicsr/metrics/custom_fid.py; shuchenweng/CT2 segm/metrics.py"),
    MetricInfo("colorfulness_abs", "truth", "",
               "colourfulness in the absolute-value form (|R-G| and |(R+G)/2-B|) of DDColor, CT2 and ColorFormer; "
               "best when closest to the ground truth's", False,
               "piddnad/DDColor basicsr/metrics/colorfulness.py; shuchenweng/CT2 segm/eval_colorfullness.py",
               truth="colorfulness_abs_true"),
    MetricInfo("colorfulness_abs_true", "reference", "",
               "colorfulness_abs of the ground truth (a reference figure, not a score)", False,
               "piddnad/DDColor basicsr/metrics/colorfulness.py"),

    MetricInfo("ab_std", "diagnostic", "Lab",
               "standard deviation of the predicted a and b over every test pixel (pooled, mean of the two "
               "channels): near 0 means one flat colour", False, "colorbench"),
    MetricInfo("ab_std_true", "reference", "Lab",
               "ab_std of the ground truth on the same images (the scale of the flat-output flag)", False,
               "colorbench"),
    MetricInfo("gamut_clipped", "diagnostic", "share",
               "share of test pixels whose predicted Lab colour lies outside the sRGB gamut (some channel clipped "
               "to [0,1] when converting back)", False, "colorbench"),
    MetricInfo("gamut_delta_e", "diagnostic", "ΔE76",
               "mean over every test pixel of the CIE76 distance between the predicted Lab colour and the sRGB "
               "colour shown for it (0 in gamut): how much colour the clipping takes away", False, "colorbench"),
    MetricInfo("chroma_true", "reference", "Lab",
               "mean chroma sqrt(a² + b²) of the ground truth over every test pixel (the scale of the "
               "out-of-gamut flag)", False, "colorbench"),
)

METRICS: dict[str, MetricInfo] = {row.name: row for row in _ROWS}
"""name -> :class:`MetricInfo`, in the order tables show them."""

PER_IMAGE_METRICS: tuple[str, ...] = tuple(m.name for m in _ROWS if m.per_image)


@dataclass(frozen=True)
class DegenerateRule:
    """Output that no reading of the table should trust: ``metric`` compared with ``threshold`` (``"below"`` or
    ``"above"``) times ``relative_to``, a figure of the ground truth on the same images (e.g. the truth's
    colourfulness), or times 1 when ``relative_to`` is empty. ``name``: one word for the table's flags."""

    metric: str
    op: str
    threshold: float
    relative_to: str = ""
    reason: str = ""
    name: str = ""

    def text(self) -> str:
        ref = f"{self.threshold:g}× {self.relative_to}" if self.relative_to else f"{self.threshold:g}"
        return f"{self.name or self.metric}: {self.metric} {'<' if self.op == 'below' else '>'} {ref} ({self.reason})"

    def limit(self, figures: Mapping[str, float]) -> float | None:
        """The threshold for one run's ``figures`` (None when the reference figure is missing or not finite)."""
        if not self.relative_to:
            return float(self.threshold)
        ref = figures.get(self.relative_to)
        if ref is None or not math.isfinite(float(ref)):
            return None
        return float(self.threshold) * float(ref)

    def check(self, figures: Mapping[str, float]) -> bool | None:
        """Whether one run's ``figures`` break the rule; None when the figure or its reference is missing."""
        value, limit = figures.get(self.metric), self.limit(figures)
        if value is None or limit is None or not math.isfinite(float(value)):
            return None
        return float(value) < limit if self.op == "below" else float(value) > limit


DEGENERATE: tuple[DegenerateRule, ...] = (
    DegenerateRule("ab_std", "below", 0.2, "ab_std_true", "one flat colour: ab std under a fifth of the truth's on "
                   "the same images", "flat"),
    DegenerateRule("colorfulness", "above", 2.5, "colorfulness_true", "over 2.5× the truth's colourfulness",
                   "over-saturated"),
    DegenerateRule("gamut_delta_e", "above", 0.5, "chroma_true", "showing the prediction in sRGB moves its colours "
                   "by over half the truth's mean chroma", "out of gamut"),
)
"""Thresholds declared once, each relative to the ground truth's own figure on the same images, checked per seed
(``colorbench.report.flags``); tables print them under the table. The gamut rule measures how far the clipping
moves the colours, not how many pixels it touches: a real photo is in gamut (its own figure is 0 by either measure),
while the ``mean_color`` baseline on dark and bright pixels already leaves the gamut on 23% of the ``sample`` test
pixels, by 1.7 ΔE on average (0.10× the truth's mean chroma of 17.4), which is not broken output; the truth's ab
tripled moves them by 0.6×, uniform noise by 2×. Baselines are degenerate by design and exempt."""
