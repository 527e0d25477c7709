"""Short written readings of the tables, computed from the numbers (so they stay true when the results change),
with the caveats a reader needs: PSNR favours desaturated output, SSIM of the grey image is already high,
``pretrained=false`` rows, one seed, tiny training budgets. Each returns Markdown text."""
from __future__ import annotations

import math

import pandas as pd

from colorbench.report.figures import Note
from colorbench.report.tables import Summary, best, marks, summarise


class Markdown(str):
    """A string that notebooks render as Markdown."""

    def _repr_markdown_(self) -> str:
        return str(self)


def _v(s: Summary, lab: str, m: str) -> float:
    f = s.frame
    return float(f.loc[lab, f"{m}_mean"]) if f"{m}_mean" in f and lab in f.index else math.nan


def read_table(s: Summary) -> Markdown:
    """What the comparison table says: the best per headline metric (and whether the difference is real), where
    the baselines stand, the flagged rows, the caveats."""
    f = s.frame
    if f.empty:
        return Markdown("No finished rows: nothing to read.")
    lines = [f"**{len(f)} measured rows**, seeds per row: {', '.join(sorted({str(int(x)) for x in f['seeds']}))}."]
    mk = marks(s, ("psnr", "ssim", "delta_e76", "colorfulness", "js_a"))
    for m, what in (("psnr", "PSNR"), ("ssim", "SSIM"), ("delta_e76", "mean ΔE76"),
                    ("colorfulness", "colourfulness (closest to the truth's)"), ("js_a", "JS(a)")):
        lab = best(s, m)
        if lab is None:
            continue
        if m in mk and mk[m].untested:
            lines.append(f"- Best {what} by its mean: {lab} ({_v(s, lab, m):.4g}); not tested (no bootstrap "
                         "replicates for it in these results).")
        elif m in mk and mk[m].tied:
            lines.append(f"- Best {what}: a tie between {', '.join(mk[m].tied)} (the best mean, {lab} "
                         f"{_v(s, lab, m):.4g}, is not really better than the others).")
        else:
            lines.append(f"- Best {what}: **{lab}** ({_v(s, lab, m):.4g}), really better than every other row.")
    for base in [lab for lab in s.labels if s.is_baseline(lab)]:
        b_psnr, b_ssim = _v(s, base, "psnr"), _v(s, base, "ssim")
        beat = [lab for lab in s.labels if not s.is_baseline(lab) and _v(s, lab, "psnr") > b_psnr]
        lines.append(f"- The baseline {base} scores PSNR {b_psnr:.2f} dB and SSIM {b_ssim:.3f} (L carries the "
                     "structure, so SSIM differences between methods are small). "
                     + (f"Higher mean PSNR: {', '.join(beat)}." if beat else "No method has a higher mean PSNR."))
    for lab, why in s.flags.items():
        lines.append(f"- **{lab} is flagged**: {'; '.join(why)}. Do not read its row as the method.")
    lines.append("- PSNR (and MAE) favour desaturated output: a brownish average colour is never far wrong, a vivid "
                 "wrong colour is. Read PSNR together with colourfulness and the histogram divergences, where "
                 "washed-out methods score badly.")
    flagged = [lab for lab, r in f.iterrows() if r.get("pretrained_false") and lab not in s.flags]
    if flagged:
        lines.append(f"- `pretrained=false` rows ({', '.join(flagged)}): a backbone the paper loads pretrained was "
                     "randomly initialised here (weights not on disk; `colorbench weights fetch`), so these rows "
                     "understate the method.")
    if int(f["seeds"].max()) == 1:
        lines.append("- One seed per row: no spread over seeds; differences within a bootstrap interval "
                     "(table.md) are not meaningful.")
    return Markdown("\n".join(lines))


def read_histograms(s: Summary) -> Markdown:
    """How to read the a/b histogram plot, and who is closest to the truth's histograms."""
    lines = ["The curves are the pooled a and b histograms of the test set (log scale, canonical form: normalised "
             "to sum 1), black is the ground truth. A method that predicts little colour piles up in a spike at 0; "
             "the tails show whether it dares saturated colours."]
    for m in ("js_a", "js_b"):
        lab = best(s, m) if not s.frame.empty else None
        if lab is not None:
            lines.append(f"Lowest mean {m} (squared Jensen–Shannon distance, nats, ≤ ln 2): {lab} "
                         f"({_v(s, lab, m):.4f}; the table says whether the difference is real).")
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
    s = summarise(metrics, names=("colorfulness", "colorfulness_true")).frame
    text = ("Every prediction keeps the true L, so shapes always look right; judge the colours. Colourfulness "
            "(Hasler & Süsstrunk) of the predictions against the truth's says who is washed out:")
    if s.empty or "colorfulness_mean" not in s or s["colorfulness_mean"].isna().all():
        return Markdown(text + " not in these results.")
    truth = s["colorfulness_true_mean"].dropna().mean() if "colorfulness_true_mean" in s else math.nan
    parts = [f"{lab} {r['colorfulness_mean']:.1f}" for lab, r in s.iterrows() if not math.isnan(r["colorfulness_mean"])]
    text += " " + ", ".join(parts) + (f" (truth {truth:.1f})." if not math.isnan(truth) else ".")
    if not math.isnan(truth):
        dull = [lab for lab, r in s.iterrows() if r["colorfulness_mean"] < 0.5 * truth and not r["baseline"]]
        if dull:
            text += f" Below half the truth's: {', '.join(dull)}: expect sepia or grey-looking samples."
    return Markdown(text)


def read_losses(metrics: pd.DataFrame, watch: dict[str, str]) -> Markdown | Note:
    """For each trained row with a loss log: the watched loss over the first and the last tenth of the steps."""
    from colorbench.report.figures import read_loss_log
    from colorbench.report.load import cell_folder
    from colorbench.report.tables import label, ok_rows

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
