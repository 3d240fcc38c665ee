import pytest
import torch

from liveavatar.pipeline.text import CheckpointKeyError
from liveavatar.pipeline.vae import (
    LATENTS_MEAN, LATENTS_STD, OnlineDecoder, VideoVAE, diffusers_key_to_vae, vae_key_to_diffusers,
    write_tiny_vae,
)


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return write_tiny_vae(tmp_path_factory.mktemp("ckpt"), base_dim=8, z_dim=16)


@pytest.fixture(scope="module")
def vae(tiny_path):
    return VideoVAE.from_checkpoint(tiny_path, "cpu", torch.float32)


def test_tiny_file_uses_original_wan_names(tiny_path):
    sd = torch.load(tiny_path, weights_only=True)
    assert tiny_path.name == "Wan2.1_VAE.pth"
    # names from Wan's vae2_1.py module tree (flat down/upsample Sequentials, residual.{0,2,3,6})
    for key, shape in {
        "conv1.weight": (32, 32, 1, 1, 1), "conv2.weight": (16, 16, 1, 1, 1),
        "encoder.conv1.weight": (8, 3, 3, 3, 3),
        "encoder.downsamples.0.residual.0.gamma": (8, 1, 1, 1),
        "encoder.downsamples.3.shortcut.weight": (16, 8, 1, 1, 1),
        "encoder.downsamples.5.time_conv.weight": (16, 16, 3, 1, 1),
        "encoder.middle.1.to_qkv.weight": (96, 32, 1, 1),
        "encoder.head.2.weight": (32, 32, 3, 3, 3),
        "decoder.upsamples.3.resample.1.weight": (16, 32, 3, 3),
        "decoder.upsamples.3.time_conv.weight": (64, 32, 3, 1, 1),
        "decoder.upsamples.4.shortcut.weight": (32, 16, 1, 1, 1),
        "decoder.upsamples.11.resample.1.weight": (8, 16, 3, 3),
        "decoder.upsamples.14.residual.6.weight": (8, 8, 3, 3, 3),
        "decoder.head.2.weight": (3, 8, 3, 3, 3),
    }.items():
        assert tuple(sd[key].shape) == shape, key
    assert len(sd) == 194
    assert not any("down_blocks" in k or "up_blocks" in k or "mid_block" in k for k in sd)


def test_every_key_maps(tiny_path, vae):
    sd = torch.load(tiny_path, weights_only=True)
    mapped = {vae_key_to_diffusers(k): k for k in sd}
    assert set(mapped) == set(vae.model.state_dict())
    assert all(diffusers_key_to_vae(d) == o for d, o in mapped.items())
    torch.testing.assert_close(vae.model.decoder.up_blocks[1].resnets[0].conv_shortcut.weight,
                               sd["decoder.upsamples.4.shortcut.weight"])


@pytest.mark.parametrize("mutate, needle", [
    (lambda sd: sd.pop("decoder.upsamples.7.time_conv.bias"), "decoder.upsamples.7.time_conv.bias"),
    (lambda sd: sd.__setitem__("encoder.downsamples.0.residual.9.weight", torch.zeros(1)),
     "encoder.downsamples.0.residual.9.weight"),
    (lambda sd: sd.__setitem__("decoder.head.2.bias", torch.zeros(5)), "decoder.head.2.bias"),
])
def test_bad_checkpoint_names_the_key(tiny_path, tmp_path, mutate, needle):
    sd = torch.load(tiny_path, weights_only=True)
    mutate(sd)
    torch.save(sd, tmp_path / "Wan2.1_VAE.pth")
    with pytest.raises(CheckpointKeyError, match=needle.replace(".", r"\.")):
        VideoVAE.from_checkpoint(tmp_path / "Wan2.1_VAE.pth")


def test_constants_are_wans():
    assert len(LATENTS_MEAN) == len(LATENTS_STD) == 16
    assert LATENTS_MEAN[0] == -0.7571 and LATENTS_STD[-1] == 1.9160


@pytest.mark.parametrize("frames", [1, 5, 9])
def test_encode_decode_shapes(vae, frames):
    x = torch.rand(1, 3, frames, 32, 48) * 2 - 1
    z = vae.encode(x)
    assert z.shape == (1, 16, 1 + (frames - 1) // 4, 4, 6)
    assert z.dtype == torch.float32
    y = vae.decode(z)
    assert y.shape == (1, 3, frames, 32, 48)
    assert y.min() >= -1 and y.max() <= 1


def test_latent_normalisation_round_trip(vae):
    x = torch.rand(1, 3, 5, 16, 16) * 2 - 1
    mu = vae.model.encode(x).latent_dist.mode()
    z = vae.encode(x)
    mean = torch.tensor(LATENTS_MEAN).view(1, 16, 1, 1, 1)
    std = torch.tensor(LATENTS_STD).view(1, 16, 1, 1, 1)
    torch.testing.assert_close(z, (mu - mean) / std)
    torch.testing.assert_close(vae.denormalize(z), mu, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(vae.normalize(vae.denormalize(z)), z, atol=1e-5, rtol=1e-5)
    # decode() undoes the normalisation before the decoder
    torch.testing.assert_close(vae.decode(z), vae.model.decode(mu).sample.clamp(-1, 1), atol=1e-5, rtol=1e-5)


def test_rejects_bad_input(vae):
    with pytest.raises(ValueError):
        vae.encode(torch.zeros(1, 3, 5, 30, 32))
    with pytest.raises(ValueError):
        vae.decode(torch.zeros(1, 4, 2, 4, 4))


def test_online_decoder_slides_history(vae):
    motion_frames, infer_frames = 9, 8  # tiny stand-ins for 73 / 48
    history = torch.zeros(1, 3, motion_frames, 16, 16)
    dec = OnlineDecoder(vae, history, infer_frames, motion_frames=motion_frames, first_clip_trim=3)
    assert dec.motion_latents.shape == (1, 16, 3, 2, 2)
    clip = torch.randn(1, 16, infer_frames // 4, 2, 2)
    first = dec.push(clip)
    assert first.shape == (1, 3, infer_frames - 3, 16, 16)
    second = dec.push(clip)
    assert second.shape == (1, 3, infer_frames, 16, 16)
    torch.testing.assert_close(dec.history[:, :, -infer_frames:], second)
    torch.testing.assert_close(
        second, vae.decode_clip(vae.encode(torch.cat([history[:, :, 5:], first], 2)), clip, infer_frames))


def test_block_decoder_gives_the_online_decoders_frames_block_by_block(vae):
    """Live mode decodes each 3-latent-frame block as it is made; over two clips (the history slides
    between them) the frames are the per-clip decoder's, bit for bit."""
    from liveavatar.pipeline.vae import BlockDecoder

    motion_frames, infer_frames = 9, 24
    history = torch.rand(1, 3, motion_frames, 16, 16) * 2 - 1
    whole = OnlineDecoder(vae, history, infer_frames, motion_frames=motion_frames, first_clip_trim=0)
    blocks = BlockDecoder(vae, history, infer_frames, motion_frames=motion_frames)
    gen = torch.Generator().manual_seed(0)
    for _ in range(2):
        clip = torch.randn(1, 16, infer_frames // 4, 2, 2, generator=gen)
        expected = whole.push(clip)
        got = torch.cat([blocks.push(clip[:, :, i : i + 3]) for i in range(0, infer_frames // 4, 3)], dim=2)
        assert torch.equal(got, expected)
    assert torch.equal(blocks.history, whole.history)
