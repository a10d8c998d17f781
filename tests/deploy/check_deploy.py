#!/usr/bin/python3
"""Checks deploy/ against the binaries it runs: every manifest parses, every flag a manifest
passes to modelpress-server / modelpress-worker is one the binary's --help lists, container
ports match the --listen/--http flags, the Service and probes name real ports, and (when
kubectl is installed) `kubectl kustomize deploy/base` renders.

  check_deploy.py ROOT SERVER_BINARY WORKER_BINARY
"""
import os
import re
import shutil
import subprocess
import sys

import yaml

errors = []


def fail(msg):
    errors.append(msg)


def help_flags(binary):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    text = out.stdout + out.stderr
    return set(re.findall(r"(--[a-z][a-z0-9-]*)", text))


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def check_args(where, command, args, flags_by_binary):
    binary = command[0] if command else None
    if binary not in flags_by_binary:
        fail("%s: runs %r, not a modelpress binary" % (where, binary))
        return
    for arg in list(command[1:]) + list(args):
        if not arg.startswith("--"):
            continue
        flag = arg.split("=", 1)[0]
        if flag not in flags_by_binary[binary]:
            fail("%s: %s has no flag %s (see %s --help)" % (where, binary, flag, binary))


def port_of(args, flag):
    for a in args:
        if a.startswith(flag + "="):
            return int(a.rsplit(":", 1)[1])
    return None


def main():
    root, server, worker = sys.argv[1:4]
    flags = {"modelpress-server": help_flags(server), "modelpress-worker": help_flags(worker)}
    base = os.path.join(root, "deploy/base")
    docs = []
    for name in sorted(os.listdir(base)):
        if name.endswith(".yaml"):
            docs += [(name, d) for d in load_all(os.path.join(base, name))]
    kust = [d for n, d in docs if d.get("kind") == "Kustomization"]
    if len(kust) != 1:
        fail("deploy/base: expected one kustomization.yaml")
    else:
        for r in kust[0].get("resources", []):
            if not os.path.exists(os.path.join(base, r)):
                fail("kustomization: resource %s does not exist" % r)
    server_ports = {}
    for name, d in docs:
        spec = d.get("spec", {}).get("template", {}).get("spec")
        if not spec:
            continue
        for c in spec.get("containers", []):
            where = "%s/%s" % (name, c.get("name"))
            args = c.get("args", [])
            check_args(where, c.get("command", []), args, flags)
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            if c.get("command", [None])[0] == "modelpress-server":
                server_ports = ports
                if port_of(args, "--listen") != ports.get("grpc"):
                    fail("%s: --listen port differs from containerPort grpc" % where)
                if port_of(args, "--http") != ports.get("http"):
                    fail("%s: --http port differs from containerPort http" % where)
                probe = c.get("readinessProbe", {}).get("grpc", {}).get("port")
                if probe != ports.get("grpc"):
                    fail("%s: readiness probe is not on the gRPC port" % where)
            if c.get("command", [None])[0] == "modelpress-worker":
                target = [a for a in args if a.startswith("--server=")]
                if not target or not target[0].endswith(":7070"):
                    fail("%s: workers must point --server at the server's gRPC port" % where)
    for name, d in docs:
        if d.get("kind") == "Service":
            for p in d["spec"]["ports"]:
                if p.get("targetPort") not in server_ports:
                    fail("%s: targetPort %s is not a server port" % (name, p.get("targetPort")))
    for c in load_all(os.path.join(root, "deploy/compose.yaml"))[0]["services"].values():
        check_args("compose.yaml", c["command"], [], flags)
    kubectl = shutil.which("kubectl")
    if kubectl:
        r = subprocess.run([kubectl, "kustomize", base], capture_output=True, text=True)
        if r.returncode != 0:
            fail("kubectl kustomize deploy/base: " + r.stderr.strip())
    for e in errors:
        print("deploy: " + e)
    if errors:
        return 1
    print("deploy: %d manifests consistent with the binaries%s" %
          (len(docs), "" if kubectl else " (kubectl not installed: kustomize render skipped)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
