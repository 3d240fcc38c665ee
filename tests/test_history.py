"""history.OutputStore: per-visitor job folders and history on disk, TTL cleanup, and path ownership."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from liveavatar.history import HistoryEntry, OutputStore, is_token, new_visitor_id

TTL = 3600.0


@pytest.fixture
def store(tmp_path):
    return OutputStore(tmp_path / "outputs", ttl_seconds=TTL)


@pytest.fixture
def inputs(tmp_path):
    """Files standing in for Gradio's upload cache, outside the store's root."""
    cache = tmp_path / "gradio-cache"
    cache.mkdir()
    (cache / "portrait.PNG").write_bytes(b"png-bytes")
    (cache / "speech.wav").write_bytes(b"wav-bytes")
    return cache


def _run(store: OutputStore, visitor: str, inputs: Path, *, created: float | None = None, prompt: str = "A man.") -> HistoryEntry:
    job = store.new_job(visitor)
    (job / "output.mp4").write_bytes(b"mp4-bytes")
    values = {} if created is None else {"created": created}
    return store.record(
        HistoryEntry(
            id=job.name, visitor=visitor, video=str(job / "output.mp4"), prompt=prompt,
            image=str(inputs / "portrait.PNG"), audio=str(inputs / "speech.wav"), preset="quick",
            settings={"size": "384*256", "num_clip": 10}, seed=7, seconds=1.5, first_clip_seconds=0.5,
            cli="python -m liveavatar.generate ...", **values,
        )
    )


def _files(path: Path) -> set[Path]:
    return {p for p in path.rglob("*") if p.is_file()}


# ---- ids ---------------------------------------------------------------------------------------


def test_new_visitor_id_is_32_hex_and_random():
    ids = {new_visitor_id() for _ in range(100)}
    assert len(ids) == 100 and all(is_token(i) for i in ids)


BAD_VISITORS = ["", "..", "../" + "a" * 29, "A" * 32, "a" * 31, "a" * 33, "g" * 32, "a" * 32 + "\n",
                "a" * 16 + "/" + "a" * 15, "/tmp", None, 123, "a" * 31 + "\x00"]


@pytest.mark.parametrize("bad", BAD_VISITORS)
def test_bad_visitor_ids_are_rejected_everywhere(store, bad):
    for call in (store.new_job, store.entries, store.delete_visitor):
        with pytest.raises(ValueError):
            call(bad)
    with pytest.raises(ValueError):
        store.get(bad, "0" * 32)
    with pytest.raises(ValueError):
        store.record(HistoryEntry(visitor=bad, video="x.mp4"))
    assert list(store.root.iterdir()) == []


def test_new_job_is_a_fresh_folder_under_the_visitor(store):
    v = new_visitor_id()
    a, b = store.new_job(v), store.new_job(v)
    assert a != b and a.is_dir() and b.is_dir() and list(a.iterdir()) == []
    assert a.parent == store.root / v and is_token(a.name)


# ---- record / entries / get ----------------------------------------------------------------------


def test_record_copies_inputs_and_writes_entry_json(store, inputs):
    v = new_visitor_id()
    e = _run(store, v, inputs)
    job = store.root / v / e.id
    assert Path(e.video) == job / "output.mp4"
    assert Path(e.image) == job / "input-image.png" and Path(e.image).read_bytes() == b"png-bytes"
    assert Path(e.audio) == job / "input-audio.wav" and Path(e.audio).read_bytes() == b"wav-bytes"
    data = json.loads((job / "entry.json").read_text())
    assert data["video"] == "output.mp4" and data["image"] == "input-image.png"  # relative: the root can move
    # The history survives the Gradio cache being cleared.
    for f in inputs.iterdir():
        f.unlink()
    got = store.get(v, e.id)
    assert got == e and Path(got.image).exists() and Path(got.audio).exists()


def test_record_copies_a_video_written_elsewhere(store, inputs, tmp_path):
    v = new_visitor_id()
    elsewhere = tmp_path / "video.MP4"
    elsewhere.write_bytes(b"vid")
    e = store.record(HistoryEntry(visitor=v, video=str(elsewhere), prompt="p"))
    assert is_token(e.id) and Path(e.video) == store.root / v / e.id / "output.mp4"
    assert Path(e.video).read_bytes() == b"vid" and e.image is None and e.audio is None


def test_record_refuses_missing_files(store, inputs, tmp_path):
    v = new_visitor_id()
    with pytest.raises(FileNotFoundError):
        store.record(HistoryEntry(visitor=v, video=str(tmp_path / "nope.mp4")))
    (tmp_path / "v.mp4").write_bytes(b"v")
    with pytest.raises(FileNotFoundError):
        store.record(HistoryEntry(visitor=v, video=str(tmp_path / "v.mp4"), image=str(tmp_path / "gone.png")))


def test_entry_dict_round_trip_and_unknown_keys():
    e = HistoryEntry(visitor=new_visitor_id(), video="/x/output.mp4", prompt="p", settings={"seed": 1}, cancelled=True)
    assert HistoryEntry.from_dict(e.to_dict()) == e
    assert HistoryEntry.from_dict({**e.to_dict(), "added_later": 1}) == e
    assert json.loads(json.dumps(e.to_dict())) == e.to_dict()


def test_from_result_takes_the_result_fields():
    result = SimpleNamespace(video_path="/o/output.mp4", seed=123, seconds=9.5, first_clip_seconds=None, cancelled=True)
    v = new_visitor_id()
    e = HistoryEntry.from_result(result, visitor=v, prompt="p", preset="standard", cli="python -m ...")
    assert (e.video, e.seed, e.seconds, e.first_clip_seconds, e.cancelled) == ("/o/output.mp4", 123, 9.5, None, True)
    assert (e.visitor, e.prompt, e.preset, e.cli) == (v, "p", "standard", "python -m ...")


def test_entries_newest_first_and_per_visitor(store, inputs):
    v, w = new_visitor_id(), new_visitor_id()
    old = _run(store, v, inputs, created=1000.0, prompt="old")
    new = _run(store, v, inputs, created=2000.0, prompt="new")
    other = _run(store, w, inputs, created=3000.0, prompt="other")
    assert [e.prompt for e in store.entries(v)] == ["new", "old"]
    assert [e.id for e in store.entries(w)] == [other.id]
    assert store.entries(new_visitor_id()) == []
    # A visitor cannot read another's entry by id.
    assert store.get(w, old.id) is None and store.get(v, old.id) == old
    assert store.get(v, new.id).prompt == "new"


def test_entries_survive_a_new_store_on_the_same_root(store, inputs):
    v = new_visitor_id()
    a = _run(store, v, inputs, created=1.0)
    b = _run(store, v, inputs, created=2.0)
    again = OutputStore(store.root, ttl_seconds=TTL)
    assert again.entries(v) == [b, a]
    assert again.get(v, a.id) == a


def test_get_with_bad_or_unknown_id_is_none(store, inputs):
    v = new_visitor_id()
    e = _run(store, v, inputs)
    for bad in ["", "..", "../" + e.id, e.id.upper(), e.id + "/entry.json", None, 5, "0" * 32]:
        assert store.get(v, bad) is None


def test_unfinished_corrupt_or_tampered_jobs_are_skipped(store, inputs, tmp_path):
    v = new_visitor_id()
    good = _run(store, v, inputs)
    store.new_job(v)  # still running: no entry.json
    broken = store.new_job(v)
    (broken / "entry.json").write_text("{not json")
    tampered = store.new_job(v)
    (tmp_path / "secret.txt").write_text("secret")
    (tampered / "entry.json").write_text(json.dumps(
        {"visitor": v, "video": "../../../secret.txt", "image": str(tmp_path / "secret.txt"), "created": 5e9}
    ))
    assert store.entries(v) == [good]
    # The entry's own visitor/id fields don't matter: the folder says whose it is.
    other = new_visitor_id()
    (store.root / v / good.id / "entry.json").write_text(
        (store.root / v / good.id / "entry.json").read_text().replace(v, other)
    )
    assert store.entries(v)[0].visitor == v and store.entries(other) == []


# ---- delete / cleanup ----------------------------------------------------------------------------


def test_delete_visitor_only_touches_that_visitor(store, inputs):
    v, w = new_visitor_id(), new_visitor_id()
    _run(store, v, inputs)
    _run(store, v, inputs)
    kept = _run(store, w, inputs)
    w_files = _files(store.root / w)
    assert store.delete_visitor(v) == 8  # 2 jobs × (video, image, audio, entry.json)
    assert not (store.root / v).exists()
    assert store.entries(v) == []
    assert _files(store.root / w) == w_files and store.entries(w) == [kept]
    assert all(p.exists() for p in inputs.iterdir())  # the originals are not the store's
    assert store.delete_visitor(v) == 0  # nothing left; no error


def test_delete_visitor_does_not_follow_symlinks_out(store, tmp_path):
    v = new_visitor_id()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    job = store.new_job(v)
    (job / "link-dir").symlink_to(outside, target_is_directory=True)
    (job / "link-file").symlink_to(outside / "precious.txt")
    assert store.delete_visitor(v) == 2  # the two links, not their targets
    assert (outside / "precious.txt").read_text() == "keep me"
    # A visitor folder that is itself a link: the link goes, not what it points to.
    w = new_visitor_id()
    (store.root / w).symlink_to(outside, target_is_directory=True)
    assert store.entries(w) == []
    assert store.delete_visitor(w) == 0
    assert not (store.root / w).exists() and (outside / "precious.txt").exists()


def test_cleanup_removes_only_jobs_older_than_the_ttl(store, inputs):
    v, w = new_visitor_id(), new_visitor_id()
    t0 = 1_000_000.0
    old = _run(store, v, inputs, created=t0)
    fresh = _run(store, v, inputs, created=t0 + 2000)
    old_w = _run(store, w, inputs, created=t0 + 100)
    assert store.cleanup(now=t0 + TTL) == 0  # exactly at the TTL: kept
    assert store.cleanup(now=t0 + TTL + 1) == 1
    assert [e.id for e in store.entries(v)] == [fresh.id] and not (store.root / v / old.id).exists()
    assert store.entries(w) == [old_w]
    assert store.cleanup(now=t0 + 2000 + TTL + 1) == 2
    assert store.entries(v) == [] and store.entries(w) == []
    assert list(store.root.iterdir()) == []  # emptied visitor folders go too
    assert store.cleanup(now=t0 + 10 * TTL) == 0


def test_cleanup_ages_an_unfinished_job_by_its_files(store):
    v = new_visitor_id()
    job = store.new_job(v)
    (job / "partial.mp4").write_bytes(b"x")
    mtime = (job / "partial.mp4").stat().st_mtime
    assert store.cleanup(now=mtime + TTL - 10) == 0 and job.exists()
    assert store.cleanup(now=mtime + TTL + 10) == 1 and not job.exists()


def test_cleanup_does_not_follow_symlinks(store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.txt").write_text("a")
    os.utime(outside, (0, 0))
    v = new_visitor_id()
    (store.root / v).mkdir()
    (store.root / v / ("0" * 32)).symlink_to(outside, target_is_directory=True)
    assert store.cleanup(now=1e12) == 0
    assert (outside / "a.txt").exists()


def test_ttl_must_be_positive(tmp_path):
    with pytest.raises(ValueError):
        OutputStore(tmp_path, ttl_seconds=0)


# ---- owns ----------------------------------------------------------------------------------------


def test_owns(store, inputs, tmp_path):
    v, w = new_visitor_id(), new_visitor_id()
    e = _run(store, v, inputs)
    job = Path(e.video).parent
    assert store.owns(e.video) and store.owns(Path(e.image)) and store.owns(job)
    assert store.owns(e.video, visitor=v) and not store.owns(e.video, visitor=w)
    assert not store.owns(e.video, visitor="../x")
    # Not inside: the root itself, the originals, `..` tricks, odd values.
    assert not store.owns(store.root)
    assert not store.owns(inputs / "portrait.PNG")
    assert not store.owns(f"{job}/../../../gradio-cache/portrait.PNG")
    assert not store.owns(str(store.root) + "/../outputs-evil/x")
    assert not store.owns(str(store.root) + "-evil/x")
    assert not store.owns("/etc/passwd") and not store.owns("relative/path.mp4")
    for odd in (None, "", "a\x00b", 123, True, ["x"]):
        assert store.owns(odd) is False


def test_owns_refuses_symlinks_out_of_the_root(store, tmp_path):
    v = new_visitor_id()
    job = store.new_job(v)
    secret = tmp_path / "secret.txt"
    secret.write_text("s")
    (job / "innocent.mp4").symlink_to(secret)
    (job / "dir-link").symlink_to(tmp_path, target_is_directory=True)
    assert not store.owns(job / "innocent.mp4")
    assert not store.owns(job / "dir-link" / "secret.txt")
    # A link that stays inside the root is fine.
    (job / "real.mp4").write_bytes(b"x")
    (job / "alias.mp4").symlink_to(job / "real.mp4")
    assert store.owns(job / "alias.mp4")


def test_owns_works_through_a_symlinked_root(tmp_path):
    real = tmp_path / "real-root"
    real.mkdir()
    link = tmp_path / "link-root"
    link.symlink_to(real, target_is_directory=True)
    store = OutputStore(link, ttl_seconds=TTL)
    job = store.new_job(new_visitor_id())
    assert store.owns(job) and store.owns(link / job.relative_to(store.root)) and store.owns(real / job.relative_to(store.root))


# --- the browser-state key (history across restarts) ----------------------------------------
def test_browser_state_secret_is_kept_in_the_output_folder(tmp_path, monkeypatch):
    from liveavatar.secret import SECRET_ENV, SECRET_FILE, browser_state_secret

    monkeypatch.delenv(SECRET_ENV, raising=False)
    first = browser_state_secret(tmp_path)
    assert len(first) == 32 and all(c in "0123456789abcdef" for c in first)
    key_file = tmp_path / SECRET_FILE
    assert key_file.read_text().strip() == first
    assert key_file.stat().st_mode & 0o777 == 0o600  # readable by the server's user only
    assert browser_state_secret(tmp_path) == first  # the next launch reads the same key back
    assert browser_state_secret(tmp_path / "elsewhere") != first  # another server folder, another key
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_browser_state_secret_env_override_and_broken_file(tmp_path, monkeypatch):
    from liveavatar.secret import SECRET_ENV, SECRET_FILE, browser_state_secret

    monkeypatch.setenv(SECRET_ENV, "operator-chosen-key")
    assert browser_state_secret(tmp_path) == "operator-chosen-key"
    assert not (tmp_path / SECRET_FILE).exists()  # the override writes nothing
    monkeypatch.delenv(SECRET_ENV)
    (tmp_path / SECRET_FILE).write_text("")  # e.g. a disk that filled up mid-write
    fresh = browser_state_secret(tmp_path)
    assert fresh and browser_state_secret(tmp_path) == fresh


def test_app_gives_the_browser_state_the_persisted_key(tmp_path, monkeypatch):
    """Two builds of the app on one output folder (a restart) hand the page the same key."""
    import gradio as gr

    from liveavatar.secret import SECRET_ENV
    from liveavatar.testing.server import ROOT

    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.syspath_prepend(str(ROOT))
    import app
    from liveavatar.backends import choose_backend
    from liveavatar.ui.handlers import ServiceOptions

    def key() -> str:
        demo = app.build_app(choose_backend(None, force_preview=True), ServiceOptions(output_dir=tmp_path))
        states = [b for b in demo.blocks.values() if isinstance(b, gr.BrowserState)]
        assert len(states) == 1
        return states[0].secret

    assert key() == key()
