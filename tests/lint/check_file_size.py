#!/usr/bin/python3
"""File-size budget (DESIGN.md §4 rule 2): 500 lines for .h/.cc, 800 for *_test.cc.

Usage: check_file_size.py [REPO_ROOT]; exits 1 and lists the files over budget.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lint_lib  # noqa: E402

SOURCE_BUDGET = 500
TEST_BUDGET = 800


def budget(path):
    return TEST_BUDGET if path.endswith(("_test.cc", "_test.cpp")) else SOURCE_BUDGET


def check(root):
    violations = []
    for path in lint_lib.source_files(root):
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            lines = sum(1 for _ in f)
        if lines > budget(path):
            violations.append("%s: %d lines, over the budget of %d; split it by concept"
                              % (path, lines, budget(path)))
    return violations


def main():
    return lint_lib.report("file size", check(lint_lib.root_from_argv()))


if __name__ == "__main__":
    sys.exit(main())
