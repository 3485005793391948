"""The report's headline figure: each claim's effect, the paper's beside ours, and the verdict.

One row per claim, each on its own axis (the effects have different units: a Recall@10
difference, a relative lift, a speed ratio). The paper's effect is a diamond; ours is a
dot with its 95% interval (paired where per-user data exist), and the verdict is written
beside it. A claim whose check could not run has an empty row that says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from newsstudy.io import atomic_path  # noqa: E402
from newsstudy.saving import PAPER_COLOR  # noqa: E402

OURS_COLOR = "#1f77b4"
VERDICT_COLORS = {"reproduced": "#2ca02c", "partly": "#ff7f0e", "not reproduced": "#d62728",
                  "untestable in this world": "#7f7f7f", "not run": "#7f7f7f"}


def _scale(value: float, unit: str) -> float:
    return value * 100 if unit == "%" else value


def plot_headline(claims: Sequence) -> plt.Figure:
    """The figure (see the module doc) for claims of ``newsstudy.report.claims``."""
    fig, axes = plt.subplots(len(claims), 1, figsize=(10, 1.15 * len(claims) + 0.6),
                             squeeze=False)
    for ax, claim in zip(axes[:, 0], claims, strict=True):
        effect = claim.effect
        ax.set_yticks([])
        ax.set_title(claim.statement, loc="left", fontsize=8.5, fontweight="normal")
        ax.text(1.01, 0.5, claim.verdict, transform=ax.transAxes, va="center", fontsize=8.5,
                color=VERDICT_COLORS.get(claim.verdict, "black"), fontweight="bold")
        if effect is None:
            ax.text(0.5, 0.5, "no effect recorded", transform=ax.transAxes, ha="center",
                    va="center", fontsize=8, color="grey")
            ax.set_xticks([])
            continue
        unit = effect.unit
        ours = effect.ours
        x = _scale(ours.mean, unit)
        if ours.has_interval():
            low, high = _scale(ours.low, unit), _scale(ours.high, unit)
            ax.errorbar([x], [0], xerr=[[x - low], [high - x]], fmt="o", color=OURS_COLOR,
                        capsize=4, label="ours (95% interval)")
        else:
            ax.plot([x], [0], "o", color=OURS_COLOR, label="ours (no interval)")
        ax.plot([_scale(effect.paper, unit)], [0], "D", color=PAPER_COLOR, label="paper")
        if unit != "x":
            ax.axvline(0, color="grey", lw=0.8)
        else:
            ax.axvline(1, color="grey", lw=0.8)
            ax.set_xscale("log")
        suffix = {"%": " (%)", "x": " (ratio)", "R@10": " (R@10)"}[unit]
        ax.set_xlabel(effect.label + suffix, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.margins(x=0.25)
    for ax in axes[:, 0]:  # one legend, on the first row that has markers
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right", ncols=3)
            break
    fig.tight_layout()
    return fig


def save_headline(claims: Sequence, path: Path) -> Path:
    """Draw and save the figure as PNG (no timestamp, so same inputs give the same bytes)."""
    fig = plot_headline(claims)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path
