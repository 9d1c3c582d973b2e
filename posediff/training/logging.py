"""Run logs: CSV files (always), TensorBoard (when installed) and a tqdm progress bar.

Only the main process logs. On resume the CSV files are cut back to the resumed step, so the rows of
the steps that are repeated after a crash appear once.
"""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any, Mapping, Optional

__all__ = ["CSVLog", "RunLogger", "tensorboard_available"]


def tensorboard_available() -> bool:
    """Whether ``torch.utils.tensorboard`` can be imported (needs the ``tensorboard`` package)."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except Exception:  # ImportError, or tensorboard's own import errors
        return False
    return True


class CSVLog:
    """Append rows to a CSV file with a fixed header.

    Args:
        path: The file (created with its header if absent).
        fields: Column names.
        truncate_after: When resuming, drop existing rows whose ``step`` exceeds this value.
    """

    def __init__(self, path: str | Path, fields: list[str], truncate_after: Optional[int] = None) -> None:
        self.path = Path(path)
        self.fields = list(fields)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file() and truncate_after is not None:
            self._truncate(truncate_after)
        new = not self.path.is_file() or self.path.stat().st_size == 0
        self._fh = open(self.path, "a", newline="")
        self._writer = csv.DictWriter(self._fh, fieldnames=self.fields, extrasaction="ignore")
        if new:
            self._writer.writeheader()
            self._fh.flush()

    def _truncate(self, step: int) -> None:
        with open(self.path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        kept = [r for r in rows if _as_int(r.get("step")) is None or _as_int(r.get("step")) <= step]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(kept)
        self.path.write_text(buf.getvalue())

    def write(self, row: Mapping[str, Any]) -> None:
        """Append one row (missing columns stay empty) and flush."""
        self._writer.writerow({k: _fmt(v) for k, v in row.items()})
        self._fh.flush()

    def close(self) -> None:
        """Close the file."""
        if not self._fh.closed:
            self._fh.close()


def _as_int(v: Any) -> Optional[int]:
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return None


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


TRAIN_FIELDS = ["step", "epoch", "index", "loss", "lr", "clips_per_s", "elapsed_s"]
VAL_FIELDS = ["step", "epoch", "index", "val_mpjpe_mm", "val_windows", "elapsed_s"]


class RunLogger:
    """CSV (``train_log.csv``, ``val_log.csv``), TensorBoard (``tb/``) and a progress bar.

    Args:
        run_dir: The run folder.
        enabled: False on non-main processes (everything becomes a no-op).
        progress: Show a tqdm bar.
        total_steps: Bar length (None = unknown).
        start_step: The step the run (re)starts from.
        tensorboard: Write TensorBoard events if the package is installed.
    """

    def __init__(self, run_dir: str | Path, enabled: bool = True, progress: bool = True,
                 total_steps: Optional[int] = None, start_step: int = 0, tensorboard: bool = True) -> None:
        self.enabled = enabled
        self.notes: list[str] = []
        self._bar = None
        self._tb = None
        self.train_csv = self.val_csv = None
        if not enabled:
            return
        run_dir = Path(run_dir)
        self.train_csv = CSVLog(run_dir / "train_log.csv", TRAIN_FIELDS, truncate_after=start_step)
        self.val_csv = CSVLog(run_dir / "val_log.csv", VAL_FIELDS, truncate_after=start_step)
        if tensorboard:
            if tensorboard_available():
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(run_dir / "tb"), purge_step=start_step or None)
            else:
                self.notes.append("tensorboard is not installed: logging to CSV only "
                                  "(pip install tensorboard to get TensorBoard event files)")
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True,
                             file=sys.stderr, desc="train")

    def note(self, text: str) -> None:
        """Print a message without breaking the progress bar."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def step(self, n: int = 1, **postfix: Any) -> None:
        """Advance the bar by ``n`` steps and show ``postfix`` (loss, lr, speed)."""
        if self._bar is not None:
            self._bar.update(n)
            if postfix:
                self._bar.set_postfix({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in postfix.items()},
                                      refresh=False)

    def train_row(self, row: Mapping[str, Any]) -> None:
        """Log one training row (``step``, ``loss``, ``lr``, ``clips_per_s``...)."""
        if not self.enabled:
            return
        self.train_csv.write(row)
        if self._tb is not None:
            step = int(row["step"])
            for k in ("loss", "lr", "clips_per_s"):
                if row.get(k) is not None:
                    self._tb.add_scalar(f"train/{k}", float(row[k]), step)

    def val_row(self, row: Mapping[str, Any]) -> None:
        """Log one validation row (``step``, ``val_mpjpe_mm``...)."""
        if not self.enabled:
            return
        self.val_csv.write(row)
        if self._tb is not None and row.get("val_mpjpe_mm") is not None:
            self._tb.add_scalar("val/mpjpe_mm", float(row["val_mpjpe_mm"]), int(row["step"]))

    def close(self) -> None:
        """Close files and the bar."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        for c in (self.train_csv, self.val_csv):
            if c is not None:
                c.close()
        if self._tb is not None:
            self._tb.close()
