"""Download the Live Avatar checkpoint: ``python -m liveavatar.download --target ckpt``.

Prints the sizes first, then progress; exits with status 1 and a one-line reason when the Hub
cannot be reached (no long retry loop) or the result does not verify.
"""

from __future__ import annotations

import argparse
import sys

from liveavatar.pipeline.checkpoint import (
    CheckpointError,
    DownloadError,
    download_checkpoint,
    plan_download,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m liveavatar.download", description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="ckpt", help="folder to download into (default: ckpt)")
    parser.add_argument("--dry-run", action="store_true", help="only print what would be downloaded")
    parser.add_argument("--endpoint", default=None, help="Hub endpoint (default: $HF_ENDPOINT or huggingface.co)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the Hub (default 10)")
    args = parser.parse_args(argv)

    def progress(message: str, done: int, total: int) -> None:
        pct = f"[{100 * done / total:5.1f}%] " if total else ""
        print(f"{pct}{message}", flush=True)

    try:
        if args.dry_run:
            plan = plan_download(endpoint=args.endpoint, timeout=args.timeout)
            print(f"Would download {plan.describe()} into {args.target}")
            for repo, name, size in plan.files:
                print(f"  {repo}/{name}  {size:,} bytes")
            return 0
        layout = download_checkpoint(args.target, progress, endpoint=args.endpoint, timeout=args.timeout)
    except (DownloadError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted; run the same command again to resume.", file=sys.stderr)
        return 130
    print(f"Checkpoint ready at {layout.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
