"""Log a process's CPU seconds every N seconds, for the CPU-minutes of a training run.

Appends ``epoch_seconds pid name cpu_seconds`` lines (user + system time of the process and its waited-for
children, from ``/proc/PID/stat``) to a log until the process ends; ``scripts/collect_run.py --cpu-log`` and
``scripts/package_weights.py --cpu-log`` read it::

    python scripts/log_cpu_seconds.py "$(cat runs/base.pid)" finepose-base-h36m --out runs/cpu_seconds.log &
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` (None when it has ended)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return (utime + stime + cutime + cstime) / ticks


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pid", type=int)
    ap.add_argument("name")
    ap.add_argument("--out", type=Path, default=Path("runs/cpu_seconds.log"))
    ap.add_argument("--every", type=float, default=30.0)
    args = ap.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    while True:
        cpu = cpu_seconds(args.pid)
        if cpu is None:
            return 0
        with args.out.open("a") as fh:
            fh.write(f"{time.time():.0f} {args.pid} {args.name} {cpu:.1f}\n")
        time.sleep(args.every)


if __name__ == "__main__":
    raise SystemExit(main())
