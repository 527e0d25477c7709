"""colorbench.report: the results layer. Loading a bench profile's results (:mod:`.load`), the tables with their
marks, ties and flags (:mod:`.tables`, tested by :mod:`.stats`), the published figures and their mapping
(:mod:`.published`), the runtime tables (:mod:`.runtime`), every figure (:mod:`.figures`), one method's views
(:mod:`.method_view`), a resolution study such as the C2F paper's Table 1 rebuilt (:mod:`.resolution`), short
written readings (:mod:`.reading`) and notebook execution into HTML (:mod:`.notebooks`, used by ``colorbench
report``). ``make bench`` writes its tables through the same functions the notebooks call."""
from __future__ import annotations

from colorbench.report.figures import Note, bench_png, loss_curves, runtime_figure, setup_notebook
from colorbench.report.load import DatasetResults, Results, load_results
from colorbench.report.reading import read_histograms, read_runtime, read_table
from colorbench.report.runtime import runtime_table
from colorbench.report.tables import Summary, comparison_table, measured_table, summarise

__all__ = ["DatasetResults", "Note", "Results", "Summary", "bench_png", "comparison_table", "load_results",
           "loss_curves", "measured_table", "read_histograms", "read_runtime", "read_table", "runtime_figure",
           "runtime_table", "setup_notebook", "summarise"]
