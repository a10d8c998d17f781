#!/usr/bin/python3
"""Checks deploy/grafana/modelpress.json against the metrics modelpress-server exposes.

The server's metric names are the `inline constexpr std::string_view kX = "modelpress_..."`
lines of server/dashboard/metric_names.h (a C++ test checks that /metrics writes each of
them). This script checks that the dashboard JSON
  * parses, has schemaVersion >= 36, a title and a uid, and declares the Prometheus data
    source input DS_PROMETHEUS (in __inputs and as a templating variable);
  * gives every panel a unique id and a gridPos, and every non-row panel at least one
    target, each target and panel using the data source ${DS_PROMETHEUS};
  * uses in its PromQL expressions only metric names the server exposes (a histogram's
    _bucket / _sum / _count series count as its name), and nothing but `modelpress_`
    metrics;
  * covers the panels the operators need (each name in REQUIRED appears in some expr).

  check_grafana.py ROOT            check the repository's dashboard
  check_grafana.py --selftest ROOT also check that planted mistakes are caught
Exits 1 listing the problems.
"""
import copy
import json
import os
import re
import sys

NAME_RE = re.compile(r'inline constexpr std::string_view (k\w+) = "(modelpress_[a-z0-9_]+)";')
HISTOGRAMS_RE = re.compile(r"inline constexpr std::string_view kHistograms\[\] = \{([^}]*)\};")
METRIC_IN_EXPR_RE = re.compile(r"\b(modelpress_[a-zA-Z0-9_]+)")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
DATASOURCE = "${DS_PROMETHEUS}"
# Every metric the dashboard must chart (the task's panel list).
REQUIRED = [
    "modelpress_jobs", "modelpress_jobs_submitted_total", "modelpress_job_duration_seconds",
    "modelpress_job_attempts_total", "modelpress_local_worker_restarts_total",
    "modelpress_grpc_requests_total", "modelpress_grpc_request_seconds",
    "modelpress_blob_bytes", "modelpress_tenant_bytes",
]


def exposed_names(root):
    """{metric name: is_histogram} from metric_names.h."""
    path = os.path.join(root, "server", "dashboard", "metric_names.h")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    constants = dict(NAME_RE.findall(text))
    m = HISTOGRAMS_RE.search(text)
    if not constants or not m:
        raise SystemExit("no metric names or no kHistograms found in %s" % path)
    histograms = {constants[c.strip()] for c in m.group(1).split(",") if c.strip()}
    return {name: name in histograms for name in constants.values()}


def base_name(name, exposed):
    """The exposed metric a series name belongs to, or None."""
    if name in exposed:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[: -len(suffix)]
        if name.endswith(suffix) and exposed.get(base):
            return base
    return None


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def uses_datasource(obj):
    ds = obj.get("datasource")
    return isinstance(ds, dict) and ds.get("uid") == DATASOURCE


def check(dash, exposed):
    errors = []
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        errors.append("schemaVersion must be an integer >= 36")
    for key in ("title", "uid"):
        if not dash.get(key):
            errors.append("dashboard has no %s" % key)
    if not any(i.get("name") == "DS_PROMETHEUS" and i.get("pluginId") == "prometheus"
               for i in dash.get("__inputs", [])):
        errors.append("__inputs does not declare the DS_PROMETHEUS Prometheus data source")
    if not any(v.get("name") == "DS_PROMETHEUS" and v.get("type") == "datasource"
               for v in dash.get("templating", {}).get("list", [])):
        errors.append("templating has no DS_PROMETHEUS datasource variable")

    ids = set()
    used = set()
    for p in all_panels(dash.get("panels", [])):
        title = p.get("title", "<untitled>")
        if p.get("id") in ids:
            errors.append("panel '%s': duplicate id %s" % (title, p.get("id")))
        ids.add(p.get("id"))
        if "gridPos" not in p:
            errors.append("panel '%s': no gridPos" % title)
        if p.get("type") == "row":
            continue
        if not uses_datasource(p):
            errors.append("panel '%s': datasource is not %s" % (title, DATASOURCE))
        targets = p.get("targets", [])
        if not targets:
            errors.append("panel '%s': no targets" % title)
        for t in targets:
            expr = t.get("expr", "")
            if not expr:
                errors.append("panel '%s': target %s has no expr" % (title, t.get("refId")))
            if not uses_datasource(t):
                errors.append("panel '%s': target datasource is not %s" % (title, DATASOURCE))
            # Ignore label values and legends: only identifiers followed by { ( [ space or
            # end are metric names, but a quoted string never is.
            unquoted = re.sub(r'"[^"]*"', '""', expr)
            for name in METRIC_IN_EXPR_RE.findall(unquoted):
                base = base_name(name, exposed)
                if base is not None and base == name and exposed[name]:
                    errors.append("panel '%s': histogram '%s' has no series of that name; "
                                  "use %s_bucket, _sum or _count" % (title, name, name))
                elif base is None:
                    errors.append("panel '%s': expr uses '%s', which the server does not "
                                  "expose" % (title, name))
                else:
                    used.add(base)
            if "modelpress_" not in unquoted:
                errors.append("panel '%s': expr '%s' uses no modelpress metric" % (title, expr))
    for name in REQUIRED:
        if name not in exposed:
            errors.append("required metric '%s' is not in metric_names.h" % name)
        elif name not in used:
            errors.append("no panel charts '%s'" % name)
    return errors


def selftest(dash, exposed):
    """Plants mistakes in copies of the dashboard; each must be reported."""
    failures = []

    def expect_caught(what, mutate):
        d = copy.deepcopy(dash)
        mutate(d)
        if not check(d, exposed):
            failures.append("selftest: %s was not caught" % what)

    def first_target(d):
        return next(p for p in all_panels(d["panels"]) if p.get("type") != "row")["targets"][0]

    expect_caught("an unknown metric",
                  lambda d: first_target(d).update(expr="rate(modelpress_nope_total[5m])"))
    expect_caught("an unknown histogram suffix",
                  lambda d: first_target(d).update(expr="modelpress_jobs_bucket"))
    expect_caught("a bare histogram name",
                  lambda d: first_target(d).update(expr="modelpress_grpc_request_seconds"))
    expect_caught("a wrong data source",
                  lambda d: first_target(d).update(datasource={"uid": "prom"}))
    expect_caught("an old schema", lambda d: d.update(schemaVersion=16))
    expect_caught("a duplicate id", lambda d: d["panels"].append(copy.deepcopy(d["panels"][1])))
    expect_caught("a missing required panel", lambda d: d.update(
        panels=[p for p in d["panels"] if "modelpress_blob_bytes" not in json.dumps(p)]))
    # And label values that look like metric names are not taken for metrics.
    d = copy.deepcopy(dash)
    first_target(d)["expr"] += ' + 0 * sum(modelpress_jobs{state="modelpress_not_a_metric"})'
    if check(d, exposed):
        failures.append("selftest: a quoted label value was taken for a metric name")
    return failures


def main(argv):
    args = [a for a in argv[1:] if a != "--selftest"]
    root = args[0] if args else os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    exposed = exposed_names(root)
    path = os.path.join(root, "deploy", "grafana", "modelpress.json")
    try:
        with open(path, encoding="utf-8") as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        print("%s: %s" % (path, e))
        return 1
    errors = check(dash, exposed)
    if "--selftest" in argv:
        errors += selftest(dash, exposed)
    for e in errors:
        print("%s: %s" % (path, e))
    if errors:
        return 1
    print("grafana dashboard OK: %d metric names exposed, panels checked" % len(exposed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
