"""DistributedDataParallel on CPU (gloo): 2 processes train a few steps and end with identical weights."""
from __future__ import annotations

import os
import socket
import sys

import pytest
import torch
import torch.multiprocessing as mp

DATA = "synthetic:subjects=2,frames=27,cameras=1"


def _worker(rank: int, world: int, port: int, out: str, steps: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    import warnings

    warnings.simplefilter("ignore")
    from posediff.training import train

    res = train("d3dp-tiny", data=DATA, out=out, max_steps=steps, batch_size=4, lr=1e-3, progress=False,
                val_windows=2, log_every=1)
    torch.save({"state": {k: v.clone() for k, v in res.lifter.state_dict().items()}, "step": res.step},
               os.path.join(out, f"rank{rank}.pt"))


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="torch.distributed with gloo is not available")
@pytest.mark.skipif(sys.platform == "win32", reason="spawned gloo processes are slow on Windows")
def test_two_ranks_stay_in_sync(tmp_path):
    steps = 3
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path), steps), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert r0["step"] == r1["step"] == steps
    assert all(torch.equal(r0["state"][k], r1["state"][k]) for k in r0["state"])
    # the ranks trained: the weights moved away from the shared initialisation
    torch.manual_seed(1)
    import posediff

    init = posediff.build("d3dp-tiny").state_dict()
    assert any(not torch.equal(init[k], r0["state"][k]) for k in init)
    # only rank 0 wrote checkpoints, holding the random states of both ranks
    ck = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert ck["training"]["world_size"] == 2 and len(ck["training"]["rng"]) == 2
    assert not torch.equal(ck["training"]["rng"][0]["noise"], ck["training"]["rng"][1]["noise"])
    assert all(torch.equal(ck["state_dict"][k], r0["state"][k]) for k in r0["state"])
