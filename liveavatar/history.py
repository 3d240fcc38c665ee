"""Per-visitor history of results, kept on disk, for a public Space where visitors must not see
each other's files.

Layout under the store's root::

    root/<visitor>/<job-id>/entry.json      the entry (paths relative to the job folder)
                            input-image.png  copies of the inputs, so the history survives the
                            input-audio.wav  Gradio cache being cleared
                            input-audio-2.wav … the other people's speech tracks (several people)
                            output.mp4       the video (written there by the app, or copied)

``visitor`` is an opaque random token (:func:`new_visitor_id`, 32 lower-case hex characters) that
the app keeps in the visitor's browser; job ids are uuid4 hex. Both are checked against
``[0-9a-f]{32}`` before they touch a path, so neither can name anything outside the root. Entries
are read back from disk on every call, so they survive a page reload and an app restart.

**Never follow a path that came from the browser without** :meth:`OutputStore.owns` (pass
``visitor=`` to also require that it is that visitor's file).

No Gradio imports here; the app wires it in.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_TOKEN_RE = re.compile(r"[0-9a-f]{32}")
ENTRY_FILE = "entry.json"


def new_visitor_id() -> str:
    """A fresh visitor token: 128 random bits as 32 lower-case hex characters."""
    return secrets.token_hex(16)


def is_token(value: object) -> bool:
    """True for a well-formed visitor or job id (exactly 32 lower-case hex characters)."""
    return isinstance(value, str) and _TOKEN_RE.fullmatch(value) is not None


def _check_visitor(visitor: object) -> str:
    if not is_token(visitor):
        raise ValueError("Invalid visitor id: expected 32 lower-case hexadecimal characters.")
    return visitor  # type: ignore[return-value]


@dataclass(kw_only=True)
class HistoryEntry:
    """One finished (or cancelled) run, as shown in the visitor's history."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    visitor: str
    created: float = field(default_factory=time.time)
    video: str
    prompt: str = ""
    image: str | None = None
    audio: str | None = None
    preset: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    seed: int = -1
    seconds: float = 0.0
    first_clip_seconds: float | None = None
    cancelled: bool = False
    cli: str = ""
    more_audio: list[str] = field(default_factory=list)
    """Several people: the speech tracks of persons 2..4, in track order (``audio`` is person 1's)."""
    face_order: str = ""
    """Several people: which face each track drives, as ``/generate`` took it ("2,1"; "" = in order)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HistoryEntry:
        """The inverse of :meth:`to_dict`; unknown keys are ignored (newer or older files)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_result(cls, result: Any, **values: Any) -> HistoryEntry:
        """An entry from a ``studio.GenerationResult`` (video, seed, timings, cancelled) plus ``values``.

        ``values`` gives the rest: ``visitor`` (required), ``id`` (the job folder's name from
        :meth:`OutputStore.new_job`), ``prompt``, ``image``, ``audio``, ``preset``, ``settings``,
        ``cli``, and for several people ``more_audio`` and ``face_order``.
        """
        base = {
            "video": str(result.video_path),
            "seed": int(result.seed),
            "seconds": float(result.seconds),
            "first_clip_seconds": None if result.first_clip_seconds is None else float(result.first_clip_seconds),
            "cancelled": bool(result.cancelled),
        }
        base.update(values)
        return cls(**base)


class OutputStore:
    """Job folders and history per visitor under ``root``; old jobs go after ``ttl_seconds``."""

    def __init__(self, root: Path | str, ttl_seconds: float):
        if not ttl_seconds > 0:
            raise ValueError(f"ttl_seconds must be positive; got {ttl_seconds!r}.")
        self.root = Path(root).expanduser()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root = self.root.resolve()
        self.ttl_seconds = float(ttl_seconds)

    # ---- paths -----------------------------------------------------------------------------

    def owns(self, path: object, visitor: str | None = None) -> bool:
        """True when ``path`` lies inside the root (inside ``root/<visitor>`` when given), after
        resolving ``..`` and symlinks. The root itself is not "owned". Never raises."""
        if path is None or isinstance(path, bool):
            return False
        try:
            text = os.fspath(path)  # type: ignore[arg-type]
            if not text or (isinstance(text, str) and "\x00" in text):
                return False
            resolved = Path(text).resolve()
            base = self.root
            if visitor is not None:
                if not is_token(visitor):
                    return False
                base = self.root / visitor
            return resolved != base and resolved.is_relative_to(base)
        except (TypeError, ValueError, OSError, RuntimeError):
            return False

    def _visitor_dir(self, visitor: str) -> Path:
        return self.root / _check_visitor(visitor)

    def job_dir(self, visitor: str, job_id: str) -> Path:
        """``root/<visitor>/<job-id>`` (not created); ValueError for a malformed id."""
        if not is_token(job_id):
            raise ValueError("Invalid job id: expected 32 lower-case hexadecimal characters.")
        return self._visitor_dir(visitor) / job_id

    def new_job(self, visitor: str) -> Path:
        """A fresh, empty folder ``root/<visitor>/<job-id>/`` for one run's output."""
        vdir = self._visitor_dir(visitor)
        while True:
            job = vdir / uuid.uuid4().hex
            try:
                job.mkdir(parents=True)
                return job
            except FileExistsError:  # pragma: no cover - 122 random bits
                continue

    # ---- writing ---------------------------------------------------------------------------

    def record(self, entry: HistoryEntry) -> HistoryEntry:
        """Save ``entry`` in its job folder (``root/<visitor>/<entry.id>``, created if needed).

        Copies the image, the audio and (when it isn't already there) the video into the job
        folder, writes ``entry.json`` atomically and returns the entry with its paths pointing at
        those copies. FileNotFoundError when the video, or an image / audio given, does not
        exist. These are server-side paths (the app's own output, Gradio's upload cache), not
        strings from the browser.
        """
        job = self.job_dir(entry.visitor, entry.id)
        job.mkdir(parents=True, exist_ok=True)
        video = self._bring(entry.video, job, "output")
        if video is None:
            raise FileNotFoundError("The result has no video to keep in the history.")
        image = self._bring(entry.image, job, "input-image")
        audio = self._bring(entry.audio, job, "input-audio")
        more = [self._bring(path, job, f"input-audio-{number}")
                for number, path in enumerate((p for p in entry.more_audio or [] if p), start=2)]
        stored = replace(
            entry,
            video=video.name,
            image=None if image is None else image.name,
            audio=None if audio is None else audio.name,
            more_audio=[p.name for p in more if p is not None],
            settings=dict(entry.settings or {}),
        )
        data = json.dumps(stored.to_dict(), ensure_ascii=False, indent=1)
        fd, tmp = tempfile.mkstemp(prefix=".entry-", suffix=".json", dir=job)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
            os.replace(tmp, job / ENTRY_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self._absolute(stored, job)

    @staticmethod
    def _bring(source: str | os.PathLike[str] | None, job: Path, stem: str) -> Path | None:
        """The file's path inside ``job``: itself when already there, else a copy named ``stem``."""
        if source in (None, ""):
            return None
        src = Path(source)
        if not src.is_file():
            raise FileNotFoundError(f"{src} does not exist or is not a file.")
        resolved = src.resolve()
        if resolved.parent == job.resolve():
            return resolved
        dest = job / f"{stem}{src.suffix.lower()}"
        shutil.copyfile(resolved, dest)
        return dest

    # ---- reading ---------------------------------------------------------------------------

    def _load(self, job: Path) -> HistoryEntry | None:
        """The entry in ``job``, paths made absolute; None when missing, unreadable or tampered."""
        try:
            if job.is_symlink() or not job.is_dir():
                return None
            with open(job / ENTRY_FILE, encoding="utf-8") as f:
                data = json.load(f)
            entry = HistoryEntry.from_dict(data)
        except (OSError, ValueError, TypeError):
            return None
        # The folder is the source of truth for who owns it and what it is called.
        entry = replace(entry, visitor=job.parent.name, id=job.name)
        entry = self._absolute(entry, job)
        if not entry.video:
            return None
        return entry

    def _absolute(self, entry: HistoryEntry, job: Path) -> HistoryEntry:
        def inside(name: str | None) -> str | None:
            if not name:
                return None
            p = job / name
            # A stored name must stay inside this job folder (no "..", no absolute path, no link out).
            return str(p) if self.owns(p, entry.visitor) and p.resolve().parent == job.resolve() else None

        more = entry.more_audio if isinstance(entry.more_audio, list) else []
        kept = [inside(name) if isinstance(name, str) else None for name in more]
        return replace(entry, video=inside(entry.video) or "", image=inside(entry.image), audio=inside(entry.audio),
                       more_audio=[p for p in kept if p], face_order=str(entry.face_order or ""))

    def entries(self, visitor: str) -> list[HistoryEntry]:
        """That visitor's entries, newest first (jobs without an ``entry.json`` are skipped)."""
        vdir = self._visitor_dir(visitor)
        if vdir.is_symlink() or not vdir.is_dir():
            return []
        found = []
        try:
            jobs = list(vdir.iterdir())
        except OSError:
            return []
        for job in jobs:
            if not is_token(job.name):
                continue
            entry = self._load(job)
            if entry is not None:
                found.append(entry)
        found.sort(key=lambda e: (e.created, e.id), reverse=True)
        return found

    def get(self, visitor: str, entry_id: object) -> HistoryEntry | None:
        """One of that visitor's entries; None for an unknown or malformed id (ids come from the browser)."""
        vdir = self._visitor_dir(visitor)
        if not is_token(entry_id) or vdir.is_symlink():
            return None
        return self._load(vdir / entry_id)  # type: ignore[operator]

    # ---- removing --------------------------------------------------------------------------

    def delete_visitor(self, visitor: str) -> int:
        """Remove all of that visitor's files now; returns how many files were removed."""
        vdir = self._visitor_dir(visitor)
        if vdir.is_symlink():  # never created by us; remove the link, not what it points to
            vdir.unlink(missing_ok=True)
            return 0
        if not vdir.is_dir():
            return 0
        return _remove_tree(vdir)

    def cleanup(self, now: float | None = None) -> int:
        """Remove job folders older than the TTL; returns how many job folders were removed.

        A job's age counts from its entry's ``created`` time, or, for a job without a readable
        entry (still running, or crashed), from the newest modification time inside it, so a long
        run in progress is not removed under the app. Emptied visitor folders go too.
        """
        now = time.time() if now is None else float(now)
        removed = 0
        try:
            visitors = list(self.root.iterdir())
        except OSError:
            return 0
        for vdir in visitors:
            if not is_token(vdir.name) or vdir.is_symlink() or not vdir.is_dir():
                continue
            try:
                jobs = list(vdir.iterdir())
            except OSError:
                continue
            for job in jobs:
                if job.is_symlink() or not job.is_dir():
                    continue
                stamp = self._job_time(job)
                if stamp is not None and now - stamp > self.ttl_seconds:
                    _remove_tree(job)
                    removed += 1
            try:
                vdir.rmdir()  # only succeeds when empty
            except OSError:
                pass
        return removed

    def _job_time(self, job: Path) -> float | None:
        try:
            with open(job / ENTRY_FILE, encoding="utf-8") as f:
                created = json.load(f).get("created")
            if isinstance(created, (int, float)) and not isinstance(created, bool):
                return float(created)
        except (OSError, ValueError, AttributeError):
            pass
        try:
            newest = job.stat().st_mtime
            for p in job.iterdir():
                newest = max(newest, p.lstat().st_mtime)
            return newest
        except OSError:
            return None


def _remove_tree(path: Path) -> int:
    """Delete ``path`` without following symlinks; returns the number of files (and links) removed."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(path, topdown=False, followlinks=False):
        for name in filenames:
            try:
                os.unlink(os.path.join(dirpath, name))
                count += 1
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("Could not remove %s: %s", os.path.join(dirpath, name), exc)
        for name in dirnames:
            p = os.path.join(dirpath, name)
            try:
                if os.path.islink(p):
                    os.unlink(p)
                    count += 1
                else:
                    os.rmdir(p)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("Could not remove %s: %s", p, exc)
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("Could not remove %s: %s", path, exc)
    return count
