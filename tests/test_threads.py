"""colorbench._threads.cpu_map: the single-threaded window it opens is shared by concurrent callers and the thread
count is restored afterwards; the Lab layer's CPU path gives the same numbers on 1 and 2 threads."""
from __future__ import annotations

import threading

import torch

from colorbench._threads import cpu_map
from colorbench.color import lab_to_rgb, rgb_to_lab


def _with_threads(n: int, fn):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn()
    finally:
        torch.set_num_threads(before)


def test_cpu_map_keeps_order_and_restores_the_thread_count():
    def run():
        inside = cpu_map(lambda i: (i * i, torch.get_num_threads()), range(7))
        return inside, torch.get_num_threads()

    inside, after = _with_threads(2, run)
    assert [v for v, _ in inside] == [i * i for i in range(7)]
    assert all(t == 1 for _, t in inside)  # ops inside run single-threaded
    assert after == 2


def test_overlapping_callers_restore_the_first_thread_count(monkeypatch):
    """A enters, B enters while A is inside, A leaves, B leaves: B must not restore the 1 it saw inside A's window.
    torch's thread count is modelled as one process-wide value (what torch reports across Python threads once
    it is set; whether a fresh thread inherits it depends on OpenMP state, so the test does not rely on torch's)."""
    setting = {"threads": 2}
    monkeypatch.setattr(torch, "get_num_threads", lambda: setting["threads"])
    monkeypatch.setattr(torch, "set_num_threads", lambda n: setting.update(threads=n))
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def a():
        cpu_map(lambda _: (a_in.set(), b_in.wait(10)), [0])
        a_out.set()

    def b():
        a_in.wait(10)
        cpu_map(lambda _: (seen.append(setting["threads"]), b_in.set(), a_out.wait(10)), [0])

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert a_out.is_set() and seen == [1]  # the windows did overlap, single-threaded inside
    assert setting["threads"] == 2


def test_lab_layer_equal_on_one_and_two_threads():
    x = torch.rand(3, 3, 300, 257, generator=torch.Generator().manual_seed(1))
    one = _with_threads(1, lambda: (rgb_to_lab(x), lab_to_rgb(rgb_to_lab(x))))
    two = _with_threads(2, lambda: (rgb_to_lab(x), lab_to_rgb(rgb_to_lab(x))))
    assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])
