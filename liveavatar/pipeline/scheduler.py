"""The distilled sampler's noise schedule: flow-matching Euler with shift 3.

Live Avatar's single-GPU and TPP pipelines (``liveavatar/models/wan/causal_s2v_pipeline.py``,
``causal_s2v_pipeline_tpp.py``) build ``FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000,
shift=3)`` for ``sample_solver='euler'`` and call plain ``set_timesteps(sampling_steps)``: there is no
custom timestep list, so neither is there one here. The LoRA was distilled (Self-Forcing / DMD) to
denoise in 4 such steps (``--sample_steps 4``); with shift 3 the 4 steps are
``t = [1000, 857.69, 602.15, 8.93]`` (sigmas ``[1, 0.858, 0.602, 0.009, 0]``).

Why shift 3: the shift ``sigma' = 3 sigma / (1 + 2 sigma)`` keeps the few steps at high noise, where
a distilled few-step model decides layout and motion; Wan recommends shift 3 for 480p-class sizes,
which is what Live Avatar runs at (e.g. 704*384). Each TPP GPU owns one of these steps.
"""

from __future__ import annotations

ALLOWED_STEPS = (3, 4, 5, 6)
NUM_TRAIN_TIMESTEPS = 1000
SHIFT = 3.0
DEFAULT_STEPS = 4


def make_scheduler(steps: int = DEFAULT_STEPS, device=None):
    """``FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3)`` with ``steps`` set.

    Only 3-6 steps are allowed: the model is distilled for 4; fewer breaks quality, more buys nothing.
    """
    from diffusers import FlowMatchEulerDiscreteScheduler

    if isinstance(steps, bool) or not isinstance(steps, int) or steps not in ALLOWED_STEPS:
        raise ValueError(
            f"sample steps must be one of {list(ALLOWED_STEPS)} (Live Avatar is distilled for "
            f"{DEFAULT_STEPS} steps); got {steps!r}")
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=NUM_TRAIN_TIMESTEPS, shift=SHIFT)
    scheduler.set_timesteps(steps, device=device)
    return scheduler


__all__ = ["ALLOWED_STEPS", "DEFAULT_STEPS", "NUM_TRAIN_TIMESTEPS", "SHIFT", "make_scheduler"]
