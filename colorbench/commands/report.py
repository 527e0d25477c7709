"""``colorbench report``: execute the notebooks against a bench profile's results into HTML beside them."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "execute the report notebooks against results/<profile>/ and write HTML into results/<profile>/report/"
EXAMPLES = """examples:
  colorbench report
  colorbench report --profile quick --methods pix2pix c2f --out report-html/"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="results folder (made by `colorbench bench`)")
    parser.add_argument("--profile", default="quick", help="which profile's results to report on")
    parser.add_argument("--out", type=Path, help="HTML folder (default: RESULTS/PROFILE/report)")
    parser.add_argument("--methods", nargs="+", metavar="NAME",
                        help="methods for notebooks/method.ipynb (default: every trained non-baseline method)")
    parser.add_argument("--resolution-sizes", nargs="+", metavar="WxH",
                        help="resolutions of the rebuilt resolution study, e.g. the C2F paper's Table 1 (default: "
                        "the notebook's, 750x500 1500x1000; the paper also has 3000x2000 6000x4000)")
    parser.add_argument("--resolution-photos", type=int, metavar="N",
                        help="held-out test photos per resolution (default: the notebook's)")
    parser.add_argument("--notebooks", type=Path, help="folder holding the .ipynb sources (default: ./notebooks)")
    parser.add_argument("--in-place", action="store_true",
                        help="also write the executed notebooks back over notebooks/ (for committing their outputs)")


def run(args: argparse.Namespace) -> int:
    from colorbench.report.load import profile_folder
    from colorbench.report.notebooks import run_reports

    folder = profile_folder(args.results, args.profile)  # UserError: run `make bench` first
    out = args.out or folder / "report"
    done = run_reports(args.results, args.profile, out, notebooks=args.notebooks, methods=args.methods,
                       resolution_sizes=args.resolution_sizes,
                       resolution_photos=args.resolution_photos, in_place=args.in_place)
    for e in done:
        where = e.html if e.html else f"FAILED: {e.error}"
        print(f"{e.name:<28} {e.seconds:7.1f} s  {where}")
    total = sum(e.seconds for e in done)
    failed = [e for e in done if e.error]
    print(f"{len(done) - len(failed)} of {len(done)} notebooks written in {total:.1f} s")
    return 1 if failed else 0
