"""The key the visitor's browser uses to keep its history id across app restarts.

Gradio's ``gr.BrowserState`` encrypts what it stores in the browser's localStorage with a key
(``secret``) that the page receives in its config; when none is given, Gradio draws a random one at
every launch. After a restart the browser's stored visitor id then no longer decrypts, the page
falls back to a fresh id, and the visitor's history seems to be gone although its files are still
on disk. So the server keeps one key in its output folder and hands the same one to every launch.

The key is not what protects a visitor's history (the random visitor id is; the key is sent to
every page); it only has to stay the same. An operator running several replicas, or one that
wants to rotate it, sets ``LIVEAVATAR_STATE_SECRET``. No Gradio imports here.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_ENV = "LIVEAVATAR_STATE_SECRET"
SECRET_FILE = ".browser-state-key"


def browser_state_secret(output_dir: str | os.PathLike[str]) -> str:
    """``$LIVEAVATAR_STATE_SECRET`` if set, else the key kept in ``output_dir/.browser-state-key``.

    The file is created once (32 random hex characters, mode 0600, written atomically so two
    processes starting together agree on one key) and read back on every later launch. A file
    that is empty or unreadable is replaced by a fresh key rather than stopping the app: losing
    the key costs visitors their link to old results, not their files.
    """
    override = os.environ.get(SECRET_ENV, "").strip()
    if override:
        return override
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SECRET_FILE
    existing = _read(path)
    if existing:
        return existing
    key = secrets.token_hex(16)
    tmp = folder / f"{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
        try:  # the first writer wins; a later one reads the winner's key back
            os.link(tmp, path)
        except FileExistsError:
            winner = _read(path)
            if winner:
                return winner
            os.replace(tmp, path)  # an empty or broken file: replace it with ours
            return key
        except OSError:  # a filesystem without hard links
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return key


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
