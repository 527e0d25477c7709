"""The prepared GPU check: every CUDA path of colorbench measured in one run, against the figures to beat.

``python -m colorbench.gpu_check --out DIR [--device cuda|cpu] [--budget-s S] [--quick]`` writes, flat in DIR,
``gpu.md`` (the report: device, driver, torch version, date, one section per check, each with figures or the reason
it was skipped) and one CSV per section (``conformance.csv``, ``trainer.csv``, ``graphs.csv``, ``metrics.csv``,
``runtime.csv``, ``ratios.csv``): seven files. Sections (``colorbench.gpu_check.sections``):

* conformance: every registered method, a few training steps on the device (bf16 autocast + channels_last on CUDA,
  fp32 on the CPU), ``colorize`` at odd sizes and batch 1, and resume equality (a run resumed half-way ends on the
  weights of a straight run, within a stated tolerance); every variant is built once, so a missing optional
  package (segmentation-models-pytorch) reads "skipped: <package> not installed", never a crash;
* trainer: pix2pix at 256², batch 64, the trainer on a ``folder`` dataset of the embedded sample photos written as
  PNG (decoded by the loader) against a bare loop of ``train_step`` on one batch already on the device, fp32 and
  bf16 + channels_last;
* graphs: pix2pix at batch 1, timed with CUDA events: eager (losses read every step, and read once at the end)
  against the whole step in one CUDA graph (``train(cuda_graphs=True)``);
* metrics: the evaluator's metric set on 64 and 512 pairs of 256² against torchmetrics' SSIM + PSNR (when installed);
* runtime: ``colorbench.profiler`` (CUDA events, CUDA peak memory) for every method at 256², 750×500, 1500×1000,
  3000×2000 and 6000×4000, and the time ratios of a method's ``runtime_variants`` to its ``runtime_reference``
  beside the published ones (the C2F paper's Table 1c).

``--budget-s`` bounds the wall time: a section that starts after the budget is spent is skipped (and says so) and the
report is still written. ``--quick`` runs every section at toy sizes (what the CPU test runs).
"""
