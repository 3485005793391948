"""Training runs that report progress as labelled lines, not as log dicts or bars.

With its bar off, a transformers ``Trainer`` prints every log entry as a raw dict; with it
on, a bar per run interleaves with the notebook bars of ``reproduce``. :func:`quiet`
removes both and reports the run's steps on the terminal instead
(:class:`newsstudy.progress.Progress`): ``[03_grpo] Dr.GRPO verifiable seed 0: 40/100
steps, 1m10s so far, about 1m45s left``.
"""

from __future__ import annotations

from transformers import PrinterCallback, ProgressCallback, TrainerCallback

from newsstudy.progress import Progress


class StepLines(TrainerCallback):
    """A line at every tenth of a training run's steps."""

    def __init__(self, label: str):
        self.label = label
        self.progress: Progress | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.progress = Progress(self.label, state.max_steps, "steps")

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(state.global_step)


def quiet(trainer, label: str):
    """Remove the trainer's log printer and bar; report its steps as ``label`` lines."""
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(StepLines(label))
    return trainer
