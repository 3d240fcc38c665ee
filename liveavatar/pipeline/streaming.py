"""Block-streamed DiT weights and KV caches in host memory: the 24 GB card's path (issue 12).

Two pieces, both device-agnostic (CUDA side streams, events and pinned memory on a GPU; plain,
synchronous copies on the CPU, where "host" and "device" are the same memory but the swap is kept so
what is resident stays real and countable):

* :class:`BlockStreamer` owns the weights of the 40 DiT layers in host memory (pinned on CUDA). A
  layer's "unit" is its :class:`DiTBlock` plus, for the layers with audio injection, that layer's
  injector (cross-attention + AdaLN: ~1.9 B parameters over the 12 injected layers, too much to keep
  resident on a 24 GB card). Between uses the module's parameters are empty placeholders on the
  device; :meth:`BlockStreamer.resident` installs a device copy around the use and, as it does, starts
  copying the next layer on a side stream (double buffer: the layer in use + the one in flight = 2
  units resident). The compute stream waits on the copy's event before it reads the weights.
* :class:`KVStreamer` keeps the per-step KV caches in host memory and copies one layer's filled
  keys/values (and the shared sink, once per layer) to the device for that layer's attention, on the
  same side-stream scheme; the block's new rows are written back after the layer.

Why our own streamer and not accelerate's ``cpu_offload`` hooks: those copy a module's weights in on
its forward and out after it, on the compute stream (no prefetch of the next layer), and they are keyed
to one forward per module; the amortised (timestep-forcing) schedule in
:meth:`LiveAvatarPipeline._amortised_blocks` runs *several* blocks' forwards through a layer while its
weights are resident, which needs residency as an explicit, re-entrant scope. torch provides the parts
used here: pinned tensors, ``torch.cuda.Stream``/``Event`` and ``Tensor.record_stream`` (so the caching
allocator doesn't hand a tensor made on the copy stream to another use while the compute stream still
reads it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn

from liveavatar.pipeline.transformer import CausalS2VTransformer, KVCache, LayerKVCache

__all__ = ["PLANNED_RESIDENT_UNITS", "BlockStreamer", "KVStreamer", "layer_units", "offload_caches_",
           "stream_transformer_", "unit_bytes"]

PLANNED_RESIDENT_UNITS = 2
"""Layers whose weights are on the compute device at any layer call: the one computing + the next in flight."""


def layer_units(model: CausalS2VTransformer) -> list[list[nn.Module]]:
    """Per layer, the modules streamed together: the block, and its audio injector if the layer has one."""
    inj = model.audio_injector
    units = []
    for i, block in enumerate(model.blocks):
        unit: list[nn.Module] = [block]
        if i in inj.layer_to_injector:
            j = inj.layer_to_injector[i]
            unit.append(inj.injector[j])
            if inj.enable_adain:
                unit.append(inj.injector_adain_layers[j])
        units.append(unit)
    return units


def _entries(unit: Sequence[nn.Module]) -> list[tuple[nn.Module, str, bool]]:
    """(owner module, tensor name, is a parameter) of every tensor of a unit, in a fixed order."""
    out = []
    for mod in unit:
        for sub in mod.modules():
            out += [(sub, name, True) for name, p in sub._parameters.items() if p is not None]
            out += [(sub, name, False) for name, b in sub._buffers.items() if b is not None]
    return out


def _nbytes(tensors: Sequence[Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def unit_bytes(unit: Sequence[nn.Module], device: torch.device | str | None = None) -> int:
    """Bytes of a unit's tensors currently materialised (non-empty), optionally only those on ``device``."""
    total = 0
    for sub, name, is_param in _entries(unit):
        t = sub._parameters[name] if is_param else sub._buffers[name]
        if t.numel() and (device is None or t.device == torch.device(device)):
            total += t.numel() * t.element_size()
    return total


class BlockStreamer:
    """The layers' weights in host memory, copied to ``device`` around each use (see the module docstring).

    ``release=False`` keeps every layer installed after its use (for the residency test's failing variant;
    it is not a mode to run in). ``prefetch=False`` copies each layer when it is needed (no overlap).
    """

    def __init__(self, units: Sequence[Sequence[nn.Module]], device: torch.device | str, *, release: bool = True,
                 prefetch: bool = True) -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.cuda = self.device.type == "cuda"
        self.release_after_use = release
        self.prefetch = prefetch
        self.units = [list(u) for u in units]
        self._entries = [_entries(u) for u in self.units]
        self._host: list[list[Tensor]] = []
        for entries in self._entries:
            host = []
            for sub, name, is_param in entries:
                t = (sub._parameters[name] if is_param else sub._buffers[name]).detach()
                t = t.to("cpu")
                if self.cuda:
                    t = t.pin_memory()  # page-locked: the copy engine reads it asynchronously at full PCIe speed
                host.append(t)
                self._set(sub, name, is_param, torch.empty(0, dtype=t.dtype, device=self.device))
            self._host.append(host)
        self._staged: dict[int, tuple[list[Tensor], object]] = {}  # layer -> (device tensors, copy event)
        self._installed: dict[int, list[Tensor]] = {}
        self._depth: dict[int, int] = {}
        self._copy_stream = torch.cuda.Stream(self.device) if self.cuda else None
        self.copies = 0  # layers copied to the device so far (the test and the benchmark count traffic)
        self.copied_bytes = 0

    # ------------------------------------------------------------------ accounting
    def __len__(self) -> int:
        return len(self.units)

    def host_bytes(self, i: int | None = None) -> int:
        """Bytes of layer ``i``'s weights (all layers when ``i`` is None)."""
        layers = range(len(self)) if i is None else [i]
        return sum(_nbytes(self._host[k]) for k in layers)

    def installed_bytes(self) -> int:
        return sum(_nbytes(ts) for ts in self._installed.values())

    def staged_bytes(self) -> int:
        return sum(_nbytes(ts) for ts, _ in self._staged.values())

    def device_bytes(self) -> int:
        """Layer weights on the compute device now: installed in modules + copies in flight."""
        return self.installed_bytes() + self.staged_bytes()

    # ------------------------------------------------------------------ moving
    @staticmethod
    def _set(sub: nn.Module, name: str, is_param: bool, t: Tensor) -> None:
        if is_param:
            sub._parameters[name].data = t  # same Parameter object, new storage: hooks and references stay valid
        else:
            sub._buffers[name] = t

    def _stage(self, i: int) -> None:
        """Start copying layer ``i`` to the device (side stream on CUDA); keeps at most one layer staged."""
        for k in [k for k in self._staged if k != i]:
            del self._staged[k]
        if i in self._staged or i in self._installed:
            return
        host = self._host[i]
        if self.cuda:
            with torch.cuda.stream(self._copy_stream):
                dev = [h.to(self.device, non_blocking=True) for h in host]
                event = torch.cuda.Event()
                event.record(self._copy_stream)
        else:
            dev, event = [h.clone() for h in host], None  # a separate copy, so residency is real on the CPU too
        self._staged[i] = (dev, event)
        self.copies += 1
        self.copied_bytes += _nbytes(host)

    def _install(self, i: int) -> None:
        self._stage(i)
        dev, event = self._staged.pop(i)
        if event is not None:
            compute = torch.cuda.current_stream(self.device)
            compute.wait_event(event)
            for t in dev:
                t.record_stream(compute)  # made on the copy stream, read on this one
        for (sub, name, is_param), t in zip(self._entries[i], dev):
            self._set(sub, name, is_param, t)
        self._installed[i] = dev
        if self.prefetch:
            self._stage((i + 1) % len(self))

    def _release(self, i: int) -> None:
        dev = self._installed.pop(i, None)
        if dev is None:
            return
        for (sub, name, is_param), t in zip(self._entries[i], dev):
            self._set(sub, name, is_param, torch.empty(0, dtype=t.dtype, device=self.device))

    @contextlib.contextmanager
    def resident(self, i: int) -> Iterator[nn.Module]:
        """Layer ``i``'s weights on the device for the body (re-entrant: nested uses share one copy);
        yields the block. On leaving the outermost use the copy is dropped (the next layer is in flight)."""
        depth = self._depth.get(i, 0)
        if depth == 0 and i not in self._installed:
            self._install(i)
        self._depth[i] = depth + 1
        try:
            yield self.units[i][0]
        finally:
            self._depth[i] -= 1
            if self._depth[i] == 0:
                del self._depth[i]
                if self.release_after_use:
                    self._release(i)

    def release_all(self) -> None:
        """Drop every device copy (installed and in flight)."""
        for i in list(self._installed):
            self._release(i)
        self._staged.clear()


def stream_transformer_(model: CausalS2VTransformer, device: torch.device | str, dtype: torch.dtype, *,
                        fp8: bool = False, release: bool = True) -> BlockStreamer:
    """Put ``model`` on ``device`` with its layers' weights streamed from host memory.

    The non-layer parts (embeddings, head, audio encoder, ...) move to ``device``/``dtype``; each layer
    unit goes to the CPU in ``dtype`` (and its linears to FP8 there, so the full-precision copy never
    reaches the device); then a :class:`BlockStreamer` takes the units' tensors. Attaches the streamer
    as ``model.block_streamer`` and returns it."""
    from liveavatar.pipeline.fp8 import convert_blocks_to_fp8

    units = layer_units(model)
    in_units = {id(m) for u in units for m in u}
    for unit in units:
        for mod in unit:
            mod.to(device="cpu", dtype=dtype)
        if fp8:
            convert_blocks_to_fp8(unit[:1])
    for name, child in model.named_children():
        if name == "blocks":
            continue
        if name == "audio_injector":  # only its per-layer modules, all streamed: nothing else to move
            for sub in child.children():
                for m in sub.children() if isinstance(sub, nn.ModuleList) else [sub]:
                    if id(m) not in in_units:
                        m.to(device=device, dtype=dtype)
            continue
        child.to(device=device, dtype=dtype)
    return attach_streamer_(model, device, units, release=release)


def attach_streamer_(model: CausalS2VTransformer, device: torch.device | str,
                     units: Sequence[Sequence[nn.Module]] | None = None, *, release: bool = True) -> BlockStreamer:
    """Hand ``model``'s layer units (already where they are kept, e.g. on the CPU) to a new streamer."""
    streamer = BlockStreamer(units or layer_units(model), device, release=release)
    model.block_streamer = streamer  # a plain attribute (not a submodule): the state-dict keys don't change
    return streamer


# ----------------------------------------------------------------------------- KV caches
def offload_caches_(caches: Sequence[KVCache], pin: bool) -> None:
    """Move the caches' K/V (and the sink they share) to host memory, pinned when ``pin`` (CUDA)."""

    def host(t: Tensor | None) -> Tensor | None:
        if t is None:
            return None
        t = t.to("cpu")
        return t.pin_memory() if pin else t

    moved: dict[int, Tensor] = {}  # the per-step caches share their sink tensors: move each once
    for cache in caches:
        if cache.is_static:
            raise ValueError("host-memory caches use the plain layout (static_kv is off with offload_kv)")
        cache.host_memory = True
        for layer in cache.layers:
            layer.k, layer.v = host(layer.k), host(layer.v)
            for name in ("sink_k", "sink_v"):
                t = getattr(layer, name)
                if t is not None:
                    if id(t) not in moved:
                        moved[id(t)] = host(t)
                    setattr(layer, name, moved[id(t)])


class KVStreamer:
    """One layer of a host-memory cache on the device at a time (plus the one being prefetched).

    :meth:`prefetch` starts copying the filled rows ``[:valid]`` of a layer's K/V (and the sink, once
    per distinct sink tensor while it is the current one) on the copy stream; :meth:`get` makes the
    compute stream wait for it and returns a device :class:`LayerKVCache` for
    :meth:`CausalS2VTransformer.block_layer`; :meth:`write_back` copies the block's new rows to the host
    (asynchronously into pinned memory on CUDA; a later prefetch of the same layer waits for it)."""

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self._copy_stream = torch.cuda.Stream(self.device) if self.cuda else None
        self._staged: dict[object, tuple[LayerKVCache, object]] = {}
        self._sink: tuple[int, Tensor, Tensor] | None = None
        self._written: dict[int, object] = {}  # id(host k) -> event after its last write-back
        self.copied_bytes = 0

    def _copy(self, t: Tensor) -> Tensor:
        self.copied_bytes += t.numel() * t.element_size()
        return t.to(self.device, non_blocking=True) if self.cuda else t.clone()

    def prefetch(self, key: object, host: LayerKVCache, valid: int) -> None:
        if key in self._staged:
            return
        ctx = torch.cuda.stream(self._copy_stream) if self.cuda else contextlib.nullcontext()
        with ctx:
            event = self._written.pop(id(host.k), None)
            if event is not None:
                self._copy_stream.wait_event(event)  # the previous block's rows must have landed on the host
            if self._sink is None or self._sink[0] != id(host.sink_k):
                self._sink = (id(host.sink_k), self._copy(host.sink_k), self._copy(host.sink_v))
            dev = LayerKVCache(self._copy(host.k[:, :valid]), self._copy(host.v[:, :valid]),
                               self._sink[1], self._sink[2])
            done = None
            if self.cuda:
                done = torch.cuda.Event()
                done.record(self._copy_stream)
        self._staged[key] = (dev, done)

    def get(self, key: object, host: LayerKVCache, valid: int) -> LayerKVCache:
        self.prefetch(key, host, valid)
        dev, done = self._staged.pop(key)
        if done is not None:
            compute = torch.cuda.current_stream(self.device)
            compute.wait_event(done)
            for t in (dev.k, dev.v, dev.sink_k, dev.sink_v):
                t.record_stream(compute)
        return dev

    def write_back(self, host: LayerKVCache, dev: LayerKVCache, slot: int, end: int) -> None:
        host.k[:, slot:end].copy_(dev.k[:, slot:end], non_blocking=self.cuda)
        host.v[:, slot:end].copy_(dev.v[:, slot:end], non_blocking=self.cuda)
        self.copied_bytes += 2 * dev.k[:, slot:end].numel() * dev.k.element_size()
        if self.cuda:
            event = torch.cuda.Event()
            event.record(torch.cuda.current_stream(self.device))
            self._written[id(host.k)] = event

    def clear(self) -> None:
        self._staged.clear()
        self._sink = None
