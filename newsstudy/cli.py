"""The ``newsstudy`` command: run notebooks, reproduce a profile, list parameters.

    newsstudy run 01_data --profile smoke -p n_users=50 -p seed=3
    newsstudy reproduce --profile default
    newsstudy list

Exit status: 0 success, 1 a notebook failed, 2 bad input (unknown notebook or profile,
bad parameter); on 2 nothing was run and nothing was overwritten. The work happens in
``newsstudy.runner``; this module parses arguments and prints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from newsstudy import params, paths, runner

TABLE_COLUMNS = ("name", "type", "default")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with the ``run``, ``reproduce`` and ``list`` subcommands."""
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
    run.add_argument("--force", action="store_true", help="run even if the report is up to date")

    reproduce = commands.add_parser("reproduce", help="execute every notebook in order")
    reproduce.add_argument("--profile", required=True, help="params/<profile>/ to use")
    reproduce.add_argument(
        "--force", action="store_true", help="run even if reports are up to date"
    )

    commands.add_parser("list", help="show notebooks, profiles and every parameter")
    return parser


def notebook_name(argument: str) -> str:
    """Accept ``01_data`` as well as a path such as ``notebooks/01_data.ipynb``."""
    return Path(argument).stem if argument.endswith(".ipynb") else argument


def command_run(args: argparse.Namespace) -> None:
    """``newsstudy run``: one notebook."""
    overrides = dict(params.parse_override(text) for text in args.overrides)
    report = runner.run_notebook(notebook_name(args.notebook), args.profile, overrides, args.force)
    print(f"wrote {report}")


def command_reproduce(args: argparse.Namespace) -> None:
    """``newsstudy reproduce``: every notebook of a profile."""
    reports = runner.reproduce(args.profile, force=args.force)
    print(f"wrote {len(reports)} reports to {paths.report_dir(args.profile)}")


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


COMMANDS = {"run": command_run, "reproduce": command_reproduce, "list": command_list}


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
