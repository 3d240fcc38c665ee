"""Helpers for the test suite and the benchmarks: synthetic inputs made in code, no files needed.

They live in the package, not in ``tests/``, because pytest runs with ``--import-mode=importlib``,
under which one test module cannot import another. Nothing in the app imports this package.
"""
