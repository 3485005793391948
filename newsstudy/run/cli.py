"""The ``newsstudy`` command: run notebooks, reproduce a profile, build the report.

    newsstudy run 01_data --profile smoke -p n_users=50 -p seed=3
    newsstudy reproduce --profile default          # every notebook, then the report
    newsstudy report --profile default             # REPORT.md and index.html only
    newsstudy list

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
from pathlib import Path

from newsstudy import params, paths
from newsstudy.io import write_text
from newsstudy.run import runner

TABLE_COLUMNS = ("name", "type", "default")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with the ``run``, ``reproduce``, ``report``, ``plan`` and ``list``
    subcommands."""
    parser = argparse.ArgumentParser(prog="newsstudy", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="execute one notebook into reports/<profile>/")
    run.add_argument("notebook", help="notebook name, e.g. 01_data (or notebooks/01_data.ipynb)")
    run.add_argument("--profile", required=True, help="params/<profile>/ to use")
    run.add_argument(
        "-p",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one parameter (value read as YAML); repeatable",
    )
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

    plan = commands.add_parser(
        "plan", help="validate a GPU profile and print its plan (models, steps, GPU memory) "
        "without loading weights")
    plan.add_argument("--profile", default="paper", help="params/<profile>/ to plan")

    commands.add_parser("list", help="show notebooks, profiles and every parameter")

    budgets = commands.add_parser(
        "budgets", help="each notebook's time budget beside its last recorded run (markdown)")
    budgets.add_argument("--profile", default="default", help="reports/<profile>/runs.json to read")
    budgets.add_argument("--readme", action="store_true",
                         help="rewrite the generated block of README.md instead of printing")
    return parser


def notebook_name(argument: str) -> str:
    """Accept ``01_data`` as well as a path such as ``notebooks/01_data.ipynb``."""
    return Path(argument).stem if argument.endswith(".ipynb") else argument


def command_run(args: argparse.Namespace) -> None:
    """``newsstudy run``: one notebook."""
    overrides = dict(params.parse_override(text) for text in args.overrides)
    skipped = []
    report = runner.run_notebook(notebook_name(args.notebook), args.profile, overrides,
                                 args.force, log=skipped.append)
    print(skipped[0] if skipped else f"wrote {report}")


def command_reproduce(args: argparse.Namespace) -> None:
    """``newsstudy reproduce``: every notebook of a profile, then the report."""
    from newsstudy.report import build_report

    reports = runner.reproduce(args.profile, force=args.force, log=progress, jobs=args.jobs)
    built = build_report(args.profile)
    progress(f"report: {built.markdown} and {built.html}")
    print(f"{len(reports)} notebooks up to date in {paths.report_dir(args.profile)}")


def command_report(args: argparse.Namespace) -> None:
    """``newsstudy report``: the report of a profile from the files already there."""
    from newsstudy.report import build_report

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


def notebook_listing(notebook: str, profiles: list[str]) -> str:
    """The parameter table of one notebook, with its value under every profile as ``[name]``."""
    rows = params.schema_table(notebook)
    problems = []
    for profile in profiles:
        if not params.params_path(notebook, profile).is_file():  # not part of that profile
            for row in rows:
                row[f"[{profile}]"] = "-"
            continue
        try:
            values = params.load_params(notebook, profile).model_dump()
        except params.ParamsError as err:
            values = {}
            problems.append(f"  {profile}: {err}")
        for row in rows:
            row[f"[{profile}]"] = repr(values[row["name"]]) if row["name"] in values else "-"
    columns = [*TABLE_COLUMNS, *(f"[{p}]" for p in profiles), "constraints", "description"]
    return "\n".join([f"{notebook}:", format_table(rows, columns), *problems])


def command_list(args: argparse.Namespace) -> None:
    """``newsstudy list``: notebooks, profiles and each notebook's parameters."""
    profiles = params.profiles()
    print(f"notebooks: {', '.join(params.notebooks()) or '(none)'}")
    print(f"profiles:  {', '.join(profiles) or '(none)'}")
    for notebook in sorted(params.SCHEMAS):
        print()
        print(notebook_listing(notebook, profiles))


def command_budgets(args: argparse.Namespace) -> None:
    """``newsstudy budgets``: the budgets table from runs.json (or README's block rewritten)."""
    from newsstudy.report import budgets

    if not args.readme:
        print(budgets.budget_markdown(args.profile))
        return
    readme = paths.PROJECT_ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    if budgets.MARK_BEGIN not in text or budgets.MARK_END not in text:
        raise params.ParamsError(f"{readme}: no generated budgets block "
                                 f"({budgets.MARK_BEGIN} ... {budgets.MARK_END})")
    head, rest = text.split(budgets.MARK_BEGIN, 1)
    _, tail = rest.split(budgets.MARK_END, 1)
    write_text(readme, head + budgets.readme_block(args.profile) + tail)
    print(f"rewrote the budgets block of {readme}")


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
