"""A training run that kills itself with SIGKILL (used by test_resume_sigkill.py; not a test module).

Usage: ``python train_child.py '<json>'`` with keys ``out``, ``spec``, ``overrides``, ``settings`` (TrainConfig
fields), ``kill_step`` (0 = never), ``kill_mode`` (``"step"``: SIGKILL right after optimizer step
``kill_step``; ``"save"``: SIGKILL halfway through writing the checkpoint of step ``kill_step``),
``world`` (1, or 2 for two gloo DDP processes), ``resume`` (bool), ``port``.

With ``world=2`` the launcher and both ranks share one process group, and the kill takes the whole group
down at once (``os.killpg``), as an out-of-memory killer or a pre-empted node would.
"""
from __future__ import annotations

import io
import json
import os
import signal
import sys
import warnings


def _kill_all() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _run(rank: int, cfg: dict) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    if cfg["world"] > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(cfg["port"]), RANK=str(rank),
                          WORLD_SIZE=str(cfg["world"]), LOCAL_RANK=str(rank))
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    from posediff.training import train

    kill_step, mode = int(cfg.get("kill_step") or 0), cfg.get("kill_mode", "step")
    armed = {"on": False}
    real_save = torch.save

    def dying_save(obj, f, *args, **kwargs):
        if not armed["on"]:
            return real_save(obj, f, *args, **kwargs)
        buf = io.BytesIO()
        real_save(obj, buf, *args, **kwargs)
        data = buf.getvalue()
        f.write(data[: len(data) // 2])
        f.flush()
        _kill_all()

    torch.save = dying_save

    def on_step(info):
        if not kill_step or info.rank != 0:
            return
        if mode == "step" and info.step == kill_step:
            _kill_all()
        if mode == "save" and info.step == kill_step - 1:
            armed["on"] = True  # the next checkpoint write (step kill_step) dies halfway

    train(None if cfg.get("resume") else cfg["spec"], out=cfg["out"], overrides=cfg.get("overrides"),
          resume=bool(cfg.get("resume")), on_step=on_step, **cfg["settings"])


def main() -> None:
    cfg = json.loads(sys.argv[1])
    if cfg["world"] > 1:
        import torch.multiprocessing as mp

        mp.spawn(_run, args=(cfg,), nprocs=cfg["world"], join=True)
    else:
        _run(0, cfg)


if __name__ == "__main__":
    main()
