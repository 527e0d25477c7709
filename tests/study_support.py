"""Shared by the study tests: two tiny methods, small studies made from scikit-image's bundled photos, and a
``colorbench study serve`` subprocess on loopback.

Not a test module (no ``test_`` prefix).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import numpy as np
import torch
from skimage import data as skdata

from colorbench.method import Method
from colorbench.study.create import create_study
from colorbench.study.manifest import Manifest

METHOD_NAMES = ("pix2pix", "gorriz")  # labels a leak test greps for; the methods themselves are stand-ins


@dataclasses.dataclass
class NoConfig:
    pass


class GreyMethod(Method):
    """Predicts ab = 0: a grey image with the true L."""

    Config = NoConfig
    name = "grey-test"

    def predict(self, L: torch.Tensor) -> torch.Tensor:
        return torch.zeros(L.shape[0], 2, *L.shape[-2:])


class WarmMethod(Method):
    """Predicts a constant warm tint (a = 10, b = 25 in Lab units)."""

    Config = NoConfig
    name = "warm-test"

    def predict(self, L: torch.Tensor) -> torch.Tensor:
        ab = torch.tensor([10.0, 25.0]).view(1, 2, 1, 1) / 110.0
        return ab.expand(L.shape[0], 2, *L.shape[-2:]).clone()


def photo_crops(n: int, size: int = 48) -> list[tuple[str, torch.Tensor]]:
    """``n`` distinct ``size``×``size`` crops of scikit-image's bundled colour photos:
    ``[(name, rgb [3,s,s] in [0,1])]``."""
    sources = {"astronaut": skdata.astronaut(), "coffee": skdata.coffee(), "chelsea": skdata.chelsea(),
               "rocket": skdata.rocket()}
    out = []
    k = 0
    while len(out) < n:
        for name, img in sources.items():
            h, w = img.shape[:2]
            y = (k * 97) % (h - size)
            x = (k * 131) % (w - size)
            crop = torch.from_numpy(np.ascontiguousarray(img[y:y + size, x:x + size])).permute(2, 0, 1).float() / 255.0
            out.append((f"{name}-{k}", crop))
            if len(out) == n:
                break
        k += 1
    return out


def make_study(root: Path, n_photos: int = 12, per_participant: int = 9, size: int | str = 32,
               crop: int = 40, n_methods: int = 2) -> Manifest:
    """A study of ``n_photos`` crops, ground truth + ``n_methods`` (1 or 2) stand-in methods labelled with real
    method names."""
    methods = dict(list({METHOD_NAMES[0]: WarmMethod(), METHOD_NAMES[1]: GreyMethod()}.items())[:n_methods])
    return create_study(root, methods, photo_crops(n_photos, crop), seed=0, size=size, per_participant=per_participant)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(study_dir: Path, *extra: str, port: int | None = None,
           open_enrolment: bool = True) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python -m colorbench.study serve study_dir`` (= ``colorbench study serve`` without importing torch) in a
    subprocess on 127.0.0.1, with ``--open`` (no invitations) unless ``open_enrolment`` is False; yields (base URL,
    process); stops it."""
    port = port or free_port()
    extra = ("--open", *extra) if open_enrolment else extra
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "colorbench.study", "serve", str(study_dir), "--port", str(port),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}: {proc.stdout.read()}")
            try:
                if httpx.get(base + "/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start within 60 s")
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout:
            proc.stdout.close()


def organiser_url(proc: subprocess.Popen) -> str:
    """The organiser line the server printed at start (reads stdout up to it)."""
    for line in proc.stdout:
        if "organiser progress:" in line:
            return line.split("organiser progress:", 1)[1].strip()
    raise RuntimeError("the server printed no organiser URL")
