"""Short written readings of the tables, computed from the numbers (so they stay true when the results change),
with the caveats a reader needs: PSNR favours desaturated output, SSIM of the grey image is already high,
``pretrained=false`` rows, one seed, tiny training budgets. Each returns Markdown text."""
from __future__ import annotations

import math

import pandas as pd

from colorbench.report.figures import Note
from colorbench.report.tables import best


class Markdown(str):
    """A string that notebooks render as Markdown."""

    def _repr_markdown_(self) -> str:
        return str(self)


def _v(s: pd.DataFrame, lab: str, m: str) -> float:
    return float(s.loc[lab, f"{m}_mean"]) if f"{m}_mean" in s and lab in s.index else math.nan


def read_table(s: pd.DataFrame) -> Markdown:
    """What the comparison table says: the best per headline metric, where grey stands, the caveats."""
    if s.empty:
        return Markdown("No finished rows: nothing to read.")
    lines = [f"**{len(s)} measured rows**, seeds per row: {', '.join(sorted({str(int(x)) for x in s['seeds']}))}."]
    for m, what in (("psnr", "PSNR"), ("ssim", "SSIM"), ("delta_e76", "mean ΔE76"), ("js_a", "JS(a)")):
        lab = best(s, m)
        if lab is not None:
            lines.append(f"- Best {what}: **{lab}** ({_v(s, lab, m):.4g}).")
    if "gray" in s.index:
        g_psnr, g_ssim = _v(s, "gray", "psnr"), _v(s, "gray", "ssim")
        beat = [lab for lab in s.index if lab != "gray" and _v(s, lab, "psnr") > g_psnr]
        lines.append(f"- The grey baseline (true L, ab = 0) already scores PSNR {g_psnr:.2f} dB and SSIM {g_ssim:.3f}: "
                     "SSIM of the grey image is high because L carries the structure, so SSIM differences between "
                     "methods are small. "
                     + (f"Beating grey on PSNR: {', '.join(beat)}." if beat else "No method beats grey on PSNR."))
    lines.append("- PSNR (and MAE) favour desaturated output: a brownish average colour is never far wrong, a vivid "
                 "wrong colour is. Read PSNR together with colourfulness and the histogram divergences, where "
                 "washed-out methods score badly.")
    flagged = [lab for lab, r in s.iterrows() if r.get("pretrained_false")]
    if flagged:
        lines.append(f"- `pretrained=false` rows ({', '.join(flagged)}): a backbone the paper loads pretrained was "
                     "randomly initialised here (weights not on disk; `colorbench weights fetch`), so these rows "
                     "understate the method.")
    if int(s["seeds"].max()) == 1:
        lines.append("- One seed per row: no spread over seeds; differences within a bootstrap interval "
                     "(table.md) are not meaningful.")
    return Markdown("\n".join(lines))


def read_histograms(s: pd.DataFrame) -> Markdown:
    """How to read the a/b histogram plot, and who is closest to the truth's histograms."""
    lines = ["The curves are the pooled a and b histograms of the test set (log scale, canonical form: normalised "
             "to sum 1), black is the ground truth. A method that predicts little colour piles up in a spike at 0; "
             "the tails show whether it dares saturated colours."]
    for m in ("js_a", "js_b"):
        lab = best(s, m) if not s.empty else None
        if lab is not None:
            lines.append(f"Closest to the truth on {m} (squared Jensen–Shannon distance, nats, ≤ ln 2): **{lab}** "
                         f"({_v(s, lab, m):.4f}).")
    return Markdown(" ".join(lines))


def read_runtime(runtime: pd.DataFrame) -> Markdown | Note:
    """Fastest and slowest at the largest timed size, and how time grows with pixels."""
    if runtime.empty or runtime.isna().all().all():
        return Note("no runtime figures")
    big = runtime.columns[-1]
    col = runtime[big].dropna()
    if col.empty:
        return Note(f"no method finished at {big}")
    text = (f"At {big}, the fastest is **{col.idxmin()}** ({col.min():.1f} ms/image) and the slowest "
            f"**{col.idxmax()}** ({col.max():.1f} ms/image), batch 1 on the bench's device.")
    if len(runtime.columns) > 1:
        small = runtime.columns[0]
        ratio = (runtime[big] / runtime[small]).dropna()
        if not ratio.empty:
            text += (f" From {small} to {big} time grows ×{ratio.min():.1f}–×{ratio.max():.1f}; "
                     "fully convolutional "
                     "networks grow about with the pixel count, fixed-size parts (a classifier at 299 px) do not.")
    return Markdown(text + " Times are from the machine that ran the bench; compare ratios, not absolute values.")


def read_samples(metrics: pd.DataFrame) -> Markdown:
    """What to look for in the sample grid, with each method's colourfulness against the truth's (from the
    metrics rows: ``colorfulness`` and ``colorfulness_true``)."""
    from colorbench.report.tables import summary

    s = summary(metrics, ("colorfulness", "colorfulness_true"))
    text = ("Every prediction keeps the true L, so shapes always look right; judge the colours. Colourfulness "
            "(Hasler & Süsstrunk) of the predictions against the truth's says who is washed out:")
    if s.empty or "colorfulness_mean" not in s or s["colorfulness_mean"].isna().all():
        return Markdown(text + " not in these results.")
    truth = s["colorfulness_true_mean"].dropna().mean() if "colorfulness_true_mean" in s else math.nan
    parts = [f"{lab} {r['colorfulness_mean']:.1f}" for lab, r in s.iterrows() if not math.isnan(r["colorfulness_mean"])]
    text += " " + ", ".join(parts) + (f" (truth {truth:.1f})." if not math.isnan(truth) else ".")
    if not math.isnan(truth):
        dull = [lab for lab, r in s.iterrows() if r["colorfulness_mean"] < 0.5 * truth and lab != "gray"]
        if dull:
            text += f" Below half the truth's: {', '.join(dull)}: expect sepia or grey-looking samples."
    return Markdown(text)


def read_losses(metrics: pd.DataFrame, watch: dict[str, str]) -> Markdown | Note:
    """For each trained row with a loss log: the watched loss over the first and the last tenth of the steps."""
    from colorbench.bench.plots import read_loss_log
    from colorbench.report.load import cell_folder, ok_rows
    from colorbench.report.tables import label

    lines = []
    for _, r in ok_rows(metrics).iterrows():
        folder = cell_folder(r)
        key = watch.get(r["method"], "loss")
        if folder is None or not (folder / "loss.csv").is_file():
            continue
        y = read_loss_log(folder / "loss.csv").get(key, [])
        if len(y) < 2:
            continue
        k = max(1, len(y) // 10)
        first, last = sum(y[:k]) / k, sum(y[-k:]) / k
        verdict = "fell" if last < first else "did not fall"
        lines.append(f"- {label(r['method'], r['variant'])} (seed {int(r.get('seed', 0))}): `{key}` {first:.4g} → "
                     f"{last:.4g} ({verdict}, {len(y)} steps)")
    if not lines:
        return Note("no loss logs on this machine (the runs/ cache is not committed)")
    return Markdown("The watched loss (a GAN's reconstruction term), mean of the first and the last tenth of the "
                    "logged steps. The quick budgets are tiny: a falling loss says training works, not that it "
                    "converged.\n\n" + "\n".join(lines))
