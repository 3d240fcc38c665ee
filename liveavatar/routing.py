"""Which DiT tokens hear which person: people masks -> per-person audio gates on the token grid.

With two to four people in one portrait, Live Avatar encodes each person's speech track on its own
and, after every audio-injection layer, adds each person's audio residual only on "their" tokens.
Upstream (``Alibaba-Quark/LiveAvatar``) derives those gates from SAM2 masks in
``liveavatar/utils/router/utils.py`` (``resize_mask`` + ``process_masks_to_routing_logits``) and
``liveavatar/models/wan/causal_s2v_pipeline.py`` (``dilate_mask_by_ratio`` and the "no other actor"
rule); this module reproduces that arithmetic with numpy + cv2 only, because the input checks (which
never load torch) use the same gates to tell whether two faces are too close to be told apart.

The steps, each as upstream does it (a time-constant mask, since we have one reference image):

1. **Resize** every person's mask to the token grid ``(h, w)`` with ``F.interpolate(mode="trilinear",
   align_corners=False)``. For a mask that does not change over time this is bilinear interpolation
   with half-pixel centres and *no* anti-aliasing: ``src = max(0, (dst + 0.5) * in / out - 0.5)``,
   the two neighbouring pixels weighted by the fractional part (clamped at the last pixel).
   ``cv2.resize(INTER_LINEAR)`` uses the same source mapping but fixed-point weights (for 8-bit) and
   its own float rounding, so we implement torch's sampling directly (float32, torch's order of
   operations); ``tests/test_routing.py`` checks it against ``F.interpolate`` itself.
2. **Threshold** ``> 0.5`` to a binary mask.
3. **Index mask**: start with background (-1); actor ``a`` (in track order) writes ``a`` wherever its
   binary mask is set, so a later actor overwrites an earlier one where masks overlap.
4. **One-hot** the index mask: actor ``a``'s mask is 1 where the index is ``a`` (background: all 0).
5. **Dilate** each actor's one-hot mask by ``ratio = 0.1`` of its bounding box: radius
   ``max(1, int(0.1 * max(box_h, box_w) + 0.9999))`` (upstream's ceil-like rounding, reproduced
   literally), a ``(2r + 1) x (2r + 1)`` max-pool with stride 1 and padding ``r``. An empty mask stays
   empty.
6. **Disjoint rule**: actor ``a``'s final gate is 1 wherever *no other* actor's dilated mask is
   present. Hence a token near only ``a`` hears ``a``; a background token (no dilated mask at all)
   hears every actor (the residuals are summed); a token inside two dilated masks (the border zone
   between touching people) hears nobody.

With a single person upstream passes no mask at all, which equals an all-ones gate.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["DILATION_RATIO", "LATENT_STRIDE", "MAX_PEOPLE", "routing_masks", "token_grid"]

#: At most this many people speak in one video, one track each: the product's limit (the checks, the
#: page and the pipeline all use this one). Upstream loops over any number of actors; its examples
#: have two, and four faces in a 704 × 384 video still leave each mouth tokens of its own.
MAX_PEOPLE = 4

LATENT_STRIDE = 16  # VAE spatial stride 8 x DiT patch size 2
DILATION_RATIO = 0.1  # upstream's dilate_mask_by_ratio(mask, ratio=0.1, thr=0.5)
THRESHOLD = 0.5  # upstream's (resized_mask > 0.5) and (mask > thr)


def token_grid(width: int, height: int) -> tuple[int, int]:
    """The DiT's token grid ``(h, w)`` for a ``width x height`` video: VAE stride 8, patch 2."""
    return height // LATENT_STRIDE, width // LATENT_STRIDE


def _linear_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """torch's ``align_corners=False`` linear taps along one axis: (index0, index1, lambda0, lambda1).

    Mirrors ``area_pixel_compute_scale`` / ``area_pixel_compute_source_index`` /
    ``compute_indices_weights_linear`` in float32 (the op-math type of a float32 tensor on the CPU).
    """
    scale = np.float32(in_size) / np.float32(out_size)
    dst = np.arange(out_size, dtype=np.float32)
    src = np.maximum(scale * (dst + np.float32(0.5)) - np.float32(0.5), np.float32(0.0)).astype(np.float32)
    idx0 = src.astype(np.int64)  # truncation == floor, src >= 0
    lam1 = np.clip(src - idx0.astype(np.float32), 0.0, 1.0).astype(np.float32)
    lam0 = (np.float32(1.0) - lam1).astype(np.float32)
    idx1 = np.minimum(idx0 + 1, in_size - 1)
    return idx0, idx1, lam0, lam1


def _resize_like_torch(masks: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """``[A, H, W]`` -> ``[A, h, w]`` as torch's trilinear (``align_corners=False``) on a constant-in-time mask."""
    h, w = grid
    y0, y1, hl0, hl1 = _linear_taps(masks.shape[1], h)
    x0, x1, wl0, wl1 = _linear_taps(masks.shape[2], w)
    m = masks.astype(np.float32, copy=False)
    top = wl0 * m[:, y0][:, :, x0] + wl1 * m[:, y0][:, :, x1]  # [A, h, w]
    bottom = wl0 * m[:, y1][:, :, x0] + wl1 * m[:, y1][:, :, x1]
    return (hl0[:, None] * top + hl1[:, None] * bottom).astype(np.float32)


def _dilate(gate: np.ndarray, ratio: float) -> np.ndarray:
    """One actor's ``[h, w]`` 0/1 mask dilated by ``ratio`` of its bounding box (upstream's rounding)."""
    ys, xs = np.nonzero(gate)
    if ys.size == 0:
        return gate
    box_h = int(ys.max() - ys.min() + 1)
    box_w = int(xs.max() - xs.min() + 1)
    radius = max(1, int(ratio * max(box_h, box_w) + 0.9999))
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    # Outside the image counts as "not set" (max-pool padding), which cv2's default dilation border gives.
    return cv2.dilate(gate.astype(np.uint8), kernel).astype(np.float32)


def routing_masks(person_masks: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Per-person audio gates on the token grid, exactly as upstream routes several speakers.

    ``person_masks``: ``[A, H, W]`` masks in 0..1 at the reference image's size, people in track order
    (bool and 0/1 integers are accepted). ``grid``: ``(h, w)`` from :func:`token_grid`.
    Returns ``[A, h, w]`` float32 0/1 gates (see the module docstring for every step). ``A == 1``
    gives all ones: a lone speaker is heard everywhere, as upstream's mask-less single-actor path.
    """
    masks = np.asarray(person_masks)
    if masks.ndim != 3 or masks.shape[0] < 1:
        raise ValueError(f"person masks must be [people, height, width], got shape {masks.shape}")
    h, w = int(grid[0]), int(grid[1])
    if h < 1 or w < 1:
        raise ValueError(f"token grid must be positive, got {grid}")
    masks = masks.astype(np.float32)
    if masks.size and (masks.min() < 0.0 or masks.max() > 1.0):
        raise ValueError("person masks must hold values in 0..1")
    num = masks.shape[0]
    if num == 1:
        return np.ones((1, h, w), np.float32)
    binary = _resize_like_torch(masks, (h, w)) > THRESHOLD
    index = np.full((h, w), -1, np.int64)
    for a in range(num):  # later people overwrite earlier ones, as upstream's torch.where loop
        index[binary[a]] = a
    dilated = np.stack([_dilate((index == a).astype(np.float32), DILATION_RATIO) for a in range(num)]) > 0.5
    others = dilated.sum(axis=0, keepdims=True) - dilated > 0
    return (~others).astype(np.float32)
