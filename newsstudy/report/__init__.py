"""The reproduction report: the paper's claims checked against our results, every table
and figure beside the paper's, and the provenance of each run.

``build_report(profile)`` writes ``reports/<profile>/REPORT.md`` and a static
``reports/<profile>/index.html`` (``newsstudy report --profile P``; also the last step of
``newsstudy reproduce``). ``claims`` holds the checks and documents the results keys they
read; ``paper`` the paper's numbers; ``build`` the assembly and rendering.
"""

from newsstudy.report.build import Built, build_report

__all__ = ["Built", "build_report"]
