"""Branch coverage per package, after `make test` (reads .coverage).

pytest-cov prints the files; this prints the four totals the project
tracks, so a drop in one package is visible at a glance.
"""

from __future__ import annotations

import io
import sys

import coverage

PACKAGES = ("webapp", "workers", "integrations", "geo")


def main() -> int:
    cov = coverage.Coverage()
    cov.load()
    print("branch coverage by package:")
    for package in PACKAGES:
        percent = cov.report(include=[f"{package}/*"], file=io.StringIO(), skip_covered=False)
        print(f"  {package + '/':<14} {percent:5.1f}%")
    percent = cov.report(file=io.StringIO(), skip_covered=False)
    print(f"  {'all':<14} {percent:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
