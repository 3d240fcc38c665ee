"""liveavatar.routing against an independent torch re-implementation of upstream's routing steps.

The reference below is written from upstream's facts (``resize_mask`` with trilinear /
align_corners=False on ``[B, 1, T, H, W]``, ``> 0.5``, index mask with later actors winning,
one-hot, ``dilate_mask_by_ratio(ratio=0.1, thr=0.5)`` with ``F.max_pool2d``, then "1 where no other
actor's dilated mask is present"), so a wrong step in the numpy version makes these tests fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from liveavatar.routing import routing_masks, token_grid


def _upstream_reference(masks: np.ndarray, grid: tuple[int, int], frames: int = 3) -> np.ndarray:
    """Upstream's pipeline on a time-constant mask repeated over ``frames`` frames; returns frame 0."""
    num = masks.shape[0]
    h, w = grid
    index = torch.full((1, 1, frames, h, w), -1, dtype=torch.long)
    for a in range(num):
        m = torch.from_numpy(masks[a]).float()[None, None, None].expand(1, 1, frames, -1, -1).contiguous()
        resized = F.interpolate(m, size=[frames, h, w], mode="trilinear", align_corners=False)
        index = torch.where((resized > 0.5).long() == 1, torch.tensor(a), index)
    flat = index.reshape(1, -1)
    logits = torch.zeros(1, flat.shape[1], num)
    for a in range(num):
        logits[0, flat[0] == a, a] = 1
    mask = logits.reshape(1, frames, h, w, num).permute(4, 1, 2, 3, 0)  # [A, t, h, w, 1]
    out = torch.zeros_like(mask)
    binm = (mask > 0.5).to(mask.dtype)
    for a in range(num):
        for t in range(frames):
            m2d = binm[a, t, :, :, 0]
            if m2d.any():
                ys, xs = torch.where(m2d)
                box = max(int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1))
                r = max(1, int(0.1 * box + 0.9999))
                pooled = F.max_pool2d(m2d[None, None], kernel_size=2 * r + 1, stride=1, padding=r)
                out[a, t, :, :, 0] = (pooled[0, 0] > 0).to(mask.dtype)
            else:
                out[a, t, :, :, 0] = m2d
    present = out > 0.5
    others = (present.sum(dim=0, keepdim=True) - present.to(torch.long)) > 0
    gates = (~others).float()
    assert torch.equal(gates[:, 0], gates[:, -1])  # time-constant in, time-constant out
    return gates[:, 0, :, :, 0].numpy()


def _blob(shape: tuple[int, int], cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return ((((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2) <= 1.0).astype(np.float32)


def test_token_grid_is_vae_stride_times_patch():
    assert token_grid(720, 480) == (30, 45)
    assert token_grid(704, 384) == (24, 44)
    assert token_grid(100, 70) == (4, 6)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    ("size", "grid"),
    [((480, 720), (30, 45)), ((128, 96), (8, 6)), ((97, 131), (7, 9)), ((40, 50), (13, 11)), ((64, 64), (64, 64))],
)
def test_matches_upstream_on_random_masks(seed, size, grid):
    rng = np.random.default_rng(seed)
    num = int(rng.integers(2, 5))
    # Smooth-ish random fields with soft values (exercise the interpolation weights) and hard blobs.
    coarse = rng.random((num, 5, 5)).astype(np.float32)
    soft = np.stack([np.clip(np.kron(c, np.ones((size[0] // 5 + 1, size[1] // 5 + 1)))[: size[0], : size[1]], 0, 1)
                     for c in coarse]).astype(np.float32)
    if seed % 2:
        soft = np.stack([_blob(size, rng.uniform(0, size[0]), rng.uniform(0, size[1]),
                               rng.uniform(3, size[0] / 2), rng.uniform(3, size[1] / 2)) for _ in range(num)])
    if seed == 4:
        soft = rng.random((num, *size)).astype(np.float32)  # pure noise: many values near 0.5
    got = routing_masks(soft, grid)
    assert got.dtype == np.float32 and got.shape == (num, *grid)
    np.testing.assert_array_equal(got, _upstream_reference(soft, grid))


def test_resize_matches_torch_bilinear_exactly():
    from liveavatar.routing import _resize_like_torch

    rng = np.random.default_rng(0)
    for size, grid in [((480, 720), (30, 45)), ((97, 131), (7, 9)), ((20, 30), (41, 17))]:
        m = rng.random((2, *size)).astype(np.float32)
        ref = F.interpolate(torch.from_numpy(m)[:, None, None], size=[1, *grid], mode="trilinear", align_corners=False)
        np.testing.assert_allclose(_resize_like_torch(m, grid), ref[:, 0, 0].numpy(), rtol=0, atol=1e-6)


def test_single_person_hears_everywhere():
    m = _blob((64, 64), 32, 32, 10, 10)[None]
    np.testing.assert_array_equal(routing_masks(m, (4, 4)), np.ones((1, 4, 4), np.float32))


def test_separated_blobs_each_own_region_background_both():
    size, grid = (160, 320), (10, 20)
    left = np.zeros(size, np.float32)
    left[32:128, 16:112] = 1.0  # tokens rows 2..7, cols 1..6
    right = np.zeros(size, np.float32)
    right[32:128, 208:304] = 1.0  # tokens rows 2..7, cols 13..18
    gates = routing_masks(np.stack([left, right]), grid)
    assert gates[0, 4, 3] == 1 and gates[1, 4, 3] == 0  # inside the left person: only track 0
    assert gates[1, 4, 15] == 1 and gates[0, 4, 15] == 0  # inside the right person: only track 1
    assert gates[0, 0, 10] == 1 and gates[1, 0, 10] == 1  # background: both tracks
    # The dilation (radius 1 here: 0.1 * 6 -> 1) takes one ring of tokens around each person.
    assert gates[1, 4, 7] == 0 and gates[0, 4, 7] == 1
    assert gates[1, 4, 8] == 1 and gates[0, 4, 8] == 1
    np.testing.assert_array_equal(gates, _upstream_reference(np.stack([left, right]), grid))


def test_touching_blobs_lose_the_border_zone():
    size, grid = (160, 320), (10, 20)
    left = np.zeros(size, np.float32)
    left[32:128, 16:160] = 1.0  # token cols 1..9
    right = np.zeros(size, np.float32)
    right[32:128, 160:304] = 1.0  # token cols 10..18
    gates = routing_masks(np.stack([left, right]), grid)
    r = max(1, int(0.1 * 9 + 0.9999))  # = 1
    for col in range(10 - r, 10 + r):  # border zone: inside both dilated masks -> nobody
        assert gates[0, 4, col] == 0 and gates[1, 4, col] == 0
    assert gates[0, 4, 10 - r - 1] == 1 and gates[1, 4, 10 + r] == 1
    np.testing.assert_array_equal(gates, _upstream_reference(np.stack([left, right]), grid))


def test_later_person_wins_overlap():
    size, grid = (64, 64), (8, 8)
    a = np.zeros(size, np.float32)
    a[:, :40] = 1
    b = np.zeros(size, np.float32)
    b[:, 24:] = 1
    np.testing.assert_array_equal(routing_masks(np.stack([a, b]), grid), _upstream_reference(np.stack([a, b]), grid))


def test_empty_person_mask_and_bad_input():
    m = np.zeros((2, 32, 32), np.float32)
    m[0, 8:24, 8:24] = 1
    np.testing.assert_array_equal(routing_masks(m, (4, 4)), _upstream_reference(m, (4, 4)))
    with pytest.raises(ValueError):
        routing_masks(np.zeros((32, 32)), (2, 2))
    with pytest.raises(ValueError):
        routing_masks(np.full((2, 8, 8), 255.0), (2, 2))
