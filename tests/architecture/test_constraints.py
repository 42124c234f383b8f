"""Reproducible installs: constraints.txt pins every Python package ``make install`` installs.

setup.cfg says which ranges the code works with; constraints.txt says which releases a machine gets, so
a fresh ``make test`` next month installs what passed today. ``make lock`` rewrites it (CONTRIBUTING.md).
"""
from __future__ import annotations

import configparser
import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.+!_-]+)", line)
        assert match, f"constraints.txt: 「{line}」 is not name==version"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"constraints.txt pins {name} twice"
        pins[name] = match.group(2)
    return pins


def _requirements() -> list[Requirement]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = config["options"]["install_requires"].splitlines() + config["options.extras_require"]["dev"].splitlines()
    return [Requirement(line) for line in (raw.strip() for raw in lines) if line and not line.startswith("#")]


def test_every_requirement_is_pinned_within_its_range():
    pins = _pins()
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} (setup.cfg) is not pinned in constraints.txt: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), \
            f"constraints.txt pins {name}=={pins[name]}, outside setup.cfg's {requirement}: run `make lock`"


def test_the_pins_are_what_is_installed():
    # The Makefile installs with -c constraints.txt and reinstalls when the file changes; a pin that
    # differs from the environment means the install did not use it.
    for name, version in _pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            raise AssertionError(f"constraints.txt pins {name}, which is not installed: run `make install`") from None
        assert installed == version, f"{name}: installed {installed}, constraints.txt pins {version}"


def test_the_makefile_installs_with_the_constraints():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installs = [line for line in makefile.splitlines() if "$(BIN)/python -m pip install" in line]
    assert installs and all("-c constraints.txt" in line for line in installs)
    stamp = next(line for line in makefile.splitlines() if line.startswith("$(STAMP):"))
    assert "constraints.txt" in stamp  # a changed pin reinstalls
    assert re.search(r"^lock:", makefile, re.MULTILINE)
