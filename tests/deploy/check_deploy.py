#!/usr/bin/env python3
"""Static checks of Assent's deployment assets (deploy/), one subcommand per asset:

  alerts      every alert has a severity, summary, description and a runbook_url whose anchor exists
              in deploy/RUNBOOK.md, and alerts_test.yaml shows each one firing
  dashboard   the Grafana dashboard is valid JSON of the expected shape: datasource variable on
              every panel and query, only assent_*, up and node_* metrics, PromQL that promtool parses
  kubernetes  the manifests agree with each other, with the ConfigMap's consentd.yaml and with the
              container image (ports, user, paths, shutdown timing, memory for the block cache)
  container   the Dockerfile builds with the packages tools/bootstrap.sh installs, and its runtime
              stage installs the package of every shared library the built binaries link
  systemd     systemd-analyze accepts the unit, its sandbox stays tight, and the environment file
              names only variables consentd knows

Each prints what it found wrong and exits 1, or exits 0.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import yaml

import deploy_assets as assets

errors = []


def fail(message):
    errors.append(message)


def github_anchor(heading):
    anchor = heading.strip().lower()
    anchor = re.sub(r"[^\w\- ]", "", anchor)
    return anchor.replace(" ", "-")


# ---- alerts ---------------------------------------------------------------------------------------
def check_alerts(args):
    rules = assets.alert_rules()
    runbook = assets.read("deploy", "RUNBOOK.md")
    anchors = {github_anchor(h) for h in re.findall(r"^#+\s+(.*)$", runbook, re.M)}
    anchors |= set(re.findall(r'<a (?:id|name)="([^"]+)"', runbook))
    tests = yaml.safe_load(assets.read("deploy", "prometheus", "alerts_test.yaml"))
    fired, quiet = set(), set()
    for test in tests["tests"]:
        for case in test.get("alert_rule_test", []):
            (fired if case.get("exp_alerts") else quiet).add(case["alertname"])

    names = [r["alert"] for r in rules]
    for name in sorted({n for n in names if names.count(n) > 1}):
        fail(f"alert {name} is defined more than once")
    for rule in rules:
        name = rule["alert"]
        labels, annotations = rule.get("labels", {}), rule.get("annotations", {})
        if labels.get("severity") not in ("critical", "warning"):
            fail(f"{name}: severity label must be critical or warning, not {labels.get('severity')!r}")
        for key in ("summary", "description", "runbook_url"):
            if not annotations.get(key, "").strip():
                fail(f"{name}: no {key} annotation")
        url = annotations.get("runbook_url", "")
        m = re.fullmatch(r"deploy/RUNBOOK\.md#([\w-]+)", url)
        if not m:
            fail(f"{name}: runbook_url {url!r} is not deploy/RUNBOOK.md#<anchor>")
        elif m.group(1) not in anchors:
            fail(f"{name}: deploy/RUNBOOK.md has no heading with anchor #{m.group(1)}")
        if name not in fired:
            fail(f"{name}: alerts_test.yaml never shows it firing")
    if not quiet:
        fail("alerts_test.yaml never shows an alert staying quiet")
    for name in sorted((fired | quiet) - set(names)):
        fail(f"alerts_test.yaml tests {name}, which alerts.yaml does not define")
    print(f"{len(rules)} alerts; {len(fired)} shown firing, {len(quiet)} shown quiet")


# ---- dashboard ------------------------------------------------------------------------------------
REQUIRED_ROWS = ["Service traffic", "Decisions and checks", "Store", "Outbox and Kafka", "Senders",
                 "Readiness"]
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def check_dashboard(args):
    dash = assets.dashboard()  # raises on invalid JSON
    if not 36 <= dash.get("schemaVersion", 0) <= 41:
        fail(f"schemaVersion {dash.get('schemaVersion')} is not a Grafana 10/11 schema (36..41)")
    for key in ("title", "uid"):
        if not dash.get(key):
            fail(f"dashboard has no {key}")
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    if variables.get("datasource", {}).get("type") != "datasource" or \
            variables["datasource"].get("query") != "prometheus":
        fail("no `datasource` variable of type datasource for Prometheus")
    for name in ("instance", "sender"):
        var = variables.get(name)
        if not var or var.get("type") != "query" or var.get("datasource") != DATASOURCE:
            fail(f"no `{name}` query variable on ${{datasource}}")

    panels = assets.dashboard_panels(dash)
    ids = [p.get("id") for p in panels]
    if len(set(ids)) != len(ids) or None in ids:
        fail("panel ids must be present and unique")
    rows = [p["title"] for p in panels if p.get("type") == "row"]
    for title in REQUIRED_ROWS:
        if title not in rows:
            fail(f"no row {title!r} (rows: {rows})")

    occupied = {}
    expressions = []
    for panel in panels:
        title = panel.get("title", f"panel {panel.get('id')}")
        pos = panel.get("gridPos", {})
        if not all(isinstance(pos.get(k), int) for k in "hwxy") or pos["x"] + pos["w"] > 24:
            fail(f"{title}: bad gridPos {pos}")
            continue
        for dx in range(pos["w"]):
            for dy in range(pos["h"]):
                cell = (pos["x"] + dx, pos["y"] + dy)
                if cell in occupied:
                    fail(f"{title}: overlaps {occupied[cell]}")
                    break
                occupied[cell] = title
            else:
                continue
            break
        if panel.get("type") == "row":
            continue
        if panel.get("datasource") != DATASOURCE:
            fail(f"{title}: datasource is {panel.get('datasource')}, not ${{datasource}}")
        targets = panel.get("targets") or []
        if not targets:
            fail(f"{title}: no queries")
        for target in targets:
            if target.get("datasource") != DATASOURCE:
                fail(f"{title}: query {target.get('refId')} does not use ${{datasource}}")
            expr = target.get("expr", "")
            if not expr.strip() or not target.get("refId"):
                fail(f"{title}: query without expr or refId")
                continue
            for name in assets.metric_names(expr):
                if not (name.startswith("assent_") or name == "up" or name.startswith("node_")):
                    fail(f"{title}: uses metric {name} (only assent_*, up and node_* may be used)")
            expressions.append((title, expr))

    # promtool parses every query (variables substituted) as the expression of a recording rule.
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": assets.grafana_to_promql(expr)}
        for i, (_, expr) in enumerate(expressions)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(rules, f)
    try:
        result = subprocess.run([args.promtool, "check", "rules", f.name], capture_output=True,
                                text=True)
    finally:
        os.unlink(f.name)
    if result.returncode != 0:
        fail("promtool cannot parse the dashboard's queries:\n" + result.stdout + result.stderr)
    print(f"{len(panels)} panels, {len(expressions)} queries")


# ---- kubernetes -----------------------------------------------------------------------------------
def memory_mib(quantity):
    m = re.fullmatch(r"(\d+)(Mi|Gi)", str(quantity))
    if not m:
        raise ValueError(f"memory quantity {quantity!r}: use Mi or Gi")
    return int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1)


def check_kubernetes(args):
    directory = os.path.join(assets.DEPLOY, "kubernetes")
    kustomization = yaml.safe_load(assets.read("deploy", "kubernetes", "kustomization.yaml"))
    listed = set(kustomization["resources"])
    present = {f for f in os.listdir(directory) if f.endswith(".yaml")}
    for f in sorted(present - listed - {"kustomization.yaml", "secret.example.yaml"}):
        fail(f"{f} is not listed in kustomization.yaml")
    if "secret.example.yaml" in listed:
        fail("kustomization.yaml must not apply secret.example.yaml (a placeholder secret)")
    objects = assets.kubernetes_objects()

    def one(kind):
        found = [o for (k, _), o in objects.items() if k == kind]
        if len(found) != 1:
            raise SystemExit(f"expected one {kind}, found {len(found)}")
        return found[0]

    sts, pdb, monitor, cm = (one("StatefulSet"), one("PodDisruptionBudget"), one("ServiceMonitor"),
                             one("ConfigMap"))
    secret = one("Secret")
    services = [o for (k, _), o in objects.items() if k == "Service"]
    pod = sts["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    spec = pod["spec"]
    (container,) = spec["containers"]

    if sts["spec"].get("replicas") != 1:
        fail("StatefulSet replicas must be 1 (each replica would be a separate store)")
    if sts["spec"]["selector"]["matchLabels"].items() - pod_labels.items():
        fail("StatefulSet selector does not match its pod labels")
    headless = [s for s in services if s["spec"].get("clusterIP") == "None"]
    if [s["metadata"]["name"] for s in headless] != [sts["spec"]["serviceName"]]:
        fail("serviceName must name the one headless Service")
    port_names = {p["name"]: p["containerPort"] for p in container["ports"]}
    for svc in services:
        if svc["spec"]["selector"].items() - pod_labels.items():
            fail(f"Service {svc['metadata']['name']} does not select the consentd pods")
        for port in svc["spec"]["ports"]:
            if port["targetPort"] not in port_names:
                fail(f"Service {svc['metadata']['name']}: targetPort {port['targetPort']} is no container port")
    if pdb["spec"]["selector"]["matchLabels"].items() - pod_labels.items():
        fail("PodDisruptionBudget does not select the consentd pods")

    # ServiceMonitor: exactly the client Service, on a port it has.
    wanted = monitor["spec"]["selector"]["matchLabels"].items()
    scraped = [s for s in services if not wanted - s["metadata"]["labels"].items()]
    if len(scraped) != 1 or scraped[0] in headless:
        fail(f"ServiceMonitor must select exactly the client Service, selects {[s['metadata']['name'] for s in scraped]}")
    else:
        svc_ports = {p["name"] for p in scraped[0]["spec"]["ports"]}
        for ep in monitor["spec"]["endpoints"]:
            if ep.get("port") not in svc_ports:
                fail(f"ServiceMonitor endpoint port {ep.get('port')} is not a port of the Service")
    job_label = monitor["spec"].get("jobLabel")
    if job_label and not (scraped and scraped[0]["metadata"]["labels"].get(job_label, "").startswith("assent")):
        fail(f"ServiceMonitor jobLabel {job_label} must give a job matching the rules' job=~\"assent.*\"")

    # The image: ports, user, data directory.
    entrypoint = assets.dockerfile_entrypoint()
    expose = re.search(r"^EXPOSE (.*)$", assets.read("deploy", "container", "Dockerfile"), re.M)
    exposed = set(expose.group(1).split()) if expose else set()
    for flag, name in (("--listen", "grpc"), ("--metrics-listen", "metrics")):
        port = int(assets.flag_value(entrypoint, flag).rsplit(":", 1)[1])
        if port_names.get(name) != port:
            fail(f"container port {name} is {port_names.get(name)}, the image's {flag} port is {port}")
        if str(port) not in exposed:
            fail(f"the Dockerfile does not EXPOSE {port}")
    uid, gid = assets.dockerfile_user()
    security = spec.get("securityContext", {})
    if (security.get("runAsUser"), security.get("runAsGroup"), security.get("fsGroup")) != (uid, gid, gid):
        fail(f"pod runAsUser/runAsGroup/fsGroup must be the image's user {uid}:{gid}")
    if not security.get("runAsNonRoot"):
        fail("pod securityContext.runAsNonRoot must be true")
    csec = container.get("securityContext", {})
    if not (csec.get("readOnlyRootFilesystem") and csec.get("allowPrivilegeEscalation") is False
            and csec.get("capabilities", {}).get("drop") == ["ALL"]):
        fail("container must have readOnlyRootFilesystem, no privilege escalation, all capabilities dropped")
    if spec.get("enableServiceLinks") is not False and any(
            s["metadata"]["name"].upper().replace("-", "_").startswith("ASSENT") for s in services):
        fail("enableServiceLinks must be false: Service links would inject ASSENT_* variables")

    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    data_dir = assets.flag_value(entrypoint, "--data-dir")
    claims = {c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]}
    data_mounts = [p for p, m in mounts.items() if m["name"] in claims]
    if not any(data_dir.startswith(p.rstrip("/") + "/") for p in data_mounts):
        fail(f"the image's --data-dir {data_dir} is not on a volumeClaimTemplate mount ({data_mounts})")

    # The config file: mounted where --config points, from the ConfigMap, and valid YAML.
    config_path = assets.flag_value(container.get("args", []), "--config")
    mount = mounts.get(config_path)
    if not mount or "configMap" not in volumes.get(mount["name"], {}):
        fail(f"--config {config_path} is not a ConfigMap mount")
        return
    if volumes[mount["name"]]["configMap"]["name"] != cm["metadata"]["name"] or \
            mount.get("subPath") not in cm["data"]:
        fail(f"{config_path} does not come from ConfigMap {cm['metadata']['name']}")
        return
    config = yaml.safe_load(cm["data"][mount["subPath"]])
    for key in ("listen", "metrics_listen", "data_dir"):
        if key in config:
            fail(f"ConfigMap sets {key}, which the image's entrypoint flags override")

    # The contact-key secret: a file of the Secret's volume, named by contact_key_secret_file.
    key_file = config.get("contact_key_secret_file", "")
    directory_, name = os.path.split(key_file)
    mount = mounts.get(directory_)
    volume = volumes.get(mount["name"], {}) if mount else {}
    if "secret" not in volume:
        fail(f"contact_key_secret_file {key_file!r} is not in a Secret mount")
    else:
        items = {i["path"]: i["key"] for i in volume["secret"].get("items", [])}
        key = items.get(name, name)
        if volume["secret"]["secretName"] != secret["metadata"]["name"] or \
                key not in secret.get("stringData", secret.get("data", {})):
            fail(f"{key_file} does not come from Secret {secret['metadata']['name']} key {key}")

    # Shutdown: consentd must finish before Kubernetes kills it.
    delay = assets.duration_seconds(config.get("shutdown_delay", "0"))
    grace = assets.duration_seconds(config.get("shutdown_grace", "10s"))
    period = spec.get("terminationGracePeriodSeconds", 30)
    if period < delay + grace + 10:
        fail(f"terminationGracePeriodSeconds {period} must exceed shutdown_delay + shutdown_grace "
             f"({delay + grace:g}s) by at least 10s for queued writes and closing the store")

    # Probes: liveness and startup on /healthz, readiness on /readyz, on the metrics port.
    for probe, path in (("livenessProbe", "/healthz"), ("startupProbe", "/healthz"),
                        ("readinessProbe", "/readyz")):
        get = container.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or get.get("port") != "metrics":
            fail(f"{probe} must GET {path} on port metrics")

    # Memory: the block cache plus the worst case of memtables (2 per column family, 7 families)
    # plus 256 MiB for everything else must fit the limit; the request covers the block cache.
    store = config.get("store", {})
    cache = int(store.get("block_cache_mb", 256))
    memtables = 7 * 2 * int(store.get("write_buffer_mb", 32))
    resources = container["resources"]
    if memory_mib(resources["limits"]["memory"]) < cache + memtables + 256:
        fail(f"memory limit {resources['limits']['memory']} < block cache {cache}Mi + memtables "
             f"{memtables}Mi + 256Mi")
    if memory_mib(resources["requests"]["memory"]) < cache + 256:
        fail(f"memory request {resources['requests']['memory']} < block cache {cache}Mi + 256Mi")
    print(f"{len(objects)} objects consistent")


# ---- container ------------------------------------------------------------------------------------
def bootstrap_groups():
    """{comment heading: [packages]} of the PACKAGES array in tools/bootstrap.sh."""
    text = assets.read("tools", "bootstrap.sh")
    body = re.search(r"PACKAGES=\((.*?)\n\)", text, re.S).group(1)
    groups, current = {}, None
    for line in body.splitlines():
        line = line.strip()
        if line.startswith("#"):
            current = line.lstrip("# ").split(" (")[0]
            groups[current] = []
        elif line and current:
            groups[current] += line.split()
    return groups


def dpkg_depends(package, cache):
    if package not in cache:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${db:Status-Status}\t${Depends},${Pre-Depends}", package],
            capture_output=True, text=True)
        status, _, depends = out.stdout.partition("\t")
        deps = []
        for alternative in depends.split(","):
            names = [re.sub(r"\s*\(.*?\)|:\w+", "", a).strip() for a in alternative.split("|")]
            deps.append([n for n in names if n])
        cache[package] = (out.returncode == 0 and status == "installed", [d for d in deps if d])
    return cache[package]


def owning_packages(paths):
    """{path: Debian package} for the given files (dpkg records /lib and /usr/lib paths as
    installed, so both spellings and the symlink target are asked for), in one dpkg-query call."""
    candidates = {}
    for path in paths:
        names = [path, os.path.realpath(path)]
        for p in list(names):
            if p.startswith("/usr/lib/"):
                names.append(p[len("/usr"):])
            elif p.startswith("/lib/"):
                names.append("/usr" + p)
        candidates[path] = names
    asked = sorted({n for names in candidates.values() for n in names})
    out = subprocess.run(["dpkg-query", "-S"] + asked, capture_output=True, text=True).stdout
    owner = {}
    for line in out.splitlines():
        package, _, file = line.rpartition(": ")
        owner[file] = package.split(",")[0].split(":")[0].strip()
    return {path: next((owner[n] for n in names if n in owner), None)
            for path, names in candidates.items()}


def check_container(args):
    stages = assets.dockerfile_stages()
    if set(stages) != {"build", "runtime"}:
        fail(f"Dockerfile stages are {sorted(stages)}, expected build and runtime")
        return
    build, runtime = assets.apt_packages(stages["build"]), assets.apt_packages(stages["runtime"])
    groups = bootstrap_groups()
    needed = set(groups.get("libraries", [])) | {"build-essential", "cmake", "ninja-build",
                                                 "pkg-config"}
    if not groups.get("libraries"):
        fail("tools/bootstrap.sh has no '# libraries' group in PACKAGES")
    for package in sorted(needed - set(build)):
        fail(f"the build stage does not install {package} (tools/bootstrap.sh does)")
    for package in runtime:
        if package.endswith("-dev"):
            fail(f"the runtime stage installs the development package {package}")
    if not re.search(r"^USER\s+\d+", stages["runtime"], re.M):
        fail("the runtime stage must run as a numeric USER (Kubernetes' runAsNonRoot checks it)")

    # Every library the binaries load must come from a runtime package or one it depends on.
    cache, closure, todo, unknown = {}, set(), list(runtime), []
    while todo:
        package = todo.pop()
        if package in closure:
            continue
        closure.add(package)
        installed, deps = dpkg_depends(package, cache)
        if not installed:  # virtual, or not on this machine: its dependencies are not followed
            if package in runtime:
                unknown.append(package)
            continue
        for alternative in deps:
            todo += [a for a in alternative if dpkg_depends(a, cache)[0]][:1] or alternative[:1]
    for binary in args.binaries:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
        libraries = re.findall(r"=>\s+(/\S+)", out)
        for library, package in owning_packages(libraries).items():
            if package is None:
                fail(f"{os.path.basename(binary)}: {library} belongs to no Debian package")
            elif package not in closure:
                fail(f"{os.path.basename(binary)} links {os.path.basename(library)} from "
                     f"{package}, which the runtime stage does not install")
    if unknown:
        print(f"not installed here, dependencies not followed: {' '.join(unknown)}")
        if errors:
            fail("some runtime packages are not installed on this machine, so the libraries "
                 "they would bring in are unknown: install them and run again")
    print(f"build stage: {len(build)} packages; runtime stage: {len(runtime)} packages "
          f"({len(closure)} with dependencies); checked {len(args.binaries)} binaries")


# ---- systemd --------------------------------------------------------------------------------------
def check_systemd(args):
    unit = assets.read("deploy", "systemd", "consentd.service")
    help_text = subprocess.run([args.consentd, "--help"], capture_output=True, text=True,
                               check=True).stdout
    options = assets.consentd_options(help_text)
    exec_start = re.search(r"^ExecStart=(\S+)(.*)$", unit, re.M)
    for flag in re.findall(r"(--[a-z0-9-]+)", exec_start.group(2)):
        if flag not in options:
            fail(f"ExecStart passes {flag}, which consentd does not know")
    env_example = assets.read("deploy", "systemd", "consentd.env.example")
    for number, line in enumerate(env_example.splitlines(), 1):
        stripped = line.strip()
        m = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", stripped)
        if stripped.startswith("#") and not m:
            continue
        if not stripped:
            continue
        if not m:
            fail(f"consentd.env.example:{number}: not NAME=value")
        elif m.group(1) not in options.values() and m.group(1) != "ASSENT_CONFIG":
            fail(f"consentd.env.example:{number}: {m.group(1)} is not a consentd variable")
    for m in re.finditer(r"^#?Environment=(ASSENT_[A-Z0-9_]+)=", unit, re.M):
        if m.group(1) not in options.values():
            fail(f"consentd.service: {m.group(1)} is not a consentd variable")

    # Stop timeout: longer than the drain consentd is configured for by default.
    grace = assets.duration_seconds(re.search(r'--shutdown-grace / \S+\n.*\(default: "([^"]*)"\)',
                                              help_text).group(1))
    delay_m = re.search(r'--shutdown-delay / \S+\n.*\(default: "([^"]*)"\)', help_text)
    delay = assets.duration_seconds(delay_m.group(1)) if delay_m else 0
    stop = assets.duration_seconds(re.search(r"^TimeoutStopSec=(\S+)", unit, re.M).group(1))
    if stop < delay + grace + 10:
        fail(f"TimeoutStopSec={stop:g}s must exceed shutdown_delay + shutdown_grace "
             f"({delay + grace:g}s) by 10s")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "consentd.service")
        with open(path, "w") as f:
            f.write(unit.replace(exec_start.group(1), os.path.abspath(args.consentd)))
        verify = subprocess.run([args.systemd_analyze, "verify", "--man=no", path],
                                capture_output=True, text=True)
        if verify.returncode != 0 or verify.stdout.strip() or verify.stderr.strip():
            fail("systemd-analyze verify:\n" + verify.stdout + verify.stderr)
        # Exposure 0.0 (locked down) .. 10.0 (unprotected); --threshold is in tenths.
        security = subprocess.run([args.systemd_analyze, "security", "--offline=true",
                                   "--threshold=20", "--no-pager", path],
                                  capture_output=True, text=True)
        level = re.search(r"Overall exposure level for \S+: (\S+)", security.stdout)
        if security.returncode != 0:
            fail(f"systemd-analyze security: exposure {level.group(1) if level else '?'} is above "
                 f"2.0\n" + security.stdout[-3000:] + security.stderr)
        else:
            print(f"exposure level {level.group(1)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("alerts")
    p = sub.add_parser("dashboard")
    p.add_argument("--promtool", required=True)
    sub.add_parser("kubernetes")
    p = sub.add_parser("container")
    p.add_argument("binaries", nargs="*", help="built binaries whose libraries the image must hold")
    p = sub.add_parser("systemd")
    p.add_argument("--consentd", required=True)
    p.add_argument("--systemd-analyze", required=True)
    args = parser.parse_args()
    {"alerts": check_alerts, "dashboard": check_dashboard, "kubernetes": check_kubernetes,
     "container": check_container, "systemd": check_systemd}[args.command](args)
    for e in errors:
        print("FAIL:", e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
