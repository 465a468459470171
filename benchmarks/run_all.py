"""Run every benchmark script of benchmarks/ and collect their results in results/benchmarks.json.

Each ``benchmarks/*.py`` (except this file and the docs generator) is run in its own
process, in quick or full mode.  The options a script understands are read from its
``--help``: ``--quick`` in quick mode (or a few size options for scripts without
one), and ``--json`` / ``--out`` to have it write its JSON where this script collects
it.  A script that writes no JSON is recorded with the tail of its printed output.
Then ``docs/benchmarks.md`` can be regenerated with ``benchmarks/make_benchmarks_md.py``.

Run: ``python benchmarks/run_all.py [--quick] [--only NAME ...] [--out results/benchmarks.json]``
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SKIP = {"run_all.py", "make_benchmarks_md.py"}

# Size options for scripts that have no --quick, used in quick mode when their --help lists them.
QUICK_FALLBACK = {
    "--size": "64", "--repeat": "1", "--reps": "3", "--n": "512", "--depth": "8", "--networks": "4",
    "--inputs": "4", "--batch": "32", "--resnet-batch": "4",
}


def machine():
    return f"{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}), {platform.system()}"


def script_options(path):
    """The option strings a script's --help mentions."""
    out = subprocess.run([sys.executable, str(path), "--help"], capture_output=True, text=True, timeout=120,
                         cwd=ROOT)
    return {tok.rstrip(",").split("=")[0] for tok in out.stdout.split() if tok.startswith("--")}


def command(path, quick, json_path):
    opts = script_options(path)
    cmd = [sys.executable, str(path)]
    if quick:
        if "--quick" in opts:
            cmd.append("--quick")
        else:
            for opt, value in QUICK_FALLBACK.items():
                if opt in opts:
                    cmd += [opt, value]
    for opt in ("--json", "--out"):
        if opt in opts:
            cmd += [opt, str(json_path)]
            break
    return cmd


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every script in its quick mode")
    ap.add_argument("--only", nargs="*", help="script names (without .py) to run")
    ap.add_argument("--out", default="results/benchmarks.json")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per script (default 600 quick, 3600 full)")
    args = ap.parse_args(argv)
    timeout = args.timeout or (600 if args.quick else 3600)
    out_dir = ROOT / "results" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    scripts = sorted(p for p in HERE.glob("*.py") if p.name not in SKIP)
    if args.only:
        scripts = [p for p in scripts if p.stem in set(args.only)]
    collected = {}
    for path in scripts:
        json_path = out_dir / f"{path.stem}.json"
        if json_path.exists():
            json_path.unlink()
        cmd = command(path, args.quick, json_path)
        print(f"$ {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
            rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc, stdout, stderr = "timeout", exc.stdout or "", f"timed out after {timeout} s"
            stdout = stdout.decode() if isinstance(stdout, bytes) else stdout
        seconds = time.perf_counter() - t0
        print(stdout, flush=True)
        entry = {"command": " ".join(["python"] + [str(Path(c).relative_to(ROOT)) if c == str(path) else c
                                                 for c in cmd[1:]]),
                 "returncode": rc, "seconds": seconds, "stdout_tail": stdout[-4000:]}
        if rc != 0:
            entry["stderr_tail"] = (stderr or "")[-2000:]
            print(f"  !! {path.name} returned {rc}: {(stderr or '').strip().splitlines()[-1:]}")
        if json_path.exists():
            try:
                entry["results"] = json.loads(json_path.read_text())
            except json.JSONDecodeError as exc:
                entry["results_error"] = str(exc)
        collected[path.stem] = entry
        print(f"  [{path.stem}] {seconds:.1f} s, rc={rc}", flush=True)
    report = {"machine": machine(), "mode": "quick" if args.quick else "full",
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "python": platform.python_version(), "benchmarks": collected}
    out = ROOT / args.out if not Path(args.out).is_absolute() else Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str))
    print(f"wrote {out}")
    return 0 if all(e["returncode"] == 0 for e in collected.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
