"""Benchmarks are scripts, not modules of the package: the tests load them by path, once each."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(script: str) -> ModuleType:
    """``benchmarks/<script>.py`` as a module (registered in ``sys.modules`` so its dataclasses work)."""
    name = f"liveavatar_{script}"
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_benchmark():
    return _load
