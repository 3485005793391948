"""The ``newsstudy`` command: run notebooks, reproduce a profile, build the report.

    newsstudy reproduce --profile default          # every notebook, then the report
    newsstudy list 03_grpo                         # one notebook's parameters
    newsstudy run 03_grpo --profile default -p grpo_learning_rate=0.001
    newsstudy report --profile default --variant grpo_learning_rate=0.001

``run`` and ``reproduce`` skip a notebook whose code, inputs and parameters are unchanged
since its last successful run (``--force`` runs it anyway); an interrupted ``reproduce``
resumes where it stopped (``newsstudy.run.runner`` says how).

Exit status: 0 success, 1 a notebook failed, 2 bad input (unknown notebook or profile,
bad parameter), 130 interrupted; on 2 nothing was run and nothing was overwritten. The
work happens in ``newsstudy.run.runner`` and ``newsstudy.report``; this module parses
arguments and prints.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from newsstudy import params, paths
from newsstudy.io import write_text
from newsstudy.run import runner

EXAMPLES = """examples:
  newsstudy reproduce --profile default       the whole study, then its report
  newsstudy list                              notebooks and profiles
  newsstudy list 03_grpo                      one notebook's parameters: value, type, file, meaning
  newsstudy run 03_grpo --profile default -p grpo_learning_rate=0.001
                                              one notebook with another value: it writes to
                                              reports/default+grpo_learning_rate=0.001/,
                                              reusing the default profile's world and checkpoints
  newsstudy run 03_grpo --profile default -f mine.yaml --variant mine
                                              values from a file of your own, into reports/default+mine/
  newsstudy report --profile default --variant mine
                                              the report of that variant, with what changed
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with the ``run``, ``reproduce``, ``report``, ``plan`` and ``list``
    subcommands."""
    parser = argparse.ArgumentParser(prog="newsstudy", description=__doc__.splitlines()[0],
                                     epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="execute one notebook into reports/<profile>/ (or a variant of it)",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("notebook", help="notebook name, e.g. 01_data (or notebooks/01_data.ipynb)")
    run.add_argument("--profile", required=True, help="params/<profile>/ to use")
    run.add_argument(
        "-p",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one parameter (value read as YAML); repeatable; a changed value "
        "writes to a variant, reports/<profile>+<name>/",
    )
    run.add_argument("-f", dest="params_file", metavar="FILE",
                     help="a params file of your own (YAML), laid over the profile's; "
                     "-p values win over it")
    run.add_argument("--variant", metavar="NAME",
                     help="name of the variant to write to (default: named after the "
                     "changed values)")
    run.add_argument("--force", action="store_true",
                     help="run even if the report is up to date or the memory check refuses")

    reproduce = commands.add_parser(
        "reproduce", help="execute every notebook in order (skipping those up to date), "
        "then build the report"
    )
    reproduce.add_argument("--profile", required=True, help="params/<profile>/ to use")
    reproduce.add_argument(
        "--force", action="store_true",
        help="run even if reports are up to date or the memory check refuses"
    )
    reproduce.add_argument(
        "--jobs", type=int, default=None, metavar="N",
        help="notebooks to run at once when neither needs the other (default: the "
        "machine's cores, at most 2; 1 runs them one after the other)")

    report = commands.add_parser(
        "report", help="write reports/<profile>/REPORT.md and index.html from the results"
    )
    report.add_argument("--profile", required=True, help="reports/<profile>/ to summarise")
    report.add_argument("--variant", metavar="NAME",
                        help="summarise the variant reports/<profile>+<NAME>/ instead")

    plan = commands.add_parser(
        "plan", help="validate a GPU profile and print its plan (models, steps, GPU memory) "
        "without loading weights")
    plan.add_argument("--profile", default="paper", help="params/<profile>/ to plan")

    listing = commands.add_parser(
        "list", help="show notebooks and profiles, or one notebook's parameters")
    listing.add_argument("notebook", nargs="?",
                         help="a notebook, e.g. 03_grpo: each parameter's value, type, the "
                         "file it comes from and its meaning")
    listing.add_argument("--profile", default="default",
                         help="the profile whose values to show (default: default)")

    budgets = commands.add_parser(
        "budgets", help="each notebook's time budget beside its last recorded run (markdown)")
    budgets.add_argument("--profile", default="default", help="reports/<profile>/runs.json to read")
    budgets.add_argument("--write", action="store_true",
                         help="write docs/budgets.md instead of printing")
    return parser


def notebook_name(argument: str) -> str:
    """Accept ``01_data`` as well as a path such as ``notebooks/01_data.ipynb``."""
    return Path(argument).stem if argument.endswith(".ipynb") else argument


def command_run(args: argparse.Namespace) -> None:
    """``newsstudy run``: one notebook (into a variant when its values differ)."""
    overrides: dict = {}
    if args.params_file:
        overrides |= params.read_own_params_file(Path(args.params_file), args.profile)
    overrides |= dict(params.parse_override(text) for text in args.overrides)
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        progress(line)

    began = time.perf_counter()
    report = runner.run_notebook(notebook_name(args.notebook), args.profile, overrides,
                                 args.force, log=log, variant=args.variant)
    if not any(line.endswith("(--force re-runs it)") for line in lines):
        print(summary([notebook_name(args.notebook)], report.parent,
                      time.perf_counter() - began))


def command_reproduce(args: argparse.Namespace) -> None:
    """``newsstudy reproduce``: every notebook of a profile, then the report."""
    from newsstudy.report import build_report

    began = time.perf_counter()
    reports = runner.reproduce(args.profile, force=args.force, log=progress, jobs=args.jobs)
    built = build_report(args.profile)
    print(summary([report.stem for report in reports], paths.report_dir(args.profile),
                  time.perf_counter() - began, built.markdown))


def summary(notebooks: list[str], folder: Path, seconds: float,
            report: Path | None = None) -> str:
    """The closing lines of ``run`` and ``reproduce``: time, the gates of the notebooks'
    results (passed, failed and which), and where the results and the report are."""
    from newsstudy.io import read_json

    passed, failed = 0, []
    for name in notebooks:
        path = folder / "results" / f"{name}.json"
        try:
            gates = read_json(path).get("gates", {}) if path.is_file() else {}
        except ValueError:
            gates = {}
        for gate, value in gates.items():
            ok = value.get("passes") if isinstance(value, dict) else value
            if ok is True:
                passed += 1
            elif ok is False:
                failed.append(f"{name}:{gate}")
    shown = f"reports/{folder.name}"
    lines = [f"done in {runner.duration(seconds)}: {len(notebooks)} notebook(s); gates "
             f"{passed} passed, {len(failed)} failed"
             + (f" ({', '.join(failed[:6])}{', ...' if len(failed) > 6 else ''})" if failed
                else ""),
             f"results: {shown}/results/  executed notebooks: {shown}/"]
    if report is not None:
        lines.append(f"report:  {shown}/{report.name} (and index.html beside it)")
    else:
        base, variant = paths.split_variant(folder.name)
        lines.append(f"report:  newsstudy report --profile {base}"
                     + (f" --variant {variant}" if variant else ""))
    return "\n".join(lines)


def command_report(args: argparse.Namespace) -> None:
    """``newsstudy report``: the report of a profile (or variant) from the files there."""
    from newsstudy import variants
    from newsstudy.report import build_report

    chosen = None
    if args.variant:
        try:
            chosen = variants.full_name(args.profile, args.variant)
        except variants.VariantError as err:
            raise params.ParamsError(str(err)) from None
        if not (paths.reports_root() / chosen).is_dir():
            raise params.ParamsError(f"variant: no reports/{chosen}/ (run a notebook with "
                                     f"--variant {args.variant} first)")
    with variants.active(chosen):
        built = build_report(args.profile)
    counts = {}
    for claim in built.claims:
        counts[claim.verdict] = counts.get(claim.verdict, 0) + 1
    print(f"wrote {built.markdown} and {built.html}")
    print("claims: " + ", ".join(f"{n} {verdict}" for verdict, n in counts.items()))


def progress(line: str) -> None:
    """A progress line, flushed at once (papermill's cell bar shares the terminal)."""
    print(line, flush=True)


def format_table(rows: list[dict[str, str]], columns: list[str]) -> str:
    """Rows as a plain text table with aligned columns."""
    widths = {c: max(len(c), *(len(row[c]) for row in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(row[c].ljust(widths[c]) for c in columns) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def command_list(args: argparse.Namespace) -> None:
    """``newsstudy list``: notebooks and profiles; ``newsstudy list NB``: its parameters."""
    if args.notebook:
        print(parameter_listing(notebook_name(args.notebook), args.profile))
        return
    profiles = params.profiles()
    print(f"notebooks: {', '.join(params.notebooks()) or '(none)'}")
    print(f"profiles:  {', '.join(profiles) or '(none)'}")
    for profile in profiles:
        try:
            names = params.profile_notebooks(profile)
        except params.ParamsError as err:
            print(f"  {profile}: {err}")
            continue
        print(f"  {profile}: runs {', '.join(names)}")
    print("`newsstudy list NOTEBOOK` shows one notebook's parameters, e.g. newsstudy list 03_grpo")


MEANING_WIDTH = 72


def short_type(text: str) -> str:
    """A type as the listing shows it: ``Literal['a', 'b']`` as ``'a'|'b'``."""
    import re

    return re.sub(r"Literal\[([^\]]*)\]",
                  lambda match: "|".join(part.strip() for part in match.group(1).split(",")),
                  text)


def parameter_listing(notebook: str, profile: str) -> str:
    """One notebook's parameters under ``profile``: name, value, type, the file the value
    comes from, and a one-line meaning; the parameters cell's knobs first."""
    values = params.load_params(notebook, profile).model_dump()
    sources = params.value_sources(notebook, profile)
    knobs = [name for name in params.cell_parameters(notebook) if name in values]
    rows = []
    for row in sorted(params.schema_table(notebook),
                      key=lambda r: (r["name"] not in knobs, knobs.index(r["name"])
                                     if r["name"] in knobs else 0)):
        meaning = row["description"].split(". ")[0].rstrip(".")
        if len(meaning) > MEANING_WIDTH:
            meaning = meaning[: MEANING_WIDTH - 3].rstrip() + "..."
        rows.append({"name": row["name"] + (" *" if row["name"] in knobs else ""),
                     "value": repr(values[row["name"]]), "type": short_type(row["type"]),
                     "from": sources[row["name"]], "meaning": meaning})
    return "\n".join([
        f"{notebook} under profile {profile} ({len(rows)} parameters; * in the notebook's "
        f"parameters cell)",
        format_table(rows, ["name", "value", "type", "from", "meaning"]),
        "",
        f"change one: newsstudy run {notebook} --profile {profile} -p NAME=VALUE "
        f"(writes to a variant, reports/{profile}+NAME=VALUE/)"])


def command_budgets(args: argparse.Namespace) -> None:
    """``newsstudy budgets``: the budgets table from runs.json (or docs/budgets.md written)."""
    from newsstudy.report import budgets

    if not args.write:
        print(budgets.budget_markdown(args.profile))
        return
    page = paths.PROJECT_ROOT / "docs" / "budgets.md"
    write_text(page, budgets.budgets_page(args.profile))
    print(f"wrote {page}")


COMMANDS = {
    "budgets": command_budgets,
    "run": command_run,
    "reproduce": command_reproduce,
    "report": command_report,
    "list": command_list,
    "plan": lambda args: command_plan(args),
}


def command_plan(args: argparse.Namespace) -> None:
    """Print the plan of a GPU profile (``newsstudy.run.gpu_plan``); nothing is loaded."""
    from newsstudy.run import gpu_plan

    gpu_plan.dry_run(args.profile)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``newsstudy`` console script; exits with the status above."""
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except params.ParamsError as err:
        print(f"newsstudy: error: {err}", file=sys.stderr)
        sys.exit(2)
    except runner.NotebookFailed as err:
        print(f"newsstudy: notebook failed: {err}", file=sys.stderr)
        sys.exit(1)
    except BrokenPipeError:  # e.g. `newsstudy list | head`: the reader left, nothing is wrong
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        print("newsstudy: interrupted; finished notebooks are recorded, the next call "
              "resumes with the one that was running", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":  # python -m newsstudy.run.cli ...: the console script without its wrapper
    main()
