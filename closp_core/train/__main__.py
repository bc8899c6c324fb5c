"""``python -m closp_core.train --config CONFIG.toml [--resume] [--device D] [--max-steps N]``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence

from closp_core.errors import ClospError
from closp_core.train.config import load_config
from closp_core.train.session import train


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m closp_core.train",
        description="Fine-tune a CLOSP model on labelled chips (see configs/reference.toml).",
    )
    parser.add_argument("--config", required=True, help="training config (TOML)")
    parser.add_argument("--resume", action="store_true", help="continue the run in output.dir")
    parser.add_argument("--device", help="override train.device (auto, cpu, cuda, mps)")
    parser.add_argument("--max-steps", type=int, help="override train.max_steps")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config)
        section = config.train
        if args.device:
            section = dataclasses.replace(section, device=args.device)
        if args.max_steps is not None:
            section = dataclasses.replace(section, max_steps=args.max_steps)
        if args.no_progress:
            section = dataclasses.replace(section, progress=False)
        config = dataclasses.replace(config, train=section)
        result = train(config, resume=args.resume)
    except ClospError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result.summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
