"""``benchmarks/gpu_check.py``: its CPU smoke mode prints the table, and any failure makes the exit code non-zero."""

import sys

import pytest
import torch


@pytest.fixture(scope="module")
def check(load_benchmark):
    return load_benchmark("gpu_check")


@pytest.fixture()
def one_thread():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


SMOKE = ["--allow-cpu", "--presets", "quick", "--frames", "12", "--clips", "1", "--threads", "1", "--correctness", "fp8"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU smoke run; on a GPU run the check itself")
def test_without_cuda_it_fails_unless_allowed(check, capsys):
    assert check.main(["--rows", "plain bf16"]) == 2
    assert "CUDA is not available" in capsys.readouterr().out


def test_smoke_run_prints_the_table_and_passes(check, capsys, one_thread):
    assert check.main([*SMOKE, "--rows", "plain bf16"]) == 0
    out = capsys.readouterr().out
    header = "| " + " | ".join(check.COLUMNS) + " |"
    assert header in out
    for col in ("s/step/block", "fps", "first clip s", "peak GB", "% peak FLOP/s"):
        assert col in header
    row = next(line for line in out.splitlines() if line.startswith("| quick | plain bf16 |"))
    assert len(row.strip("|").split(" | ")) == len(check.COLUMNS) and "ok" in row
    assert "correctness: FP8 vs bf16: relative error of one block's output" in out
    assert "elapsed:" in out and "gpu_check passed" in out


def test_a_failing_row_makes_the_exit_code_non_zero(check, capsys, monkeypatch, one_thread):
    def broken(*a, **k):
        raise RuntimeError("the streamed path is not wired in")

    monkeypatch.setattr(check.ps, "run_row", broken)
    assert check.main([*SMOKE, "--rows", "plain bf16", "--correctness", "none"]) == 1
    out = capsys.readouterr().out
    assert "FAILED: RuntimeError: the streamed path is not wired in" in out
    assert "gpu_check FAILED (1):" in out


def test_unavailable_options_fail_loudly(check, capsys, monkeypatch, one_thread):
    def missing():
        raise AttributeError("type object 'SpeedOptions' has no attribute 'card_24gb'")

    monkeypatch.setattr(check, "_option_sets", lambda: [("24 GB path", missing)])
    assert check.main([*SMOKE, "--rows", "24 GB path", "--correctness", "none"]) == 1
    assert "options unavailable: AttributeError" in capsys.readouterr().out
