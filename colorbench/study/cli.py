"""``colorbench study create|invite|serve|report`` and ``python -m colorbench.study``: the human perceptual study's
command (parser and run; see :mod:`colorbench.study`)."""
from __future__ import annotations

import argparse
import errno
import secrets
import socket
from pathlib import Path

from colorbench._help import HelpFormatter
from colorbench.errors import UserError

HELP = ("the human perceptual study: create images + manifest, invite participants, serve the web page (answers in "
        "SQLite), report")
EXAMPLES = """examples:
  colorbench study create --from-results results/quick/openphotos --out study/
  colorbench study invite study/ -n 20 --url http://lab-pc:8765/ > invitations.txt
  colorbench study serve study/ --port 8765 --host 0.0.0.0
  colorbench study report study/ --simulate 40"""
DEFAULT_URL = "http://127.0.0.1:8765/"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="study_command", metavar="create|invite|serve|report")
    c = sub.add_parser("create", help="pick test photos, render each method's colourisation, write the manifest",
                       formatter_class=HelpFormatter, epilog="examples:\n"
                       "  colorbench study create --from-results results/quick/openphotos --out study/\n"
                       "  colorbench study create --checkpoints runs/pix2pix-default-sample-s0 "
                       "runs/c2f-default-sample-s0 --out study/ --n-images 20")
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-results", metavar="DIR", help="a bench folder, e.g. results/quick/openphotos (its "
                     "metrics.csv names one checkpoint per method and variant)")
    src.add_argument("--checkpoints", nargs="+", metavar="CKPT", help="checkpoints to compare")
    c.add_argument("--dataset", default=None, help="test photos from this dataset (default: the results' dataset, "
                   "or openphotos, the embedded photos; 'sample': square crops of its photos' held-out rows)")
    c.add_argument("--out", required=True, help="new study folder")
    c.add_argument("--n-images", type=int, default=None, help="photos to draw (default: all)")
    c.add_argument("--seed", type=int, default=0, help="seed of the photo draw and of each participant's order")
    c.add_argument("--size", default="256", help="display size: long side in px (the page shows it at 256 px or "
                   "more), or 'original'")
    c.add_argument("--per-participant", type=int, default=None, help="trials per participant (default min(50, photos))")
    c.set_defaults(_study=_create)

    i = sub.add_parser("invite", help="issue invitation links (one participant each); print one per line",
                       formatter_class=HelpFormatter, epilog="examples:\n"
                       "  colorbench study invite study/ -n 20 --url http://lab-pc:8765/ > invitations.txt\n"
                       "  colorbench study invite study/ -n 1    # one more link, for http://127.0.0.1:8765/")
    i.add_argument("dir", metavar="DIR", help="study folder made by `colorbench study create`")
    i.add_argument("-n", type=int, default=1, metavar="N", help="invitations to issue (default: 1)")
    i.add_argument("--url", default=DEFAULT_URL, help="the address participants reach `study serve` at (default: "
                   f"{DEFAULT_URL}); the links are URL?invite=CODE")
    i.set_defaults(_study=_invite)

    s = sub.add_parser("serve", help="serve the study page; answers go to DIR/answers.sqlite",
                       formatter_class=HelpFormatter, epilog="examples:\n"
                       "  colorbench study invite study/ -n 20 --url http://lab-pc:9000/ > invitations.txt\n"
                       "  colorbench study serve study/ --protocol pair --port 9000 --host 0.0.0.0\n"
                       "  colorbench study serve study/ --open    # supervised, on this machine: no invitations")
    s.add_argument("dir", metavar="DIR", help="study folder made by `colorbench study create`")
    s.add_argument("--host", default="127.0.0.1", help="bind address; 0.0.0.0 exposes the study to your network")
    s.add_argument("--port", type=int, default=8765, help="TCP port the page is served on, 1-65535")
    s.add_argument("--protocol", choices=["single", "pair"], default="single",
                   help="single: real or colourised; pair: which of two is real (2AFC)")
    s.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help="hide each image after S seconds (default: no limit)")
    s.add_argument("--max-participants", type=int, default=None, metavar="N",
                   help="participants the protocol takes (default: one per photo and condition of the schedule)")
    s.add_argument("--open", action="store_true", help="anyone who opens the page may take part, without an "
                   "invitation; only with a loopback --host (a supervised session on this machine)")
    s.set_defaults(_study=_serve)

    r = sub.add_parser("report", help="naturalness with 95%% Wilson intervals, fool rate; study.md/.csv/.png",
                       formatter_class=HelpFormatter, epilog="examples:\n  colorbench study report study/\n"
                       "  colorbench study report study/ --simulate 40 --bias ground_truth=0.85,pix2pix=0.5")
    r.add_argument("dir", metavar="DIR", help="study folder (its answers.sqlite holds the answers)")
    r.add_argument("--out", default=None, help="folder for study.md/.csv/.png (default: the study folder)")
    r.add_argument("--simulate", type=int, default=0, metavar="K",
                   help="add K synthetic participants per protocol with a known bias (written to DIR/simulated.sqlite)")
    r.add_argument("--simulate-protocols", default="single,pair", help="protocols the synthetic participants use")
    r.add_argument("--bias", default=None, help="simulated P(judged real), e.g. ground_truth=0.85,pix2pix=0.5 "
                   "(default: ground truth 0.85, methods 0.6 down to 0.2)")
    r.add_argument("--seed", type=int, default=0, help="seed of the simulation")
    r.set_defaults(_study=_report)


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "_study", None):
        raise UserError("say what to do: `colorbench study create|invite|serve|report` (see --help)")
    return args._study(args)


def _create(args: argparse.Namespace) -> int:
    from colorbench.study import create

    size = args.size
    if size != "original" and (not size.isdigit() or int(size) < 8):
        raise UserError(f"--size must be a number of pixels (>= 8) or 'original', got {size!r}")
    create.prepare_out(args.out, make=False)  # a file, a read-only disk: refused before any checkpoint is loaded
    if args.from_results:
        methods, sources, dataset = create.methods_from_results(args.from_results)
    else:
        methods, sources = create.methods_from_checkpoints(args.checkpoints)
        dataset = "openphotos"
    dataset = args.dataset or dataset
    photos = create.test_photos(dataset, size, args.seed)
    for label in sources:
        sources[label]["dataset"] = dataset
    m = create.create_study(args.out, methods, photos, n_images=args.n_images, seed=args.seed, size=size,
                            per_participant=args.per_participant, sources=sources)
    n_img = len(m.photos) * len(m.conditions)
    print(f"study {m.study_id}: {len(m.photos)} photos x {len(m.conditions)} conditions ({', '.join(m.conditions)}) "
          f"= {n_img} images in {Path(args.out) / 'images'}; {m.per_participant} trials per participant")
    print(f"next: colorbench study serve {args.out}")
    return 0


def _invite(args: argparse.Namespace) -> int:
    import sys
    from urllib.parse import urlsplit

    from colorbench.study.manifest import DATABASE, load_manifest
    from colorbench.study.store import Store

    if args.n < 1:
        raise UserError(f"-n {args.n}: must be at least 1 (invitations to issue)")
    url = urlsplit(args.url)
    if url.scheme not in ("http", "https") or not url.netloc or url.query or url.fragment:
        raise UserError(f"--url {args.url!r}: give the address participants open, e.g. http://lab-pc:8765/ "
                        "(http or https, no query)")
    manifest = load_manifest(args.dir, check_files=False)
    store = Store(Path(args.dir) / DATABASE, manifest.study_id)
    try:
        codes = store.new_invitations(args.n)
        progress = store.progress()
    finally:
        store.close()
    base = args.url if url.path.endswith("/") else args.url + "/"
    for code in codes:
        print(f"{base}?invite={code}")
    print(f"{len(codes)} invitation{'s' * (len(codes) != 1)} issued ({progress['invitations']} in all, "
          f"{progress['invitations_used']} used); send one link to each participant", file=sys.stderr)
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port``; a busy port, a foreign address or a name that does not resolve
    is a one-line :class:`UserError` (before anything is printed or served)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise UserError(f"--host {host}: cannot resolve it ({exc}); give an address such as 127.0.0.1 or 0.0.0.0"
                        ) from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restart over TIME_WAIT
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        busy = exc.errno == errno.EADDRINUSE
        raise UserError(f"cannot listen on {host} port {port}: {exc.strerror or exc}; "
                        + ("another program (or another study server) uses it: stop it or choose another --port, "
                           f"e.g. --port {port + 1 if port < 65535 else 8765}" if busy else
                           "give an address of this machine with --host (127.0.0.1 or 0.0.0.0), or a --port "
                           "above 1023")) from None
    sock.set_inheritable(True)
    return sock


def _serve(args: argparse.Namespace) -> int:
    import math

    if not 1 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: must be a TCP port from 1 to 65535, e.g. --port 8765")
    if args.time_limit is not None and not (math.isfinite(args.time_limit) and args.time_limit > 0):
        raise UserError(f"--time-limit {args.time_limit}: must be a positive number of seconds")
    if args.max_participants is not None and args.max_participants < 1:
        raise UserError(f"--max-participants {args.max_participants}: must be at least 1 (participants the "
                        "protocol takes)")
    if args.open and args.host not in LOOPBACK:
        raise UserError(f"--open with --host {args.host}: anyone who reaches that address could fill the study; "
                        "drop --open and send invitations (`colorbench study invite`), or serve on 127.0.0.1")

    import uvicorn

    from colorbench.study.app import create_app
    from colorbench.study.manifest import DATABASE, load_manifest
    from colorbench.study.service import Study
    from colorbench.study.store import Store

    manifest = load_manifest(args.dir)  # a missing image fails here, before anyone is served
    store = Store(Path(args.dir) / DATABASE, manifest.study_id)
    study = Study(manifest, store, args.protocol, args.time_limit, args.max_participants, open_enrolment=args.open)
    key = secrets.token_urlsafe(16)
    sock = listen(args.host, args.port)  # a busy port fails here, before the URLs are printed
    host = f"[{args.host}]" if ":" in args.host else args.host
    progress = store.progress()
    if args.open:
        print(f"study {manifest.study_id} ({args.protocol}): participants open http://{host}:{args.port}/ "
              "(open: no invitation needed)", flush=True)
    else:
        print(f"study {manifest.study_id} ({args.protocol}): participants open their invitation links "
              f"({progress['invitations'] - progress['invitations_used']} of {progress['invitations']} unused; "
              f"more: colorbench study invite {args.dir} -n N --url http://{host}:{args.port}/)", flush=True)
    print(f"takes up to {study.max_participants} {args.protocol} participants (--max-participants)", flush=True)
    print(f"organiser progress: http://{host}:{args.port}/organiser?key={key}", flush=True)
    if args.host not in LOOPBACK:
        print(f"warning: listening on {args.host}: anyone who can reach this address can see the page; only "
              "invited participants can take part", flush=True)
    config = uvicorn.Config(create_app(study, key), log_level="warning", server_header=False, access_log=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        store.close()
    return 0


def _report(args: argparse.Namespace) -> int:
    from colorbench.study.manifest import load_manifest
    from colorbench.study.report import report
    from colorbench.study.simulate import parse_bias, simulate

    manifest = load_manifest(args.dir, check_files=False)
    simulated, truth = None, None
    if args.simulate:
        if args.simulate < 0:
            raise UserError("--simulate K: K must be >= 0")
        protocols = tuple(p.strip() for p in args.simulate_protocols.split(",") if p.strip())
        bad = [p for p in protocols if p not in ("single", "pair")]
        if bad:
            raise UserError(f"--simulate-protocols: unknown {bad}; use single, pair or both")
        truth = parse_bias(args.bias, manifest)
        store = simulate(manifest, args.simulate, truth, protocols=protocols, seed=args.seed)
        simulated = store.answers()
        store.close()
    rows, md = report(manifest, Path(args.out) if args.out else None, simulated=simulated, truth=truth)
    print(md.read_text())
    print(f"wrote {md}, {md.with_suffix('.csv')}, {md.with_suffix('.png')}")
    return 0
