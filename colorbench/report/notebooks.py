"""Execute the report notebooks (papermill, kernel ``python3`` = the running interpreter's ipykernel) against a
results folder and export each to HTML (nbconvert) beside the results: ``results/<profile>/report/*.html``.

``overview`` and ``c2f_resolution`` run once; ``method`` runs once per trained method (papermill parameter
``method``). With ``in_place=True`` the executed notebooks are written back over ``notebooks/`` (what is committed).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from colorbench import _atomic as atomic
from colorbench.errors import UserError

NOTEBOOKS = ("overview", "method", "c2f_resolution")
KERNEL = "python3"


def notebooks_dir() -> Path:
    """``notebooks/`` of the source tree (the current directory's first, then beside the package)."""
    for candidate in (Path.cwd() / "notebooks", Path(__file__).resolve().parents[2] / "notebooks"):
        if (candidate / "overview.ipynb").is_file():
            return candidate
    raise UserError("cannot find notebooks/overview.ipynb: run `colorbench report` from the colorbench source tree "
                    "or pass --notebooks DIR")


@dataclass
class Executed:
    """One executed notebook: where its HTML went, how long it took, and the error if a cell failed."""

    name: str
    html: Path | None
    seconds: float
    error: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)


def to_html(nb_path: Path, html_path: Path) -> Path:
    """Export an executed notebook to standalone HTML (inputs and outputs, PNGs embedded)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(nb_path), as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)
    return atomic.write_text(html_path, body)


def execute(source: Path, output: Path, parameters: dict[str, Any], timeout: int = 1800) -> None:
    """Run ``source`` with papermill into ``output`` (the kernel's cwd is the notebook's folder). Raises
    papermill's ``PapermillExecutionError`` naming the failing cell."""
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(str(source), str(output), parameters=parameters, kernel_name=KERNEL,
                        cwd=str(source.parent), progress_bar=False, log_output=False, execution_timeout=timeout)


def run_reports(results_dir: Path, profile: str, out_dir: Path, *, notebooks: Path | None = None,
                methods: Sequence[str] | None = None, resolution_sizes: Sequence[str] | None = None,
                resolution_photos: int | None = None, in_place: bool = False,
                stop_on_error: bool = False) -> list[Executed]:
    """Execute every notebook against ``results_dir/profile``; HTML into ``out_dir``, executed notebooks into
    ``out_dir/ipynb`` (or over the sources with ``in_place``: each notebook keeps its first run). ``methods``
    defaults to every trained non-baseline method in the results; the resolution study runs for every method in
    them that declares inference-time variants (``Method.runtime_variants``)."""
    from colorbench.registry import get_method, list_methods
    from colorbench.report.load import load_results
    from colorbench.report.tables import baseline_methods

    results = load_results(results_dir, profile)  # UserError "run `make bench` first" when empty
    src = notebooks or notebooks_dir()
    base = {"results_dir": str(Path(results_dir).resolve()), "profile": profile}
    variants: dict[str, str] = {}
    for d in results.datasets.values():
        ok = d.metrics[d.metrics["status"] == "ok"] if "status" in d.metrics else d.metrics
        for m, v in zip(ok["method"], ok["variant"]):
            if v == "default" or m not in variants:  # the default variant when there is one
                variants[m] = v
    if methods is None:
        methods = [m for m in variants if m not in baseline_methods()]
    jobs: list[tuple[str, str, dict[str, Any]]] = [("overview", "overview", {})]
    jobs += [("method", f"method-{m}", {"method": m, "variant": variants.get(m, "default")})
             for m in dict.fromkeys(methods)]
    study: dict[str, Any] = {}
    if resolution_sizes:
        study["sizes"] = list(resolution_sizes)
    if resolution_photos:
        study["photos"] = int(resolution_photos)
    registered = set(list_methods())
    jobs += [("resolution", f"resolution-{m}", {"method": m, **study}) for m in variants
             if m in registered and get_method(m).runtime_variants]
    done: list[Executed] = []
    kept_in_place: set[str] = set()
    for nb, out_name, params in jobs:
        t0 = time.perf_counter()
        executed = out_dir / "ipynb" / f"{out_name}.ipynb"
        try:
            execute(src / f"{nb}.ipynb", executed, base | params)
            html = to_html(executed, out_dir / f"{out_name}.html")
            if in_place and nb not in kept_in_place:
                _strip_into(executed, src / f"{nb}.ipynb", base | params)
                kept_in_place.add(nb)
            done.append(Executed(out_name, html, time.perf_counter() - t0, parameters=params))
        except Exception as exc:  # a failing cell: report it, go on with the others
            if stop_on_error:
                raise
            first = str(exc).strip().splitlines()
            done.append(Executed(out_name, None, time.perf_counter() - t0, " ".join(first[:3])[:400], params))
    return done


def _strip_into(executed: Path, target: Path, params: dict[str, Any]) -> None:
    """Copy an executed notebook over the committed one, dropping papermill's machine-specific injected cell and
    metadata so the committed file does not carry this machine's paths; the parameters cell is set to the values
    the outputs were made with (except ``results_dir``, which stays relative)."""
    import json
    import re

    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    for c in nb.cells:
        if "parameters" in c.get("metadata", {}).get("tags", []):
            for key, value in params.items():
                if key != "results_dir":
                    c.source = re.sub(rf"^{re.escape(key)} = .*$", f"{key} = {json.dumps(value)}", c.source,
                                      flags=re.M)
    nb.metadata.pop("papermill", None)
    for c in nb.cells:
        c.metadata.pop("papermill", None)
        c.metadata.pop("execution", None)
    text = nbformat.writes(nb)
    atomic.write_text(target, text if text.endswith("\n") else text + "\n")  # what nbformat.write writes, whole
