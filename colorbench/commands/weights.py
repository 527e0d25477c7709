"""``colorbench weights list|fetch``: which pretrained backbones are on disk, and downloading them.

``list`` reads the table in :mod:`colorbench.pretrained` and the caches (no network). ``fetch`` is the only code in
colorbench that downloads weights: torchvision files into the torch hub cache (``$TORCH_HOME/hub/checkpoints``, name
hash checked), timm/smp files into the Hugging Face cache through ``huggingface_hub``. It first checks in a few seconds
that the host can be reached, so a machine without a network gets a clear error at once instead of a hang.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from colorbench import pretrained as pt
from colorbench.errors import UserError

HELP = ("which pretrained backbones and released colourisers (zoo) are on disk and where each is expected; `fetch` "
        "downloads them (needs a network)")
EXAMPLES = """examples:
  colorbench weights list
  colorbench weights fetch resnet18 vgg16
  colorbench weights fetch cic:eccv16          # a released colouriser (zoo name METHOD:ENTRY)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "fetch"], help="list: show the table; fetch: download")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"backbones ({', '.join(pt.BACKBONES)}) or zoo names METHOD:ENTRY (default: all)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the network per request")


def run(args: argparse.Namespace) -> int:
    names = args.names or [*pt.BACKBONES, *pt.zoo_entries()]
    for n in names:  # unknown names fail before any work
        pt.get_zoo(n) if ":" in n else pt.get_backbone(n)
    if args.action == "list":
        backbones = [n for n in names if ":" not in n]
        zoo = [n for n in names if ":" in n]
        print("\n".join(t for t in (backbones and format_table(backbones), zoo and format_zoo(zoo)) if t))
        return 0
    for n in names:
        path = fetch_zoo(n, timeout=args.timeout) if ":" in n else fetch(n, timeout=args.timeout)
        print(f"{n}: {path}")
    return 0


def format_zoo(names: list[str]) -> str:
    """One line per released colouriser: zoo name, on disk?, licence, path (found or expected) and source URL."""
    rows = [("released model", "on disk", "licence", "path (found, or where it is expected)", "url")]
    for n in names:
        e, path = pt.get_zoo(n), pt.zoo_path(n)
        rows.append((n, "yes" if path.is_file() else "no", e.licence, str(path), e.url))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(f"{c:<{w}}" for c, w in zip(r[:4], widths)) + f"  {r[4]}" for r in rows)


def fetch_zoo(name: str, timeout: float = 10.0) -> Path:
    """Download zoo entry ``name``'s released file into the torch hub cache (a no-op when there); its sha256 is
    checked against the entry's, or recorded beside it on first download (``pretrained.checked_sha256``)."""
    entry, path = pt.get_zoo(name), pt.zoo_path(name)
    if not path.is_file():
        check_reachable(entry.url, timeout)
        _download(entry.url, path, timeout)
    pt.checked_sha256(entry, path)
    return path


def format_table(names: list[str]) -> str:
    """One line per backbone: name, on disk?, used by, and the path found or expected."""
    rows = [("backbone", "on disk", "used by", "path (found, or where it is expected)")]
    for n in names:
        found = pt.resolve_weights(n)
        rows.append((n, "yes" if found else "no", ", ".join(pt.used_by(n)), str(found or pt.expected_paths(n)[0])))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows)


def check_reachable(url: str, timeout: float) -> None:
    """Raise :class:`UserError` within about ``timeout`` seconds if ``url``'s host cannot be reached."""
    import concurrent.futures
    import socket
    import urllib.parse

    host = urllib.parse.urlparse(url).hostname or url
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        future = pool.submit(lambda: socket.create_connection((host, 443), timeout=timeout).close())
        future.result(timeout=timeout + 1)  # name resolution is not covered by the socket timeout
    except Exception as exc:
        reason = "timed out" if isinstance(exc, concurrent.futures.TimeoutError) else str(exc) or type(exc).__name__
        raise UserError(f"cannot reach {host} ({reason}): this machine has no network for downloads. Run "
                        "`colorbench weights fetch` where there is one and copy the files to the paths "
                        "`colorbench weights list` shows") from None
    finally:
        pool.shutdown(wait=False)


def _download(url: str, dest: Path, timeout: float, sha256: str = "", name_hash: bool = True) -> Path:
    """Stream ``url`` into ``dest`` atomically and check it: against ``sha256`` when given, else (``name_hash``)
    a torchvision-style ``name-<sha256 prefix>.pth``; with neither, the digest is recorded in ``<dest>.sha256`` so
    later loads can check the file (:func:`colorbench.pretrained.verify`)."""
    import hashlib
    import urllib.request

    from colorbench import _atomic as atomic

    digest = hashlib.sha256()
    expected = dest.stem.rsplit("-", 1)[-1] if "-" in dest.stem and name_hash else ""
    with atomic.writing(dest) as tmp:  # a failed or corrupt download leaves nothing behind
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if sha256 and digest.hexdigest() != sha256:
            raise UserError(f"{url}: downloaded file's sha256 {digest.hexdigest()[:12]}… is not {sha256[:12]}…; "
                            "the download is corrupt or the file changed upstream, run the command again")
        if not sha256 and len(expected) >= 8 and all(c in "0123456789abcdef" for c in expected):
            if not digest.hexdigest().startswith(expected):
                raise UserError(f"{url}: downloaded file's sha256 {digest.hexdigest()[:12]} does not start with "
                                f"{expected}; the download is corrupt, run the command again")
        elif not sha256:
            atomic.write_text(dest.with_name(dest.name + ".sha256"), f"{digest.hexdigest()}  {dest.name}\n")
    return dest


def fetch(name: str, timeout: float = 10.0) -> Path:
    """Download ``name``'s weights into the standard cache (a no-op when already there); returns the file."""
    found = pt.resolve_weights(name)
    if found is not None:
        return found
    b = pt.get_backbone(name)
    if b.url and b.torch_files and not (b.library == "timm" and b.hf_repo):  # timm weights: the HF cache first
        check_reachable(b.url, timeout)
        return _download(b.url, pt.torch_hub_dir() / b.torch_files[0], timeout, b.sha256,
                         name_hash=b.library == "torchvision")
    assert b.hf_repo, f"backbone {name} has neither a url nor a hub repository"
    check_reachable("https://huggingface.co", timeout)
    import huggingface_hub

    if huggingface_hub.constants.HF_HUB_OFFLINE:
        raise UserError("HF_HUB_OFFLINE is set: unset it (`env -u HF_HUB_OFFLINE colorbench weights fetch ...`) "
                        f"to download {b.hf_repo}")
    return Path(huggingface_hub.hf_hub_download(b.hf_repo, b.hf_file, revision=b.hf_revision,
                                                cache_dir=pt.hf_cache_dir(), etag_timeout=timeout))
