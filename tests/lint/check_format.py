#!/usr/bin/python3
"""clang-format conformance: every C++ source must already be formatted with the repo's
.clang-format. Usage: check_format.py [REPO_ROOT] [CLANG_FORMAT]; exits 1 listing the files
that would change (fix with `clang-format -i FILE`).
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lint_lib  # noqa: E402

DIAGNOSTIC_RE = re.compile(r"^(.+?):\d+:\d+: (?:error|warning): code should be clang-formatted")


def check(root, clang_format):
    """Runs clang-format in batches; a file is flagged once, with its first diagnostic."""
    violations = {}
    files = lint_lib.source_files(root)
    for i in range(0, len(files), 100):
        batch = files[i:i + 100]
        proc = subprocess.run([clang_format, "--style=file", "--dry-run", "--Werror"] + batch,
                              cwd=root, capture_output=True, text=True)
        if proc.returncode == 0:
            continue
        for line in proc.stderr.split("\n"):
            m = DIAGNOSTIC_RE.match(line)
            if m and m.group(1) in batch and m.group(1) not in violations:
                violations[m.group(1)] = line.strip()
        if not any(f in violations for f in batch):
            violations[batch[0]] = "clang-format failed: " + proc.stderr.strip()[:200]
    return ["%s: not clang-formatted (%s)" % (path, first)
            for path, first in sorted(violations.items())]


def main():
    root = lint_lib.root_from_argv()
    clang_format = sys.argv[2] if len(sys.argv) > 2 else shutil.which("clang-format")
    if not clang_format:
        print("clang-format is not installed (scripts/setup installs it)")
        return 1
    return lint_lib.report("format", check(root, clang_format))


if __name__ == "__main__":
    sys.exit(main())
