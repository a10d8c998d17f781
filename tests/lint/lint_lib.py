"""Shared helpers for the modelpress lint checks (run with Debian's /usr/bin/python3).

A check takes the repository root and returns a list of violation strings; an empty list
means the tree is clean. Files are the ones git knows (tracked, plus untracked files that are
not ignored); outside a git checkout every file under the root counts.
"""
import os
import subprocess

SOURCE_EXTENSIONS = (".h", ".cc", ".cpp", ".hpp")
SKIP_DIRS = ("build/", "third_party/", "node_modules/")


def source_files(root):
    """Relative paths of the C++ sources under root, sorted."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=root, check=True, capture_output=True, text=True).stdout.split("\n")
        paths = [p for p in out if p]
        if not paths:
            raise ValueError("empty")
    except (OSError, subprocess.CalledProcessError, ValueError):
        paths = []
        for dirpath, _, names in os.walk(root):
            for name in names:
                paths.append(os.path.relpath(os.path.join(dirpath, name), root))
    result = []
    for p in paths:
        if not p.endswith(SOURCE_EXTENSIONS):
            continue
        if any(p.startswith(d) or ("/" + d) in p for d in SKIP_DIRS):
            continue
        if os.path.isfile(os.path.join(root, p)):
            result.append(p)
    return sorted(result)


def report(label, violations):
    """Prints the violations and a summary line; returns the process exit status."""
    for v in violations:
        print(v)
    print("%s: %d violation(s)" % (label, len(violations)))
    return 1 if violations else 0


def root_from_argv():
    import sys
    return sys.argv[1] if len(sys.argv) > 1 else os.getcwd()
