"""Which process this is, among the benchmark's processes (one, or several under torchrun / accelerate)."""

from __future__ import annotations

import os

from compose.bench.jobs import Job


def is_main_process() -> bool:
    """True in a single process and in the main process of a torchrun / accelerate launch (RANK 0):
    the one that should print what a run found."""
    return int(os.environ.get("RANK", "0")) == 0


class Processes:
    """This process's place among the benchmark's processes: one, or several under torchrun/accelerate.

    Several processes are recognised by WORLD_SIZE > 1 (set by torchrun and accelerate launch); then
    accelerate.PartialState gives the rank, the barrier and the split (with cpu=True on a CPU run:
    without it each process saw itself as rank 0 of 1; the test suite runs two CPU processes under
    torchrun)."""

    def __init__(self, device: str):
        self.state = None
        self.rank, self.count = 0, 1
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            from accelerate import PartialState

            self.state = PartialState(cpu=device == "cpu")
            self.rank, self.count = self.state.process_index, self.state.num_processes

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> str | None:
        """The device this process should draw on, when accelerate chose one (a GPU per process)."""
        if self.state is not None and self.state.device.type == "cuda":
            return str(self.state.device)
        return None

    def barrier(self) -> None:
        if self.state is not None:
            self.state.wait_for_everyone()

    def share(self, jobs: list[Job]) -> list[Job]:
        """This process's share of the jobs (contiguous slices, the first processes one more)."""
        if self.state is None:
            return jobs
        with self.state.split_between_processes(jobs) as mine:
            return list(mine)
