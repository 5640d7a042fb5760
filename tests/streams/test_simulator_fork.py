"""Forked formatting workers never free what they inherit from the process writing a world.

Garbage the parent held in a reference cycle (a test's Faust app can leave a RocksDB handle
so) was freed by the garbage collector of a forked worker, where RocksDB's close waits
forever for background threads the fork did not copy: a test session hung while writing a
world. Now the parent collects before forking and the workers freeze what they inherit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import gc, os, sys
from streams.simulator import World, WorldConfig, write_dir, world

format_in_worker = world._format_in_worker

def collecting_first(*args):  # a worker whose collector runs in full, as a busy one's may
    gc.collect()
    return format_in_worker(*args)

collecting_first.__qualname__ = "_format_in_worker"  # so the pool sends it by that name
collecting_first.__module__ = world.__name__
world._format_in_worker = collecting_first

class Finalised:
    def __del__(self):
        with open(sys.argv[1] + "/finalised-by", "a") as out:
            out.write(f"{os.getpid()}\\n")

garbage = Finalised()
garbage.cycle = garbage  # only the garbage collector frees it
gc.collect()  # still referenced: it moves to the oldest generation, which is rarely collected
del garbage
write_dir(World(WorldConfig(accounts=500, days=0.5, seed=5)), sys.argv[1] + "/world", workers=2)
print(os.getpid())
"""


def test_garbage_of_the_parent_is_freed_in_the_parent_never_in_a_forked_worker(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    parent = done.stdout.split()[-1]
    assert (tmp_path / "finalised-by").read_text().split() == [parent]
    assert (tmp_path / "world" / "bank.transfers.v1.jsonl").stat().st_size > 0
