#!/usr/bin/python3
"""Include-layering lint (DESIGN.md §3).

Each source file belongs to a module named by its folder; each #include "..." names either a
module of ours or an external library. The rules:
  * a module includes only modules below it (the ORDER lists below; tests/ and bench/ sit on
    top and may include anything of ours);
  * the engine never includes proto/, gRPC, SQLite or Beast;
  * kernels include nothing else of the engine;
  * only workers/engine/onnx includes ONNX headers (tests/ and bench/ may, to build fixtures);
  * only server/store includes sqlite3.h;
  * server and workers never include each other; client includes neither.
Usage: check_layering.py [REPO_ROOT]; exits 1 and lists violations as file:line: message.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lint_lib  # noqa: E402

ENGINE_ORDER = ["kernels", "tensor", "ir", "onnx", "exec", "data", "eval", "quant", "train",
                "prune", "distill", "pipeline", "search"]
SERVER_ORDER = ["store", "queue", "service", "dashboard"]
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]')


def module_of_path(path):
    """Module of a repository path, e.g. 'engine/exec', 'server/store', 'common'."""
    parts = path.split("/")
    if parts[0] in ("common", "proto", "client", "tests", "bench", "deploy", "scripts"):
        return parts[0]
    if parts[0] == "modelpress":  # generated proto headers: modelpress/v1/x.pb.h
        return "proto"
    if parts[0] == "server":
        if len(parts) > 2 and parts[1] in SERVER_ORDER:
            return "server/" + parts[1]
        return "server"
    if parts[0] == "workers":
        if len(parts) > 3 and parts[1] == "engine":
            return "engine/" + parts[2]
        if len(parts) > 2 and parts[1] == "runtime":
            return "workers/runtime"
        return "workers"
    return None


def external_of_include(inc):
    """Names the external library an include belongs to, or None."""
    if inc.startswith(("grpcpp/", "grpc/", "grpc++/")):
        return "grpc"
    if inc == "sqlite3.h":
        return "sqlite"
    if inc.startswith("boost/beast") or inc.startswith("boost/asio"):
        return "beast"
    if inc.startswith("onnx/"):
        return "onnx"
    if inc.startswith("google/protobuf"):
        return "protobuf"
    return None


def rank(module):
    """(family, level) ordering; lower levels may be included by higher ones."""
    if module == "common":
        return ("any", 0)
    if module == "proto":
        return ("any", 1)
    if module.startswith("engine/"):
        name = module.split("/")[1]
        return ("engine", 10 + (ENGINE_ORDER.index(name) if name in ENGINE_ORDER else 99))
    if module == "workers/runtime":
        return ("workers", 200)
    if module == "workers":
        return ("workers", 201)
    if module.startswith("server/"):
        return ("server", 300 + SERVER_ORDER.index(module.split("/")[1]))
    if module == "server":
        return ("server", 400)
    if module == "client":
        return ("client", 500)
    return ("top", 1000)  # tests, bench


def check_edge(src, inc):
    """Returns a message if file module `src` may not include `inc`, else None."""
    ext = external_of_include(inc)
    top = src in ("tests", "bench")
    if ext is not None:
        if src.startswith("engine/") and ext in ("grpc", "sqlite", "beast"):
            return "the engine must not include %s (%s)" % (ext, inc)
        if ext == "onnx" and src != "engine/onnx" and not top:
            return "only workers/engine/onnx may include ONNX headers (%s)" % inc
        if ext == "protobuf" and src.startswith("engine/") and src != "engine/onnx":
            return "the engine must not include protobuf outside engine/onnx (%s)" % inc
        if ext == "sqlite" and src != "server/store" and not top:
            return "only server/store may include sqlite3.h"
        return None
    dst = module_of_path(inc)
    if dst is None or dst == src:
        return None
    if top:
        return None
    if src.startswith("engine/") and dst == "proto":
        return "the engine must not include proto/ (%s)" % inc
    if src == "engine/kernels" and dst.startswith("engine/"):
        return "kernels must not include %s (%s)" % (dst, inc)
    sf, sl = rank(src)
    df, dl = rank(dst)
    if df == "top":
        return "%s must not include %s (%s)" % (src, dst, inc)
    if sf in ("server",) and df in ("engine", "workers"):
        return "server and workers meet only over RPC: %s includes %s (%s)" % (src, dst, inc)
    if sf in ("engine", "workers") and df == "server":
        return "server and workers meet only over RPC: %s includes %s (%s)" % (src, dst, inc)
    if sf == "client" and df in ("server", "engine", "workers"):
        return "the client must not include %s (%s)" % (dst, inc)
    if df == "client" and sf != "client":
        return "%s must not include the client (%s)" % (src, inc)
    if sf == "engine" and df == "workers":
        return "the engine must not include %s (%s)" % (dst, inc)
    if df != "any" and sf == df and dl >= sl:
        return "%s may include only modules below it, not %s (%s)" % (src, dst, inc)
    return None


def check(root):
    violations = []
    for path in lint_lib.source_files(root):
        src = module_of_path(path)
        if src is None:
            continue
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                msg = check_edge(src, m.group(1))
                if msg:
                    violations.append("%s:%d: %s" % (path, lineno, msg))
    return violations


def main():
    return lint_lib.report("layering", check(lint_lib.root_from_argv()))


if __name__ == "__main__":
    sys.exit(main())
