"""Speed options: what each device can use, and the reason when it can't."""

from __future__ import annotations

import shutil

import pytest

from liveavatar.speed import ATTENTION_KERNELS, SpeedOptions, sdpa_backends


def test_everything_off_by_default_and_the_low_memory_path():
    assert SpeedOptions().enabled() == []
    assert SpeedOptions.low_memory().enabled() == ["fp8", "text_encoder_on_cpu"]
    assert SpeedOptions(fp8=True).load_key() != SpeedOptions().load_key()
    assert SpeedOptions(static_kv=True).load_key() == SpeedOptions().load_key()  # a run-time option: no reload


def test_gpu_only_options_are_turned_off_on_a_cpu_with_the_reason():
    opts = SpeedOptions(cuda_graphs=True, attention="cudnn", static_kv=True, overlap_decode=True, text_encoder_on_cpu=True)
    usable, why = opts.usable_on("cpu")
    assert not usable.cuda_graphs and usable.attention == "auto"
    assert usable.static_kv and usable.overlap_decode  # these run anywhere
    assert "CUDA graphs are off: they need a CUDA GPU." in why
    assert any("cudnn attention kernel is off (torch's cudnn kernel runs on CUDA GPUs only)" in w for w in why)


def test_compile_without_a_c_compiler_says_what_to_install(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    usable, why = SpeedOptions(torch_compile=True).usable_on("cpu")
    assert not usable.torch_compile
    assert why == ["torch.compile is off: no C compiler was found (install gcc) for torch's CPU code generation."]


def test_fp8_and_flash_run_on_a_cpu():
    usable, why = SpeedOptions(fp8=True, attention="flash").usable_on("cpu")
    assert usable.fp8 and usable.attention == "flash" and why == []


@pytest.mark.parametrize("kernel", ATTENTION_KERNELS)
def test_every_kernel_name_maps_to_torch_backends(kernel):
    assert sdpa_backends(kernel)
