"""``colorbench list methods|datasets|metrics``: what is registered, with one-line descriptions and sources.

Everything printed comes from declarations: the method registry (name, description, source, variants), the data
layer's :func:`colorbench.data.list_datasets`, and the evaluator's ``colorbench.metrics.METRICS`` table (read only
if the evaluator is installed). Method files that failed to import are listed with their error.
"""
from __future__ import annotations

import argparse
import importlib
import shutil
import textwrap
from typing import Any, Iterable

HELP = "list the registered methods, datasets or metrics, with descriptions and sources"
KINDS = ("methods", "datasets", "metrics")
EXAMPLES = """examples:
  colorbench list
  colorbench list methods
  colorbench list datasets
  colorbench list metrics"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", nargs="?", choices=(*KINDS, "all"), default="all",
                        help="which table to print")


def _block(name: str, first: str, details: Iterable[tuple[str, str]], width: int, indent: int) -> str:
    """``name  first line`` then ``key: value`` lines, wrapped to ``width`` and indented under the description."""
    pad = " " * indent
    lines = textwrap.wrap(first, width=max(40, width - indent)) or [""]
    out = [f"{name:<{indent - 2}}  {lines[0]}"] + [pad + line for line in lines[1:]]
    for key, value in details:
        out += textwrap.wrap(f"{key}: {value}", width=max(40, width), initial_indent=pad, subsequent_indent=pad + "  ")
    return "\n".join(out)


def format_methods(width: int) -> str:
    from colorbench import registry
    from colorbench.config import build_config

    names = registry.list_methods()
    indent = max([len(n) for n in names] + [8]) + 2
    blocks = []
    for name in names:
        cls = registry.get_method(name)
        details = [("source", cls.source), ("variants", ", ".join(cls.variants) or "default")]
        needing = [v for v in cls.variants if cls.labels_needed(build_config(cls, {}, v))]
        if needing:
            which = "" if len(needing) == len(cls.variants) else f" (variants {', '.join(needing)})"
            details.append(("needs", "class labels" + which))
        blocks.append(_block(name, cls.description, details, width, indent))
    text = "\n".join(blocks) if blocks else "(no methods registered yet)"
    errors = registry.load_errors()
    if errors:
        failed = "\n".join(f"  {where}: {err}" for where, err in errors.items())
        text += "\n\nmethod files that failed to load:\n" + failed
    return text


def format_datasets(width: int) -> str:
    from colorbench.data import list_datasets

    infos = list_datasets()
    indent = max(len(i.name) for i in infos) + 2
    return "\n".join(_block(i.name, i.description, [("source", i.source), ("size", i.size)], width, indent)
                     for i in infos)


def _metric_fields(spec: Any) -> tuple[str, str, str]:
    """(direction, unit, description) of one ``METRICS`` entry: a mapping, an object with attributes, or a tuple."""
    if isinstance(spec, dict):
        get = spec.get
    elif isinstance(spec, (tuple, list)):
        values = dict(zip(("direction", "unit", "description"), spec))
        get = values.get
    else:
        def get(key, default=None):
            return getattr(spec, key, default)
    direction = get("direction", "") or get("goal", "") or ""
    if not direction and get("higher_is_better", None) is not None:
        direction = "higher" if get("higher_is_better") else "lower"
    return str(direction), str(get("unit", "") or ""), str(get("description", "") or "")


def format_metrics(width: int) -> str:
    try:
        metrics = importlib.import_module("colorbench.metrics")
    except ModuleNotFoundError as exc:
        if exc.name != "colorbench.metrics":
            raise
        return "(evaluator not installed: colorbench.metrics is missing)"
    table = getattr(metrics, "METRICS", {})
    if not table:
        return "(no metrics declared)"
    indent = max(len(n) for n in table) + 2
    blocks = []
    for name, spec in table.items():
        direction, unit, description = _metric_fields(spec)
        arrow = {"higher": "↑ higher is better", "lower": "↓ lower is better",
                 "truth": "→ closest to the ground truth's figure"}.get(direction.lower(), direction)
        details = [(k, v) for k, v in (("better", arrow), ("unit", unit)) if v] + _declared(name, spec, metrics)
        blocks.append(_block(name, description, details, width, indent))
    groups = getattr(metrics, "GROUPS", {})
    if groups:
        blocks.append("\ngroups for --metrics (weight-free figures are always computed):")
        blocks += [_block(g, ", ".join(names), [], width, indent) for g, names in groups.items() if g != "all"]
    return "\n".join(blocks)


def _declared(name: str, spec: Any, metrics: Any) -> list[tuple[str, str]]:
    """How a :class:`~colorbench.metrics.MetricInfo` row is computed: per image or pooled, the feature extractor,
    the weight files it needs (and the command that fetches them), the groups that include it, its source."""
    if not hasattr(spec, "per_image") or not hasattr(spec, "weights"):
        return []
    out = [("computed", "per image, averaged" if spec.per_image else f"pooled over the test set ({spec.pooled})")]
    if spec.extractor:
        out.append(("features", spec.extractor))
    if spec.weights:
        out.append(("needs weights", f"{', '.join(spec.weights)} (colorbench weights fetch {' '.join(spec.weights)});"
                    " computed only when asked for (--metrics)"))
    groups = [g for g, names in getattr(metrics, "GROUPS", {}).items() if name in names and g != "all"]
    if groups:
        out.append(("groups", ", ".join(groups)))
    if spec.source:
        out.append(("source", spec.source))
    return out


def run(args: argparse.Namespace) -> int:
    width = min(shutil.get_terminal_size((100, 24)).columns, 120)
    kinds = KINDS if args.what == "all" else (args.what,)
    formatters = {"methods": format_methods, "datasets": format_datasets, "metrics": format_metrics}
    parts = []
    for kind in kinds:
        text = formatters[kind](width)
        parts.append(f"== {kind} ==\n{text}" if len(kinds) > 1 else text)
    print("\n\n".join(parts))
    return 0
