"""The command line answers ``--help`` without torch: every help page names its defaults and shows an example."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from colorbench import cli

pytestmark = pytest.mark.timeout(120)


def _parsers() -> dict[str, argparse.ArgumentParser]:
    """Every help page: ``colorbench``, each sub-command and each sub-command's own sub-commands (study)."""
    pages, todo = {}, [("colorbench", cli.build_parser())]
    while todo:
        prog, parser = todo.pop()
        pages[prog] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo += [(f"{prog} {name}", p) for name, p in action.choices.items()]
    return pages


PAGES = _parsers()


def test_every_command_module_and_its_pages_are_listed():
    assert set(cli.COMMANDS) <= {p.split()[1] for p in PAGES if p != "colorbench"}
    assert {"colorbench study create", "colorbench study serve", "colorbench study report",
            "colorbench check-method"} <= set(PAGES)


@pytest.mark.parametrize("prog", sorted(PAGES))
def test_every_help_page_has_an_example(prog):
    page = PAGES[prog].format_help()
    assert "examples:\n  colorbench " in page or "example:\n  colorbench " in page, f"`{prog} --help` has no example"
    name = prog.split()[1] if prog != "colorbench" else ""
    assert all(line.strip().startswith(("colorbench", "COLORBENCH_", "python", "torchrun", "#"))
               for line in page.split("example")[-1].splitlines()[1:] if line.strip()), page
    assert name in page.split("example")[-1]


@pytest.mark.parametrize("prog", sorted(PAGES))
def test_every_option_has_help_and_states_its_default(prog):
    parser = PAGES[prog]
    formatter = parser._get_formatter()
    one_of = {a for g in parser._mutually_exclusive_groups if g.required for a in g._group_actions}
    silent = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help, f"`{prog} --help`: {name} has no help text"
        text = formatter._get_help_string(action) % {**vars(action), "default": action.default}
        flag = isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))
        required = action.required or action in one_of or (not action.option_strings and action.nargs in (None, "+"))
        if not (flag or required) and "default" not in text.lower():
            silent.append(f"{name}: {text!r}")
    assert not silent, f"`{prog} --help`: options that do not say their default: {silent}"


SUBPROCESS = """
import json, sys
from colorbench import cli
pages = {pages!r}
loaded = {{}}
for argv in pages:
    try:
        cli.main(argv + ["--help"])
    except SystemExit:
        pass
    loaded[" ".join(argv)] = sorted(m for m in ("torch", "numpy", "PIL", "pandas") if m in sys.modules)
print(json.dumps(loaded))
"""


def test_help_pages_leave_torch_unimported():
    """Every `--help` in a fresh interpreter, checked through sys.modules (not timed: tests/perf times it)."""
    pages = [p.split()[1:] for p in PAGES]
    out = subprocess.run([sys.executable, "-c", SUBPROCESS.format(pages=pages)], capture_output=True, text=True,
                         check=True).stdout
    loaded = json.loads(out.splitlines()[-1])
    assert len(loaded) == len(PAGES)
    assert all(not mods for mods in loaded.values()), {k: v for k, v in loaded.items() if v}


def test_the_console_script_answers_help_without_torch():
    code = ("import runpy, sys; sys.argv = ['colorbench', '--help']\ntry:\n"
            "    runpy.run_module('colorbench.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "check-method" in out and out.strip().endswith("False")
