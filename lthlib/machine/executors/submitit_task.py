"""What a Slurm job (or submitit's local executor) runs: one payload, requeued on preemption.

Imported only by :class:`lthlib.machine.executors.slurm.SlurmExecutor` (it imports submitit at the top):
submitit pickles :class:`Task` by reference, so the job imports this module, never the caller's
script.  When Slurm preempts the job or its time runs out, submitit calls :meth:`Task.checkpoint`,
which resubmits the same payload: the rerun finds the finished levels done and resumes the
interrupted one from its last epoch's checkpoint, to the same numbers.
"""
from __future__ import annotations

from typing import Any

import submitit

from .jobs import call


class Task(submitit.helpers.Checkpointable):
    """Run one payload with :func:`lthlib.machine.executors.call`; requeue it unchanged."""

    def __call__(self, payload: dict) -> Any:
        return call(payload)

    def checkpoint(self, payload: dict) -> submitit.helpers.DelayedSubmission:
        return submitit.helpers.DelayedSubmission(self, payload)
