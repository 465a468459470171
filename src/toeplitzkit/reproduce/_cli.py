"""Command-line entry of :mod:`toeplitzkit.reproduce`."""

from __future__ import annotations

import argparse
from typing import Sequence


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add the reproduce arguments to ``parser`` (a new one when None) and return it."""
    from . import EXPERIMENTS, SCALES

    if parser is None:
        parser = argparse.ArgumentParser(prog="python -m toeplitzkit.reproduce",
                                         description="Reproduce the thesis's tables and figures.")
    parser.add_argument("name", nargs="+", help="experiment(s): " + ", ".join(sorted(EXPERIMENTS)) + ", or 'all'")
    parser.add_argument("--scale", default="full", choices=SCALES, help="'full' (default) or 'smoke' (seconds)")
    parser.add_argument("--out-dir", default="results", help="output directory (default: results)")
    parser.add_argument("--device", default="cpu", help="torch device for the torch parts (default: cpu)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the experiments named on the command line; return the exit status."""
    from . import EXPERIMENTS, run

    args = build_parser().parse_args(argv)
    names = sorted(EXPERIMENTS) if args.name == ["all"] else args.name
    for name in names:
        if name not in EXPERIMENTS:
            print(f"unknown experiment {name!r}; choose from {sorted(EXPERIMENTS)} or 'all'")
            return 2
    for name in names:
        result = run(name, scale=args.scale, out_dir=args.out_dir, device=args.device)
        print(f"[{name}] {result['minutes']:.2f} min; wrote {', '.join(result['files'])}")
    return 0
