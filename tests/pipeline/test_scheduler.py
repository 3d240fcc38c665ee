import pytest
import torch

from liveavatar.pipeline.scheduler import ALLOWED_STEPS, make_scheduler


def test_four_steps_shift_three():
    s = make_scheduler(4)
    assert s.config.num_train_timesteps == 1000
    assert s.config.shift == 3
    expected = torch.tensor([1000.0, 857.6923, 602.1506, 8.9286])
    torch.testing.assert_close(s.timesteps.float(), expected, atol=1e-3, rtol=0)
    assert s.sigmas[-1] == 0
    # shift 3 maps sigma 2/3 of the unshifted linspace to 3s/(1+2s)
    s0 = 2 / 3 + 1 / 3 * 0.001  # unshifted second sigma (linspace 1 .. t_min)
    assert abs(float(s.sigmas[1]) - 3 * s0 / (1 + 2 * s0)) < 2e-3


@pytest.mark.parametrize("steps", ALLOWED_STEPS)
def test_allowed_steps(steps):
    s = make_scheduler(steps)
    assert len(s.timesteps) == steps
    assert torch.all(s.timesteps[:-1] > s.timesteps[1:])


@pytest.mark.parametrize("steps", [0, 1, 2, 7, 40, 4.0, "4", True])
def test_rejects_other_steps(steps):
    with pytest.raises(ValueError, match="sample steps must be one of"):
        make_scheduler(steps)


def test_euler_step_reaches_clean_sample():
    s = make_scheduler(4)
    x = torch.randn(1, 4, 2, 2)
    target = torch.zeros_like(x)
    for t in s.timesteps:
        sigma = s.sigmas[s.index_for_timestep(t)]
        velocity = (x - target) / sigma  # the exact flow for a clean target of 0
        x = s.step(velocity, t, x).prev_sample
    assert x.abs().max() < 1e-4
