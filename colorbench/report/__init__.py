"""colorbench.report: what the notebooks call. Loading a bench profile's results (:mod:`.load`), comparison tables
with published figures beside them (:mod:`.tables`), figures (:mod:`.figures`), one method's views
(:mod:`.method_view`), the C2F paper's Table 1 rebuilt (:mod:`.c2f_table`), short written readings
(:mod:`.reading`) and notebook execution into HTML (:mod:`.notebooks`, used by ``colorbench report``)."""
from __future__ import annotations

from colorbench.report.figures import Note, bench_png, loss_curves, runtime_figure, setup_notebook
from colorbench.report.load import DatasetResults, Results, load_results
from colorbench.report.reading import read_histograms, read_runtime, read_table
from colorbench.report.tables import comparison_table, measured_table, runtime_table, summary

__all__ = ["DatasetResults", "Note", "Results", "bench_png", "comparison_table", "load_results", "loss_curves",
           "measured_table", "read_histograms", "read_runtime", "read_table", "runtime_figure", "runtime_table",
           "setup_notebook", "summary"]
