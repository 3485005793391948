"""Write ``reports/<profile>/REPORT.md`` and a static ``reports/<profile>/index.html``.

The report is assembled from files only: the claims table from ``results/*.json``
(``newsstudy.report.claims``), every table of ``tables/`` that has a Markdown version
(read from its CSV, so cells with ``|`` survive), every figure of ``figures/*.png``, and
the provenance from ``runs.json``. Each file is placed in the section of the paper
artefact it regenerates (``PLACEMENT``, first matching pattern wins); anything unplaced
lands in "Other outputs", so a new table or figure never goes missing from the report.

The two outputs carry the same content. ``index.html`` opens from disk in any browser:
images by relative path (``figures/<name>.png``), CSS inline, no script, nothing fetched.
Both are written atomically.
"""

from __future__ import annotations

import fnmatch
import functools
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from newsstudy import paper, params, paths
from newsstudy.io import config_hash, read_json, write_text
from newsstudy.progress import duration
from newsstudy.report import claims as claims_module
from newsstudy.report import headline
from newsstudy.run import records
from newsstudy.run import status as run_status

LONG_TABLE_ROWS = 25  # longer tables are folded (HTML) or linked (Markdown)
FLOAT_FORMAT = ".3f"


# --- content blocks, rendered to Markdown and to HTML ---------------------------------


@dataclass
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    """A paragraph; ``[text](href)`` links and ``code`` spans are rendered in both outputs."""

    text: str
    css: str = ""


@dataclass
class Table:
    frame: pd.DataFrame
    caption: str = ""
    source: str = ""  # relative path of the file it comes from
    verdict_column: str | None = None


@dataclass
class Figure:
    src: str  # relative path, e.g. figures/03_offline_table.png
    caption: str


@dataclass
class Section:
    key: str
    title: str
    intro: str
    paper_tables: Sequence[str] = ()  # keys of paper.tables()
    blocks: list = field(default_factory=list)


SECTIONS: list[Section] = [
    Section("offline", "Offline retrieval (the paper's main table)",
            "Full-corpus retrieval of each test user's later clicks: Recall/NDCG at 5 and 10, "
            "MRR, 95% intervals over users. Notebooks 03_grpo (the LLM rows) and "
            "03b_baselines (the baselines); the paper's absolute numbers come from a "
            "production log, so the ordering is what can be compared.",
            ("offline",)),
    Section("ablation", "Reward ablation",
            "The teacher retrained without each reward in turn (notebook 03_grpo).",
            ("reward_ablation",)),
    Section("scaling", "Model-capacity scaling and best-of-N sampling",
            "The same recipe at several model sizes, and best-of-N lists chosen by the "
            "composite reward (notebook 04_scaling).",
            ("scaling", "best_of_n")),
    Section("distillation", "Distillation and inference efficiency",
            "Teacher to student: no distillation, supervised and on-policy distillation; "
            "serving throughput of both (notebook 05_distillation).",
            ("distillation", "efficiency")),
    Section("ab", "Online A/B test",
            "A simulated 7-day experiment with the student as an extra recall path, and A/A "
            "runs (notebook 06_ab_simulation).",
            ("ab_test",)),
    Section("world", "The simulated world, its gates and its assumptions",
            "No production logs are public; notebook 01_data builds the users, their "
            "cross-domain signals and the cleaning classifier. The world is built to carry "
            "the paper's premise, that inferring interests from cross-domain signals pays "
            "over copying them: that is an assumption taken from the paper, not a finding. "
            "Notebook 02_rewards checks that it holds here (a strategy that reads only what "
            "production logs beats copying, paired on the same users), notebook 03b_baselines "
            "whether any query list could beat the baselines (the oracle list served like "
            "any other), and the sensitivity table of notebook 01b_sensitivity shows which "
            "conclusion hangs on which assumption. Claims whose world gate fails are marked "
            "untestable in this world. The paper has no table for this.",
            ()),
    Section("rewards", "The five rewards",
            "Notebook 02_rewards: the rubric, scripted query strategies under every reward, "
            "and how each reward tracks retrieval quality. The paper has no table for this.",
            ()),
    Section("other", "Other outputs", "Tables and figures not placed in a section above.", ()),
]

# (file-name pattern, section key): the first match places a table or figure.
PLACEMENT: list[tuple[str, str]] = [
    ("offline_table", "offline"),
    ("03b_baselines", "offline"),
    ("03_offline_table", "offline"),
    ("03_lift", "offline"),
    ("03_warm_cold", "offline"),
    ("03b_warm_cold", "offline"),
    ("03_interest_quality", "offline"),
    ("03_reward_ablation", "ablation"),
    ("03_ablation*", "ablation"),
    ("03_*", "offline"),
    ("03b_*", "offline"),
    ("04_*", "scaling"),
    ("05_*", "distillation"),
    ("06_*", "ab"),
    ("01_*", "world"),
    ("01b_*", "world"),
    ("02_serving_path", "world"),
    ("02_degenerate_gate", "rewards"),
    ("02_*", "rewards"),
]

PAPER_TABLE_TITLES = {
    "offline": "The paper: offline retrieval",
    "reward_ablation": "The paper: reward ablation (R@10 / N@10)",
    "distillation": "The paper: distillation ablation (R@10 / N@10)",
    "scaling": "The paper: model-capacity scaling (R@10 / N@10, read off a bar chart)",
    "best_of_n": "The paper: best-of-N by the composite reward (R@10 / N@10)",
    "ab_test": "The paper: online A/B test, 7 days",
    "efficiency": "The paper: inference efficiency",
}

VERDICT_CSS = {
    claims_module.REPRODUCED: "ok", claims_module.PARTLY: "partly",
    claims_module.NOT_REPRODUCED: "bad", claims_module.NOT_RUN: "none",
    claims_module.UNTESTABLE: "none",
}



def inline_html(text: str) -> str:
    """A line of Markdown as HTML (markdown-it-py, CommonMark, raw HTML escaped): links,
    code spans and emphasis as in the Markdown report."""
    return _markdown().renderInline(text)


@functools.cache
def _markdown():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False})


def cell_text(value) -> str:
    """One table cell as text: floats with three decimals, missing values empty."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return format(value, FLOAT_FORMAT)
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    """A pipe table; ``|`` inside cells is escaped."""
    def row(cells) -> str:
        return "| " + " | ".join(cell_text(c).replace("|", "\\|").replace("\n", " ")
                                 for c in cells) + " |"

    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    rule = "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"
    lines = [row(frame.columns), rule] + [row(r) for r in frame.itertuples(index=False)]
    return "\n".join(lines)


def html_table(frame: pd.DataFrame, verdict_column: str | None = None) -> str:
    """An HTML table; numeric columns right-aligned, verdict cells coloured."""
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value, is_number in zip(frame.columns, record, numeric, strict=True):
            raw = cell_text(value)
            css = ' class="num"' if is_number else (' class="nw"' if len(raw) <= 24 else "")
            text = inline_html(raw)
            if column == verdict_column:
                css = f' class="verdict {VERDICT_CSS.get(str(value), "none")}"'
            cells.append(f"<td{css}>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table><thead><tr>{head}</tr></thead><tbody>" + "\n".join(rows)
            + "</tbody></table>")


def render_markdown(blocks: Sequence) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Para):
            parts.append(block.text)
        elif isinstance(block, Table):
            caption = f"**{block.caption}**" if block.caption else ""
            source = f" ([{block.source}]({block.source}))" if block.source else ""
            if len(block.frame) > LONG_TABLE_ROWS:
                parts.append(f"{caption}{source}: {len(block.frame)} rows, not shown here.")
            else:
                parts.append(f"{caption}{source}\n\n{markdown_table(block.frame)}".strip())
        elif isinstance(block, Figure):
            parts.append(f"![{block.caption}]({block.src})\n\n*{block.caption}*")
    return "\n\n".join(parts) + "\n"


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1180px; padding: 1.5rem; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 2px solid #ddd; padding-top: 0.8rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1.2rem; font-size: 0.86rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; vertical-align: top; }
td.num, td.nw { white-space: nowrap; }
th { background: #f3f3f3; text-align: left; } td.num { text-align: right;
  font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; } figure { margin: 1rem 0 1.6rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85rem; color: #555; }
.caption { font-weight: 600; margin-bottom: 0.1rem; } .source { font-weight: normal; color: #666; }
td.verdict { font-weight: 600; white-space: nowrap; }
td.ok { background: #dff3df; } td.partly { background: #fff4cc; }
td.bad { background: #f8dcdc; } td.none { background: #eee; color: #666; }
p.warning { background: #fff4cc; border-left: 4px solid #e0b000; padding: 0.5rem 0.8rem; }
nav ul { columns: 2; } code { background: #f5f5f5; padding: 0 0.2rem; }
"""


def render_html(blocks: Sequence, title: str) -> str:
    body = []
    for block in blocks:
        if isinstance(block, Heading):
            anchor = f' id="{html.escape(block.anchor)}"' if block.anchor else ""
            body.append(f"<h{block.level}{anchor}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Para):
            css = f' class="{block.css}"' if block.css else ""
            body.append(f"<p{css}>{inline_html(block.text)}</p>")
        elif isinstance(block, Table):
            source = (f' <span class="source">(<a href="{html.escape(block.source, quote=True)}">'
                      f"{html.escape(block.source)}</a>)</span>" if block.source else "")
            caption = f'<p class="caption">{html.escape(block.caption)}{source}</p>'
            table = f'<div class="scroll">{html_table(block.frame, block.verdict_column)}</div>'
            if len(block.frame) > LONG_TABLE_ROWS:
                body.append(f"<details>{caption.replace('<p', '<summary', 1).replace('</p>', '</summary>')}"
                            f"{table}</details>")
            else:
                body.append(caption + table)
        elif isinstance(block, Figure):
            src = html.escape(block.src, quote=True)
            body.append(f'<figure><a href="{src}"><img src="{src}" alt="{html.escape(block.caption)}">'
                        f"</a><figcaption>{html.escape(block.caption)}</figcaption></figure>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


# --- gathering the files ---------------------------------------------------------------


def read_table(csv: Path) -> pd.DataFrame:
    """A table from its CSV (the unnamed index column of an index-saved table gets no name)."""
    try:
        frame = pd.read_csv(csv)
    except pd.errors.EmptyDataError:  # a table with no columns (e.g. nothing matched)
        return pd.DataFrame({"(empty table)": []})
    return frame.rename(columns=lambda c: "" if str(c).startswith("Unnamed: ") else c)


def placement(name: str) -> tuple[str, int]:
    """The section a file belongs to, and its rank inside it (pattern order)."""
    for rank, (pattern, section) in enumerate(PLACEMENT):
        if fnmatch.fnmatch(name, pattern):
            return section, rank
    return "other", len(PLACEMENT)


FIGURE_CAPTIONS = {
    "01_signal_mix": "The world's signals: each domain's events (searches, browsing, news "
                     "clicks) split by kind of noise.",
    "01_events_per_user": "History events per user and domain, warm users against cold.",
    "01_topics": "The corpus's topics, by number of articles, labelled with their keywords.",
    "01_cleaning_confusion": "The cleaning classifier on held-out users: what it keeps and "
                             "drops, and its catch rate per kind of noise.",
    "01b_sensitivity": "The world's two gate ratios as each knob moves from low to default "
                       "to high; the thresholds dashed.",
    "02_strategies": "Each reference strategy's rewards (stacked) beside its Recall@10.",
    "02_reward_vs_recall": "Each reward and the total against Recall@10, one point per user "
                           "and strategy: does the reward prefer what retrieves?",
    "03_imitation": "The warm start's imitation: Recall@10 of its lists against SFT steps, "
                    "and against model size, beside its demonstrations'.",
    "03_grpo_training_curves": "Dr.GRPO per step and run: each teacher's own reward, the "
                               "rewards' parts, completion length, entropy and KL.",
    "03_offline_table": "The offline table: R@10 and N@10 per method with 95% intervals; the "
                        "paper's values as grey markers.",
    "03b_baselines": "The trained baselines: R@10 and N@10 with 95% intervals; the paper's "
                     "values as grey markers.",
    "04_validation": "The ladder: held-out SFT loss and imitation share against parameters.",
    "04_capacity": "R@10 and N@10 against parameters with the fitted trend (95% intervals); "
                   "right: ours and the paper's relative to each smallest model.",
    "04_best_of_n": "Best-of-N: R@10 and N@10 against N for the reward pick, the oracle and "
                    "the union, beside the paper's.",
    "04_best_of_n_gains": "What a pick gains over a random pick of N lists (95% intervals): "
                          "the reward's pick and the oracle's.",
    "04_compute_frontier": "R@10 against inference FLOPs per user, one line per size across N.",
    "05_distillation": "The four students' R@10 with 95% intervals beside the teacher's; the "
                       "paper's bars beside, on its own scale.",
    "05_curves": "Distillation against steps: the students' Recall@10 and reverse KL to the "
                 "teacher.",
    "06_daily": "The A/B test day by day: DAU, CTR and cold-user DAU per arm.",
    "06_aa_p_values": "1,000 A/A tests' p-values against the uniform they should follow.",
    "06_power_mde": "The smallest lift the test detects against users per arm, with the "
                    "paper's lifts and our arm size.",
}
"""What each figure shows, said in its caption (else its file name)."""


def caption_for(name: str) -> str:
    """What a table or figure shows: its sentence in ``FIGURE_CAPTIONS``, else its name
    (``03_offline_table`` -> ``03 offline table``)."""
    return FIGURE_CAPTIONS.get(name, name.replace("_", " "))


KEY_TABLES = frozenset({
    "offline_table", "03_offline_table", "03_gap_closed", "03_grpo_improvement",
    "03_reward_validity", "03_reward_ablation", "03b_baselines", "02_strategies",
    "02_degenerate_gate", "01b_sensitivity", "04_capacity", "04_best_of_n_gains",
    "05_distillation", "05_serving", "06_ab_table", "06_power_check",
})
"""The tables the report shows whole: each paper artefact's table and each gate's. The
others are linked (each also sits in its executed notebook), so the report repeats no
table a reader can open there."""


TABLE_USERS = {
    "02_strategies": ("02_rewards", "n_users", "test users"),
    "02_degenerate_gate": ("02_rewards", "n_users", "test users"),
    "03b_baselines": ("03b_baselines", "n_test_users", "test users"),
    "01b_sensitivity": ("01b_sensitivity", "n_users_per_world", "users per world"),
    "05_serving": ("05_distillation", "serving.teacher.users", "users served"),
    "06_ab_table": ("06_ab_simulation", "n_users", "users in the test"),
    "06_power_check": ("06_ab_simulation", "n_users", "users in the test"),
}
"""Where the number of users behind a shown table without an ``n`` column is recorded:
(results file, key path, what they are)."""


def recorded_users(profile: str, name: str) -> str:
    """`` (n = 1,172 test users)`` from the results file :data:`TABLE_USERS` names; "" if
    the table is not there or the value is missing."""
    if name not in TABLE_USERS:
        return ""
    notebook, key, what = TABLE_USERS[name]
    path = paths.results_path(profile, notebook)
    try:
        value = read_json(path)
        for part in key.split("."):
            value = value[part]
        return f" (n = {int(value):,} {what})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def rows_text(frame: pd.DataFrame) -> str:
    """`` (n = 979)``: the users behind a table, from its ``n`` (or ``n users``) column."""
    for column in ("n", "n users", "n_users", "users"):
        if column in frame and pd.api.types.is_numeric_dtype(frame[column]):
            values = frame[column].dropna()
            if len(values):
                low, high = int(values.min()), int(values.max())
                return f" (n = {low:,})" if low == high else f" (n = {low:,} to {high:,})"
    return ""


def output_blocks(profile: str) -> dict[str, list]:
    """Section key -> its key tables (with a Markdown version), then a line linking the
    others, and its figures, in placement order."""
    tables, figures = paths.tables_dir(profile), paths.figures_dir(profile)
    items: list[tuple[str, int, str, int, object]] = []
    others: dict[str, list[str]] = {}
    for md in sorted(tables.glob("*.md")) if tables.is_dir() else []:
        csv = md.with_suffix(".csv")
        if not csv.is_file():
            continue
        section, rank = placement(md.stem)
        if md.stem not in KEY_TABLES:
            others.setdefault(section, []).append(f"[{md.stem}](tables/{csv.name})")
            continue
        frame = read_table(csv)
        items.append((section, rank, md.stem, 0,
                      Table(frame, caption_for(md.stem)
                            + (rows_text(frame) or recorded_users(profile, md.stem)),
                            f"tables/{csv.name}")))
    for section, links in others.items():
        items.append((section, len(PLACEMENT) + 1, "~", 2, Para(
            "More tables of this section (each also in its executed notebook): "
            + ", ".join(links) + ".")))
    for png in sorted(figures.glob("*.png")) if figures.is_dir() else []:
        section, rank = placement(png.stem)
        svg = png.with_suffix(".svg")
        caption = caption_for(png.stem) + (f" (figures/{png.name}, also .svg)"
                                           if svg.is_file() else f" (figures/{png.name})")
        items.append((section, rank, png.stem, 1, Figure(f"figures/{png.name}", caption)))
    out: dict[str, list] = {}
    for section, _, _, _, block in sorted(items, key=lambda t: t[:4]):
        out.setdefault(section, []).append(block)
    return out


def data_files(profile: str) -> list[str]:
    """CSV tables with no Markdown version (per-user data), as relative paths."""
    tables = paths.tables_dir(profile)
    if not tables.is_dir():
        return []
    return [f"tables/{csv.name}" for csv in sorted(tables.glob("*.csv"))
            if not csv.with_suffix(".md").is_file()]


# --- the report ------------------------------------------------------------------------


def claims_table(found: Sequence[claims_module.Claim]) -> pd.DataFrame:
    return pd.DataFrame([{
        "claim": c.statement, "notebooks": ", ".join(c.notebooks), "paper": c.paper,
        "ours (95% interval)": c.ours, "verdict": c.verdict, "where we differ": c.note,
    } for c in found])


def effect_text(value: float | None, unit: str) -> str:
    """A headline effect in its unit: ``+0.021`` (R@10), ``+0.95%``, ``33.5x``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "%":
        return f"{value * 100:+.2f}%"
    if unit == "x":
        return f"{value:.1f}x"
    return f"{value:+.3f}"


def one_line_reason(claim: claims_module.Claim) -> str:
    """Why the claim got its verdict, in one line: the gates that failed, or the first part
    that does not hold."""
    note = claim.note or ""
    if claim.verdict == claims_module.UNTESTABLE:
        gates = re.findall(r"'([^']+)' \(", note.split(". The instrument")[0])
        return "gate failed: " + "; ".join(dict.fromkeys(gates)) if gates else note[:100]
    if claim.verdict == claims_module.REPRODUCED:
        return "every part holds clearly"
    if claim.verdict == claims_module.NOT_RUN:
        return "not run yet"
    first = note.split("; ")[0].split(" (paired")[0]
    return first if len(first) <= 100 else first[:97].rstrip() + "..."


def verdict_table(found: Sequence[claims_module.Claim]) -> pd.DataFrame:
    """The report's first table: each claim's headline effect, the paper's and ours (95%
    interval, n), the verdict and one line of why."""
    rows = []
    for claim in found:
        effect = claim.effect
        if effect is None:
            paper_value, ours = "-", "-"
        else:
            paper_value = effect_text(effect.paper, effect.unit)
            ours = effect_text(effect.ours.mean, effect.unit)
            if effect.ours.low is not None and effect.ours.high is not None:
                ours += (f" [{effect_text(effect.ours.low, effect.unit)}, "
                         f"{effect_text(effect.ours.high, effect.unit)}]")
            if effect.ours.n:
                ours += f" (n = {effect.ours.n:,})"
        rows.append({"claim": claim.statement, "effect": effect.label if effect else "-",
                     "paper": paper_value, "ours (95% interval)": ours,
                     "verdict": claim.verdict, "why": one_line_reason(claim)})
    return pd.DataFrame(rows)


def short(text: str | None, n: int = 12) -> str:
    return (text or "")[:n]


def seed_text(values: dict) -> str:
    """``seed 0`` and, where a notebook trains several, ``3 seeds``."""
    text = f"seed {values.get('seed', '?')}"
    return text + (f", {values['n_seeds']} seeds" if "n_seeds" in values else "")


def wall_time(record: dict) -> str:
    """A run's wall time as text, or why there is none."""
    if record.get("incomplete"):
        return f"incomplete (started {record.get('started', '?')})"
    if record.get("wall_seconds") is None:
        return "not recorded"
    return duration(record["wall_seconds"])


def provenance_blocks(profile: str) -> list:
    """Git, parameter hashes, seeds, package versions, machine, wall time per notebook."""
    runs = records.load_runs(profile)
    checks = {c.notebook: c for c in run_status.params_status(profile)}
    names = sorted(set(params.notebooks()) | set(runs) | set(checks))
    git = records.git_state()
    dirty = " (with uncommitted changes to the study's sources)" if git["git_dirty"] else ""
    blocks: list = [
        Heading(2, "Provenance", "provenance"),
        Para(f"Report built from the code at git commit `{git['git_commit'] or 'unknown'}`"
             f"{dirty}. Each notebook's run is recorded in `runs.json` (written by "
             f"`newsstudy run` / `newsstudy reproduce`): the commit it ran at, the hash of its "
             f"validated parameters, its fingerprint (code + parameters + inputs) and its wall "
             f"time. 'params now' is the hash of `params/{profile}/<notebook>.yaml` today."),
    ]
    rows = []
    for name in names:
        record = runs.get(name, {})
        check = checks.get(name)
        try:
            current = params.load_params(name, profile).model_dump()
        except params.ParamsError:
            current = None
        finished = bool(record) and not record.get("incomplete")
        seeds = seed_text(record["params"]) if finished and "params" in record else (
            f"{seed_text(current)} (params now)" if current else "-")
        executed = paths.report_dir(profile) / f"{name}.ipynb"
        rows.append({
            "notebook": f"[{name}]({name}.ipynb)" if executed.is_file() else name,
            "params now": config_hash(current) if current else "-",
            "params of the run": record.get("params_hash", "-"),
            "results vs params": check.status if check else "no results",
            "seeds": seeds,
            "wall time": wall_time(record),
            "finished (UTC)": record.get("finished", "-"),
            "fingerprint": record.get("fingerprint", "-"),
            "git commit": short(record.get("git_commit")) + (" (dirty)" if record.get(
                "git_dirty") else "") or "-",
        })
    recorded = records.runs_path(profile).is_file()
    blocks.append(Table(pd.DataFrame(rows), "Runs per notebook", "runs.json" if recorded else ""))
    finished = [r for r in runs.values() if not r.get("incomplete")]
    latest = max(finished, key=lambda r: r.get("finished", ""), default={})
    machine = latest.get("machine") or records.machine()
    where = "the latest recorded run" if latest.get("machine") else "the machine building the report"
    blocks.append(Table(pd.DataFrame([{"": key, "value": str(value)}
                                      for key, value in machine.items()]),
                        f"Machine ({where})"))
    packages = latest.get("packages") or records.package_versions()
    where = "the latest recorded run" if latest.get("packages") else "installed now"
    blocks.append(Table(pd.DataFrame([{"package": k, "version": v or "not installed"}
                                      for k, v in packages.items()]),
                        f"Package versions ({where})"))
    total = sum(r.get("wall_seconds") or 0 for r in finished)
    blocks.append(Para(f"Total recorded wall time: {duration(total)} over "
                       f"{len(finished)} notebook(s)."))
    return blocks


def variant_blocks(variant: str) -> list:
    """What a variant changed against its base profile (``variant.json``)."""
    from newsstudy import variants

    manifest = variants.load_manifest(variant)
    rows = [{"notebook": notebook, "parameter": key, "base": repr(values[0]),
             "this variant": repr(values[1])}
            for notebook, changed in manifest.get("changed", {}).items()
            for key, values in changed.items()]
    copied = manifest.get("copied_from_base", [])
    blocks: list = [Para(
        f"What changed against the `{manifest.get('base', '?')}` profile (from "
        f"`{variants.MANIFEST}`); the results of "
        f"{', '.join(copied) if copied else 'no notebook'} are the base's, copied in before "
        "the variant ran. Compare its numbers with the base's report only where the "
        "change touches them.", "warning")]
    if rows:
        blocks.append(Table(pd.DataFrame(rows), "Parameters of this variant that differ "
                            "from its base"))
    return blocks


def verdict_counts(counts: dict[str, int]) -> str:
    """``1 partly, 1 not reproduced, 6 untestable in this world`` (verdicts with none left out)."""
    return ", ".join(f"{n} {verdict}" for verdict, n in counts.items() if n) or "none"


@dataclass
class Built:
    markdown: Path
    html: Path
    claims: list[claims_module.Claim]


HEADLINE = "headline.png"
"""The headline figure, beside REPORT.md (not under figures/, which holds the notebooks')."""


def assemble(profile: str) -> tuple[list, list[claims_module.Claim]]:
    """Every block of the report, and the claims it found (writes the headline figure)."""
    found = claims_module.evaluate_all(claims_module.Results.load(profile))
    headline.save_headline(found, paths.report_dir(profile) / HEADLINE)
    outputs = output_blocks(profile)
    paper_tables = paper.tables()
    counts = {v: sum(c.verdict == v for c in found) for v in claims_module.VERDICTS}
    shown = paths.output_name(profile)
    blocks: list = [
        Heading(1, f"Reproduction report: {shown}"
                   + (f" (a variant of the {profile} profile)" if shown != profile
                      else " profile")),
        Para("Zhu et al., arXiv:2602.15005, checked claim by claim: the paper's number (PAPER.md) "
             "beside ours, read from the results files in this folder. A claim whose "
             "instrument failed a check reads *untestable in this world*. Regenerate with "
             f"`newsstudy reproduce --profile {profile}`."),
        Table(verdict_table(found), f"Verdicts: {verdict_counts(counts)}",
              verdict_column="verdict"),
        Figure(f"{HEADLINE}", "Each claim's headline effect: the paper's (diamond) beside "
               "ours (dot, 95% interval, paired where per-user data exist), and the verdict."),
    ]
    if shown != profile:
        blocks += variant_blocks(shown)
    by_status: dict[str, list[str]] = {}
    for check in run_status.params_status(profile):
        if not check.ok:
            by_status.setdefault(check.status, []).append(check.notebook)
    for status, names in by_status.items():
        blocks.append(Para(f"Note: results of {', '.join(names)}: {status}, so they cannot be "
                           f"vouched for as produced by params/{profile}/ (see Provenance).",
                           "warning"))
    stale = run_status.stale_inputs(profile)
    if stale:
        blocks.append(Para(f"Note: {', '.join(stale)} ran on other inputs than the current "
                           "results of the notebooks before them (an older world or serving "
                           "path): their numbers are not comparable with those until "
                           f"`newsstudy reproduce --profile {profile}` re-runs them.",
                           "warning"))
    toc = [("claims", "Claims in detail")] + [(s.key, s.title) for s in SECTIONS
                                    if s.key != "other" or outputs.get("other")]
    toc.append(("provenance", "Provenance"))
    blocks.append(Para(" · ".join(f"[{title}](#{key})" for key, title in toc)))
    blocks += [
        Heading(2, "Claims in detail", "claims"),
        Para(f"{counts[claims_module.REPRODUCED]} reproduced, {counts[claims_module.PARTLY]} "
             f"partly, {counts[claims_module.NOT_REPRODUCED]} not reproduced, "
             f"{counts[claims_module.NOT_RUN]} not run, "
             f"{counts[claims_module.UNTESTABLE]} untestable in this world (a gate of the "
             "instrument failed: the world's in notebooks 02 / 03b, the teacher's in 03, the "
             "ladder's in 04, the distillation teacher's in 05). A part of a claim that "
             "compares two methods holds "
             "clearly when the paired 95% interval of their per-user difference excludes "
             "zero (separate intervals that do not overlap where no per-user data exist; or "
             "p < 0.05, or the threshold is met); "
             "'reproduced' needs every part clearly, 'partly' at least one part clearly and at "
             "least half of them in direction (see `newsstudy/report/verdicts.py`)."),
        Table(claims_table(found), "The paper's claims, checked", verdict_column="verdict"),
    ]
    for section in SECTIONS:
        content = outputs.get(section.key, [])
        if section.key == "other" and not content:
            continue
        blocks += [Heading(2, section.title, section.key), Para(section.intro)]
        for key in section.paper_tables:
            blocks.append(Table(paper_tables[key], PAPER_TABLE_TITLES[key]))
        if content:
            if section.paper_tables:
                blocks.append(Para("Ours:"))
            blocks += content
        else:
            blocks.append(Para("Ours: not run yet (no tables or figures for this section)."))
    data = data_files(profile)
    if data:
        blocks.append(Para("Per-user data behind the tables: "
                           + ", ".join(f"[{d}]({d})" for d in data) + "."))
    blocks += provenance_blocks(profile)
    return blocks, found


def build_report(profile: str) -> Built:
    """Write ``REPORT.md`` and ``index.html`` for a profile; return their paths and claims."""
    if profile not in params.profiles():
        raise params.ParamsError(
            f"unknown profile {profile!r} (known: {', '.join(params.profiles())})")
    blocks, found = assemble(profile)
    folder = paths.report_dir(profile)
    markdown = write_text(folder / "REPORT.md", render_markdown(blocks))
    page = write_text(folder / "index.html",
                      render_html(blocks, f"newsstudy reproduction report ({profile})"))
    return Built(markdown, page, found)
