#!/usr/bin/env python3
"""Static checks of Assent's deployment assets (deploy/), one subcommand per asset:

  alerts      every alert has a severity, summary, description and a runbook_url whose anchor exists
              in deploy/RUNBOOK.md, and alerts_test.yaml shows each one firing
  dashboard   the Grafana dashboard is valid JSON of the expected shape: datasource variable on
              every panel and query, only assent_*, up and node_* metrics, PromQL that promtool parses
  kubernetes  the manifests agree with each other, with the ConfigMaps' consentd.yaml and
              prefcenter.yaml and with the container image (selectors, ports, user, paths, secrets,
              probes, shutdown timing, memory for the block cache), for consentd's StatefulSet and
              the preference center's Deployment alike; every Secret and ConfigMap the pods mount
              exists (or is written by cert-manager for a Certificate) and is not world-readable;
              tls.* of both configs name the mounted files of one Certificate's Secret, the
              policy is a ConfigMap directory mount, every client certificate's SPIFFE ID is
              granted by the policy and names its pod's service account, consentd's certificate
              names the host the preference center dials, every issuer exists
  container   the Dockerfile builds with the packages tools/bootstrap.sh installs, and its runtime
              stage installs the package of every shared library the built binaries link
  systemd     systemd-analyze accepts the unit, its sandbox stays tight, the environment file
              names only variables consentd knows, the unit passes the TLS files and the policy
              of deploy/consentd.example.yaml and reloads the policy with SIGHUP

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
                 "Readiness", "Preference center", "Cluster"]
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


# Kafka's default group.min.session.timeout.ms: brokers refuse a consumer asking for less.
KAFKA_MIN_SESSION_TIMEOUT_S = 6


def check_cluster(sts, config, container, services, issued, principals, pdbs):
    """Cluster mode (cluster.enabled in consentd's ConfigMap): enough instances, one per node,
    each named by its pod and reachable by the others at a name its certificate carries, the peers
    allowed to forward, Kafka settings consentd and the brokers accept, a disruption budget and a
    grace period that let partitions move."""
    def name(obj):
        return obj["metadata"]["name"]

    cluster = config.get("cluster") or {}
    kafka = config.get("kafka") or {}
    spec = sts["spec"]["template"]["spec"]
    replicas = sts["spec"].get("replicas", 1)
    if replicas < 3:
        fail(f"cluster mode with {replicas} replicas: run 3 or more, so that losing one instance "
             "leaves its partitions two candidates")
    if int(kafka.get("partitions", 6)) < replicas:
        fail(f"kafka.partitions {kafka.get('partitions', 6)} < {replicas} replicas: some instances "
             "would own no partition")
    if not str(kafka.get("brokers", "")).strip():
        fail("cluster mode needs kafka.brokers (consentd refuses to start without)")
    min_isr = int(cluster.get("min_insync_replicas", 2))
    replication = int(kafka.get("replication_factor", 3))
    if min_isr < 2 or replication < min_isr + 1:
        fail(f"kafka.replication_factor {replication} and cluster.min_insync_replicas {min_isr}: "
             "acknowledged writes must be on 2 brokers or more (min ISR >= 2) and writes must "
             "survive one broker down (replication >= min ISR + 1)")
    if not config.get("contact_key_secret_file"):
        fail("cluster mode needs contact_key_secret_file (the same secret on every instance)")
    session = assets.duration_seconds(cluster.get("session_timeout", "10s"))
    heartbeat = assets.duration_seconds(cluster.get("heartbeat_interval", "3s"))
    if session < KAFKA_MIN_SESSION_TIMEOUT_S:
        fail(f"cluster.session_timeout {session:g}s is below Kafka's default "
             f"group.min.session.timeout.ms ({KAFKA_MIN_SESSION_TIMEOUT_S}s): the group would "
             "refuse every instance unless the brokers are changed")
    if heartbeat * 3 > session:
        fail(f"cluster.heartbeat_interval {heartbeat:g}s: keep it at most a third of "
             f"cluster.session_timeout ({session:g}s), or one late heartbeat evicts an instance")

    # Each instance's name and address: the pod's, from the downward API, at the headless Service.
    if cluster.get("node_id") or cluster.get("advertise_address"):
        fail("consentd's ConfigMap sets cluster.node_id or cluster.advertise_address, which every "
             "instance would share: set them per pod from POD_NAME (environment)")
    node_id = assets.env_value(container, "ASSENT_CLUSTER_NODE_ID")
    if node_id != "$(fieldRef:metadata.name)":
        fail(f"ASSENT_CLUSTER_NODE_ID is {node_id!r}, not the pod's name (downward API "
             "metadata.name through POD_NAME)")
    advertised = assets.env_value(container, "ASSENT_CLUSTER_ADVERTISE_ADDRESS") or ""
    governing = next((s for s in services if name(s) == sts["spec"]["serviceName"]), None)
    m = re.fullmatch(r"\$\(fieldRef:metadata\.name\)\.([^.]+)\.\$\(fieldRef:metadata\.namespace\)"
                     r"\.svc(?:\.cluster\.local)?:(\d+)", advertised)
    grpc_port = {p["name"]: p["containerPort"] for p in container.get("ports", [])}.get("grpc")
    if not m:
        fail(f"ASSENT_CLUSTER_ADVERTISE_ADDRESS is {advertised!r}, not "
             "$(POD_NAME).<headless Service>.$(POD_NAMESPACE).svc:<gRPC port>")
    elif governing is None or m.group(1) != name(governing):
        fail(f"ASSENT_CLUSTER_ADVERTISE_ADDRESS names Service {m.group(1)}, not the StatefulSet's "
             f"governing Service {sts['spec']['serviceName']} (the pods' stable DNS names)")
    else:
        if not governing["spec"].get("publishNotReadyAddresses"):
            fail(f"Service {name(governing)} must publish not-ready addresses: a pod draining on "
                 "SIGTERM is not ready but still owns its partitions and receives forwarded writes")
        if not any(p["port"] == int(m.group(2)) and p["targetPort"] in ("grpc", grpc_port)
                   for p in governing["spec"]["ports"]):
            fail(f"the advertised port {m.group(2)} is not the gRPC port of Service "
                 f"{name(governing)}")

    # Peers call each other with consentd's own certificate (tls.*): a client certificate too, with
    # a SPIFFE ID the policy grants cluster.forward, valid for every pod's stable name.
    cert_volume = assets.volume_of_file(sts, (config.get("tls") or {}).get("cert", ""))[0]
    secret = (cert_volume or {}).get("secret", {}).get("secretName")
    cert = issued.get(secret)
    if cert is None:
        fail("cluster mode: consentd's tls.cert is not from a cert-manager Certificate")
        return
    usages, uris = cert["spec"].get("usages", []), cert["spec"].get("uris", [])
    if "client auth" not in usages:
        fail(f"Certificate {name(cert)}: peers present it as a client certificate, add the usage "
             "client auth")
    if len(uris) != 1:
        fail(f"Certificate {name(cert)} needs one URI SAN (the SPIFFE ID peers are known by), has "
             f"{uris}")
    else:
        grant = principals.get(uris[0]) or {}
        if "*" not in grant.get("tenants", []) or \
                not {"*", "cluster.forward"} & set(grant.get("permissions", [])):
            fail(f"the policy does not grant {uris[0]} (consentd's peers) cluster.forward on every "
                 "tenant: forwarded writes would be refused")
        account = assets.spiffe_service_account(uris[0])
        if governing is not None and account is not None:
            pod_host = f"{sts['metadata']['name']}-0.{name(governing)}.{account[0]}.svc"
            dns = cert["spec"].get("dnsNames", [])
            if not any(d == pod_host or (d.startswith("*.") and pod_host.split(".", 1)[1] == d[2:])
                       for d in dns):
                fail(f"Certificate {name(cert)} does not name the pods' stable names ({pod_host}, "
                     f"or *.{pod_host.split('.', 1)[1]}): peers would refuse it")

    # One instance per node; disruptions one at a time; a grace period for the handover.
    anti = ((spec.get("affinity") or {}).get("podAntiAffinity") or {})
    terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution", []) + [
        t.get("podAffinityTerm", {})
        for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
    labels = sts["spec"]["template"]["metadata"]["labels"]
    if not any(t.get("topologyKey") == "kubernetes.io/hostname"
               and assets.selects((t.get("labelSelector") or {}).get("matchLabels"), labels)
               for t in terms):
        fail("no podAntiAffinity on kubernetes.io/hostname selecting the consentd pods: one node "
             "could take several instances down")
    for pdb in pdbs:
        max_unavailable = pdb["spec"].get("maxUnavailable")
        if max_unavailable != 1 or pdb["spec"].get("minAvailable") is not None:
            fail(f"PodDisruptionBudget {name(pdb)}: use maxUnavailable 1 (drains take one instance "
                 "at a time, the others take over its partitions)")
    delay = assets.duration_seconds(config.get("shutdown_delay", "0"))
    grace = assets.duration_seconds(config.get("shutdown_grace", "10s"))
    commit = assets.duration_seconds(cluster.get("commit_timeout", "10s"))
    period = spec.get("terminationGracePeriodSeconds", 30)
    if period < delay + grace + commit + 10:
        fail(f"terminationGracePeriodSeconds {period} must cover shutdown_delay + shutdown_grace + "
             f"cluster.commit_timeout ({delay + grace + commit:g}s) and 10s to leave the group: "
             "killed earlier, its partitions wait for cluster.session_timeout")
    print(f"cluster mode: {replicas} instances, {kafka.get('partitions', 6)} partitions")


def check_kubernetes(args):
    directory = os.path.join(assets.DEPLOY, "kubernetes")
    kustomization = yaml.safe_load(assets.read("deploy", "kubernetes", "kustomization.yaml"))
    listed = set(kustomization["resources"])
    present = {f for f in os.listdir(directory) if f.endswith(".yaml")}
    examples = set(assets.kubernetes_examples())
    for f in sorted(present - listed - {"kustomization.yaml"} - examples):
        fail(f"{f} is not listed in kustomization.yaml")
    for f in sorted(listed & examples):
        fail(f"kustomization.yaml must not apply {f} (an example with a placeholder secret)")
    rendered = None
    if args.overlay:
        # An overlay of the base (deploy/kubernetes-cluster): every file of it is used, and the
        # objects are what kustomize renders from it.
        overlay = os.path.join(assets.REPO, args.overlay)
        with open(os.path.join(overlay, "kustomization.yaml")) as f:
            layer = yaml.safe_load(f)
        used = {r for r in layer.get("resources", []) if r.endswith(".yaml")}
        used |= {p["path"] for p in layer.get("patches", []) if "path" in p}
        for f in sorted({f for f in os.listdir(overlay) if f.endswith(".yaml")
                         and not f.endswith(".example.yaml")} - used - {"kustomization.yaml"}):
            fail(f"{args.overlay}/{f} is neither a resource nor a patch of its kustomization.yaml")
        result = subprocess.run([args.kustomize, "build", overlay], capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"kustomize build {args.overlay}:\n{result.stderr}")
        rendered = result.stdout
    objects = assets.kubernetes_objects(rendered)

    def of_kind(kind):
        return [o for (k, _), o in objects.items() if k == kind]

    def name(obj):
        return obj["metadata"]["name"]

    # The two workloads: consentd (StatefulSet) and the preference center (Deployment).
    sts, deploy = assets.only(objects, "StatefulSet"), assets.only(objects, "Deployment")
    workloads = {"consentd": sts, "prefcenter": deploy}
    pod_labels = {w: o["spec"]["template"]["metadata"]["labels"] for w, o in workloads.items()}
    specs = {w: o["spec"]["template"]["spec"] for w, o in workloads.items()}
    containers = {}
    for w, spec in specs.items():
        if len(spec["containers"]) != 1:
            raise SystemExit(f"{w}: expected one container, found {len(spec['containers'])}")
        containers[w] = spec["containers"][0]
    port_names = {w: {p["name"]: p["containerPort"] for p in c.get("ports", [])}
                  for w, c in containers.items()}
    services, secrets = of_kind("Service"), {name(o): o for o in of_kind("Secret")}
    configmaps = {name(o): o for o in of_kind("ConfigMap")}
    issued = assets.certificates(objects)  # {Secret name: the Certificate cert-manager writes it for}

    def selected(selector):
        return [w for w in workloads if assets.selects(selector, pod_labels[w])]

    for w, obj in workloads.items():
        if obj["spec"]["selector"]["matchLabels"].items() - pod_labels[w].items():
            fail(f"{obj['kind']} {name(obj)} selector does not match its pod labels")
        others = [x for x in selected(obj["spec"]["selector"]["matchLabels"]) if x != w]
        if others:
            fail(f"{obj['kind']} {name(obj)} selector also selects the pods of {others}")
    if deploy["spec"].get("replicas", 1) < 2:
        fail(f"Deployment {name(deploy)} replicas must be at least 2: with one, every rollout, node "
             "drain or crash takes preference and unsubscribe links down")

    # Services: each selects the pods of exactly one workload, on ports that workload has.
    service_of = {w: [] for w in workloads}
    for svc in services:
        chosen = selected(svc["spec"].get("selector") or {})
        if len(chosen) != 1:
            fail(f"Service {name(svc)} must select the pods of exactly one workload "
                 f"(consentd or prefcenter), selects {chosen or 'none'}")
            continue
        service_of[chosen[0]].append(svc)
        for port in svc["spec"]["ports"]:
            if port["targetPort"] not in port_names[chosen[0]]:
                fail(f"Service {name(svc)}: targetPort {port['targetPort']} is no container port "
                     f"of {chosen[0]}")
    headless = [s for s in services if s["spec"].get("clusterIP") == "None"]
    if [name(s) for s in headless] != [sts["spec"]["serviceName"]] or \
            headless[0] not in service_of["consentd"]:
        fail("serviceName must name the one headless Service, which selects the consentd pods")
    clients = {w: [s for s in service_of[w] if s not in headless] for w in workloads}
    for w in workloads:
        if len(clients[w]) != 1:
            fail(f"expected one (not headless) Service for {w}, found {[name(s) for s in clients[w]]}")
    if clients["prefcenter"] and not any(p["targetPort"] == "http"
                                         for p in clients["prefcenter"][0]["spec"]["ports"]):
        fail(f"Service {name(clients['prefcenter'][0])} has no port to the container port http")

    # PodDisruptionBudgets: one per workload.
    pdb_of = {w: [] for w in workloads}
    for pdb in of_kind("PodDisruptionBudget"):
        chosen = selected(pdb["spec"]["selector"].get("matchLabels") or {})
        if len(chosen) != 1:
            fail(f"PodDisruptionBudget {name(pdb)} must select the pods of exactly one workload, "
                 f"selects {chosen or 'none'}")
        else:
            pdb_of[chosen[0]].append(pdb)
    for w in workloads:
        if len(pdb_of[w]) != 1:
            fail(f"expected one PodDisruptionBudget selecting the {w} pods, found "
                 f"{[name(p) for p in pdb_of[w]]}")
    for pdb in pdb_of["prefcenter"]:
        replicas = deploy["spec"].get("replicas", 1)
        max_unavailable, min_available = (pdb["spec"].get("maxUnavailable"),
                                          pdb["spec"].get("minAvailable"))
        if (isinstance(max_unavailable, int) and max_unavailable < 1) or \
                (isinstance(min_available, int) and min_available >= replicas):
            fail(f"PodDisruptionBudget {name(pdb)} allows no eviction of the {replicas} stateless "
                 "preference center pods: node drains would hang")

    # ServiceMonitors: one per workload, each selecting exactly that workload's client Service,
    # on a port it has, with a job the rules expect.
    monitored = {w: [] for w in workloads}
    jobs = {}
    for monitor in of_kind("ServiceMonitor"):
        wanted = monitor["spec"]["selector"].get("matchLabels") or {}
        scraped = [s for s in services if assets.selects(wanted, s["metadata"]["labels"])]
        owner = [w for w in workloads if scraped and scraped[0] in clients[w]]
        if len(scraped) != 1 or not owner:
            fail(f"ServiceMonitor {name(monitor)} must select exactly one client Service, selects "
                 f"{[name(s) for s in scraped]}")
            continue
        monitored[owner[0]].append(monitor)
        svc_ports = {p["name"] for p in scraped[0]["spec"]["ports"]}
        for ep in monitor["spec"]["endpoints"]:
            if ep.get("port") not in svc_ports:
                fail(f"ServiceMonitor {name(monitor)} endpoint port {ep.get('port')} is not a port "
                     f"of Service {name(scraped[0])}")
        job_label = monitor["spec"].get("jobLabel")
        job = scraped[0]["metadata"]["labels"].get(job_label, "") if job_label else name(scraped[0])
        if not job.startswith("assent"):
            fail(f"ServiceMonitor {name(monitor)} gives job {job!r}, which does not match the rules' "
                 'job=~"assent.*"')
        jobs[owner[0]] = job
    for w in workloads:
        if len(monitored[w]) != 1:
            fail(f"expected one ServiceMonitor scraping the {w} Service, found "
                 f"{[name(m) for m in monitored[w]]}")
    for rule in assets.alert_rules():
        for job in re.findall(r'\bjob="([^"]+)"', rule["expr"]):
            if job not in jobs.values():
                fail(f"alert {rule['alert']} selects job=\"{job}\", which no ServiceMonitor gives "
                     f"(jobs: {sorted(jobs.values())})")

    # The image: consentd's ports from its entrypoint; the preference center's from its arguments.
    entrypoint = assets.dockerfile_entrypoint()
    dockerfile = assets.read("deploy", "container", "Dockerfile")
    expose = re.search(r"^EXPOSE (.*)$", dockerfile, re.M)
    exposed = set(expose.group(1).split()) if expose else set()
    for flag, port_name in (("--listen", "grpc"), ("--metrics-listen", "metrics")):
        port = int(assets.flag_value(entrypoint, flag).rsplit(":", 1)[1])
        if port_names["consentd"].get(port_name) != port:
            fail(f"container port {port_name} is {port_names['consentd'].get(port_name)}, the "
                 f"image's {flag} port is {port}")
        if str(port) not in exposed:
            fail(f"the Dockerfile does not EXPOSE {port}")
    pc = containers["prefcenter"]
    pc_args = pc.get("args", [])
    for flag, port_name in (("--listen", "http"), ("--metrics-listen", "metrics")):
        address = assets.flag_value(pc_args, flag)
        if not address:
            fail(f"the prefcenter container passes no {flag} (its default listens on loopback only)")
            continue
        host, port = address.rsplit(":", 1)
        if host in ("127.0.0.1", "localhost", "[::1]"):
            fail(f"prefcenter {flag} {address} listens on loopback: unreachable from the Service")
        if port_names["prefcenter"].get(port_name) != int(port):
            fail(f"prefcenter container port {port_name} is {port_names['prefcenter'].get(port_name)}, "
                 f"its {flag} port is {port}")
        if port not in exposed:
            fail(f"the Dockerfile does not EXPOSE {port} (prefcenter {flag})")
    copied = set()
    for m in re.finditer(r"^COPY --from=build (.*) (\S+)$", dockerfile, re.M):
        copied |= {os.path.join(m.group(2), os.path.basename(f)) for f in m.group(1).split()}
    command = pc.get("command") or []
    if not command or command[0] not in copied:
        fail(f"prefcenter container command {command} does not run a binary the image holds "
             f"({sorted(copied)})")
    sts_image = containers["consentd"]["image"].rsplit(":", 1)[0]
    if pc["image"].rsplit(":", 1)[0] != sts_image:
        fail(f"prefcenter image {pc['image']} is not consentd's image {sts_image} (kustomization.yaml's "
             "images: would set one and not the other)")

    # Pod security, the same for both.
    uid, gid = assets.dockerfile_user()
    for w, spec in specs.items():
        container = containers[w]
        security = spec.get("securityContext", {})
        if (security.get("runAsUser"), security.get("runAsGroup"), security.get("fsGroup")) != (uid, gid, gid):
            fail(f"{w}: pod runAsUser/runAsGroup/fsGroup must be the image's user {uid}:{gid}")
        if not security.get("runAsNonRoot"):
            fail(f"{w}: pod securityContext.runAsNonRoot must be true")
        if spec.get("automountServiceAccountToken") is not False:
            fail(f"{w}: automountServiceAccountToken must be false (it never calls the Kubernetes API)")
        csec = container.get("securityContext", {})
        if not (csec.get("readOnlyRootFilesystem") and csec.get("allowPrivilegeEscalation") is False
                and csec.get("capabilities", {}).get("drop") == ["ALL"]):
            fail(f"{w}: container must have readOnlyRootFilesystem, no privilege escalation, all "
                 "capabilities dropped")
        if spec.get("enableServiceLinks") is not False and any(
                name(s).upper().replace("-", "_").startswith("ASSENT") for s in services):
            fail(f"{w}: enableServiceLinks must be false: Service links would inject ASSENT_* variables")
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in resources.get(kind, {}):
                    fail(f"{w}: container has no {kind}.{resource}")
        # Probes on the metrics port: liveness (and startup) /healthz, readiness /readyz.
        probes = [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")]
        if w == "consentd" or "startupProbe" in container:
            probes.append(("startupProbe", "/healthz"))
        for probe, path in probes:
            get = container.get(probe, {}).get("httpGet", {})
            if get.get("path") != path or get.get("port") != "metrics":
                fail(f"{w}: {probe} must GET {path} on port metrics")

    mounts = {w: {m["mountPath"]: m for m in c.get("volumeMounts", [])} for w, c in containers.items()}
    volumes = {w: {v["name"]: v for v in s.get("volumes", [])} for w, s in specs.items()}

    def config_of(w):
        """The YAML of the file --config names, which must be a key of a ConfigMap."""
        path = assets.flag_value(containers[w].get("args", []), "--config")
        mount = mounts[w].get(path)
        volume = volumes[w].get(mount["name"], {}) if mount else {}
        if "configMap" not in volume:
            fail(f"{w}: --config {path} is not a ConfigMap mount")
            return None
        cm = configmaps.get(volume["configMap"]["name"])
        if cm is None or mount.get("subPath") not in cm.get("data", {}):
            fail(f"{w}: {path} does not come from a key of ConfigMap {volume['configMap']['name']}")
            return None
        return yaml.safe_load(cm["data"][mount["subPath"]])

    def secret_file(w, key_name, path):
        """(Secret, key) of the file `path`, which must be an item of a Secret volume."""
        directory_, file_name = os.path.split(path or "")
        mount = mounts[w].get(directory_)
        volume = volumes[w].get(mount["name"], {}) if mount else {}
        if "secret" not in volume:
            fail(f"{w}: {key_name} {path!r} is not in a Secret mount")
            return None
        items = {i["path"]: i["key"] for i in volume["secret"].get("items", [])}
        if items and file_name not in items:
            fail(f"{w}: {key_name} {path!r}: the Secret volume has no item {file_name}")
            return None
        key, secret_name = items.get(file_name, file_name), volume["secret"]["secretName"]
        if secret_name in issued:  # cert-manager writes it
            if key not in assets.CERT_MANAGER_KEYS:
                fail(f"{w}: {path}: the Secret {secret_name} cert-manager writes for Certificate "
                     f"{name(issued[secret_name])} has no key {key} (only {assets.CERT_MANAGER_KEYS})")
                return None
            return secret_name, key
        secret = secrets.get(secret_name, {})
        if key not in secret.get("stringData", secret.get("data", {})):
            fail(f"{w}: {path} does not come from Secret {secret_name} key {key} (no such Secret "
                 "example, or no such key in it)")
            return None
        return secret_name, key

    # Every Secret and ConfigMap a pod mounts exists: among the manifests, as an example of a Secret
    # to create by hand, or as the Secret cert-manager writes for a Certificate. Secrets are not
    # readable by others (consentd and its clients refuse such keys).
    for w, spec in specs.items():
        account = spec.get("serviceAccountName", "default")
        if account != "default" and ("ServiceAccount", account) not in objects:
            fail(f"{w}: serviceAccountName {account} is no ServiceAccount of the manifests")
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                cm = configmaps.get(volume["configMap"]["name"])
                if cm is None:
                    fail(f"{w}: volume {volume['name']} mounts ConfigMap {volume['configMap']['name']}, "
                         "which no manifest defines")
                    continue
                for item in volume["configMap"].get("items", []):
                    if item["key"] not in cm.get("data", {}):
                        fail(f"{w}: volume {volume['name']}: ConfigMap {name(cm)} has no key {item['key']}")
            if "secret" in volume:
                secret_name = volume["secret"]["secretName"]
                if secret_name in issued:
                    keys = set(assets.CERT_MANAGER_KEYS)
                elif secret_name in secrets:
                    secret = secrets[secret_name]
                    keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
                else:
                    fail(f"{w}: volume {volume['name']} mounts Secret {secret_name}, which is neither "
                         "a Secret example nor the secretName of a cert-manager Certificate")
                    continue
                for item in volume["secret"].get("items", []):
                    if item["key"] not in keys:
                        fail(f"{w}: volume {volume['name']}: Secret {secret_name} has no key {item['key']}")
                modes = [volume["secret"].get("defaultMode", 0o644)]
                modes += [i["mode"] for i in volume["secret"].get("items", []) if "mode" in i]
                if any(mode & 0o007 for mode in modes):
                    fail(f"{w}: Secret volume {volume['name']} is readable by others (mode "
                         f"{oct(max(modes))}): use defaultMode 0400 or 0440 with fsGroup")

    # cert-manager: every Certificate's issuer is an Issuer of the manifests (a ClusterIssuer is
    # the cluster's), a CA Issuer's Secret comes from a CA Certificate.
    issuers = {name(o): o for o in of_kind("Issuer")}
    for cert in issued.values():
        ref = cert["spec"]["issuerRef"]
        if ref.get("kind", "Issuer") == "Issuer" and ref["name"] not in issuers:
            fail(f"Certificate {name(cert)}: issuerRef names Issuer {ref['name']}, which no manifest "
                 "defines")
    for issuer in issuers.values():
        ca = issuer["spec"].get("ca")
        if ca and not (ca["secretName"] in issued and issued[ca["secretName"]]["spec"].get("isCA")):
            fail(f"Issuer {name(issuer)} signs with Secret {ca['secretName']}, which no Certificate "
                 "with isCA: true writes")

    def tls_files(w, config):
        """The Certificate whose Secret holds the files of `config`'s tls.cert/key/ca; each setting
        names the key cert-manager writes for it, all from the one Secret."""
        tls = (config or {}).get("tls") or {}
        sources = set()
        for setting, key in assets.TLS_SETTING_KEYS.items():
            if not tls.get(setting):
                fail(f"{w}'s config sets no tls.{setting}")
                continue
            found = secret_file(w, f"tls.{setting}", tls[setting])
            if found is None:
                continue
            if found[0] not in issued:
                fail(f"{w}: tls.{setting} comes from Secret {found[0]}, which no cert-manager "
                     "Certificate writes: it would not be renewed")
            elif found[1] != key:
                fail(f"{w}: tls.{setting} {tls[setting]!r} is the Secret's key {found[1]}, not {key}")
            sources.add(found[0])
        if len(sources) > 1:
            fail(f"{w}: tls.cert, tls.key and tls.ca come from different Secrets {sorted(sources)}")
        return issued.get(next(iter(sources))) if len(sources) == 1 else None

    # ---- consentd: data volume, config, secrets, shutdown, memory.
    container, spec = containers["consentd"], specs["consentd"]
    data_dir = assets.flag_value(entrypoint, "--data-dir")
    claims = {c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]}
    data_mounts = [p for p, m in mounts["consentd"].items() if m["name"] in claims]
    if not any(data_dir.startswith(p.rstrip("/") + "/") for p in data_mounts):
        fail(f"the image's --data-dir {data_dir} is not on a volumeClaimTemplate mount ({data_mounts})")

    config = config_of("consentd")
    if config is None:
        return
    for key in ("listen", "metrics_listen", "data_dir"):
        if key in config:
            fail(f"consentd's ConfigMap sets {key}, which the image's entrypoint flags override")
    cluster = (config.get("cluster") or {}).get("enabled") is True
    if not cluster and sts["spec"].get("replicas") != 1:
        fail("StatefulSet replicas must be 1 without cluster mode (each replica would be a "
             "separate store)")
    secret_file("consentd", "contact_key_secret_file", config.get("contact_key_secret_file", ""))
    links = config.get("links") or {}
    if not links.get("keyring_file"):
        fail("consentd's config sets no links.keyring_file: it could not sign the links the "
             "preference center verifies")
        consentd_keyring = None
    else:
        consentd_keyring = secret_file("consentd", "links.keyring_file", links["keyring_file"])

    # TLS: consentd's certificate from a cert-manager Certificate for a server, which verifies
    # client certificates (mTLS); the policy from a ConfigMap directory mount.
    if config.get("insecure"):
        fail("consentd's ConfigMap sets insecure: gRPC would be plaintext")
    server_cert = tls_files("consentd", config)
    tls = config.get("tls") or {}
    if tls.get("client_auth", "require") not in ("require", "optional"):
        fail(f"consentd's tls.client_auth is {tls.get('client_auth')!r}: the deployment's services "
             "are known by their client certificates (require, or optional for bearer tokens too)")
    if server_cert is not None:
        usages = server_cert["spec"].get("usages", [])
        if "server auth" not in usages or server_cert["spec"].get("isCA"):
            fail(f"Certificate {name(server_cert)} (consentd's) must be a server certificate "
                 f"(usages with server auth, not isCA), has {usages}")
    principals = {}
    policy_path = (config.get("auth") or {}).get("policy_file", "")
    volume, mount, key = assets.volume_of_file(sts, policy_path) if policy_path else (None, None, None)
    if not policy_path:
        fail("consentd's config sets no auth.policy_file: once TLS is on, every client may do "
             "everything")
    elif not volume or "configMap" not in volume or key is None:
        fail(f"consentd's auth.policy_file {policy_path!r} is not a key of a mounted ConfigMap")
    elif "subPath" in mount:
        fail(f"consentd's auth.policy_file {policy_path!r} is a subPath mount, which the kubelet "
             "never updates: mount the ConfigMap as a directory so that edits reach consentd")
    else:
        text = assets.policy(objects, sts, config)
        try:
            document = yaml.safe_load(text or "") or {}
        except yaml.YAMLError as e:
            document = {}
            fail(f"the policy ConfigMap's {key} is not YAML: {e}")
        roles = document.get("roles") or {}
        for principal in document.get("principals") or []:
            if not principal.get("id") or not principal.get("tenants"):
                fail(f"policy principal {principal} needs an id and tenants")
                continue
            principals[principal["id"]] = principal
            for role in principal.get("roles", []):
                if role not in roles:
                    fail(f"policy principal {principal['id']} has role {role}, which roles: lacks")
        if not principals:
            fail("the policy grants nobody anything")

    # Client certificates: each Certificate for a client carries a URI SAN the policy grants, and a
    # SPIFFE ID naming a service account names the account of the pod that mounts it.
    mounted_by = {}
    for w, spec in specs.items():
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                mounted_by.setdefault(volume["secret"]["secretName"], []).append(w)
    for secret_name, cert in issued.items():
        if "client auth" not in cert["spec"].get("usages", []):
            continue
        uris = cert["spec"].get("uris", [])
        if len(uris) != 1:
            fail(f"Certificate {name(cert)}: a client certificate needs one URI SAN (its SPIFFE ID, "
                 f"the principal consentd knows it by), has {uris}")
            continue
        if principals and uris[0] not in principals:
            fail(f"Certificate {name(cert)}: the policy grants {uris[0]} nothing")
        account = assets.spiffe_service_account(uris[0])
        for w in mounted_by.get(secret_name, []):
            if account is None or account[1] != specs[w].get("serviceAccountName", "default"):
                fail(f"{w} mounts Certificate {name(cert)}'s Secret, whose SPIFFE ID {uris[0]} does "
                     f"not name its service account {specs[w].get('serviceAccountName', 'default')}")
    # Every certificate principal the policy names has a Certificate (tokens need none).
    uris = {u for c in issued.values() for u in c["spec"].get("uris", [])}
    for principal in principals.values():
        if principal["id"].startswith("spiffe://") and principal["id"] not in uris:
            fail(f"the policy grants {principal['id']}, for which no Certificate is issued")
    operators = [p for p in principals.values()
                 if p["id"] in uris and p.get("tenants") == ["*"]
                 and {"*", "admin"} & set(p.get("permissions", []))]
    if principals and not operators:
        fail("no Certificate's principal may create tenants (an operator's, with admin on \"*\")")

    # Shutdown: consentd must finish before Kubernetes kills it.
    delay = assets.duration_seconds(config.get("shutdown_delay", "0"))
    grace = assets.duration_seconds(config.get("shutdown_grace", "10s"))
    period = spec.get("terminationGracePeriodSeconds", 30)
    if period < delay + grace + 10:
        fail(f"terminationGracePeriodSeconds {period} must exceed shutdown_delay + shutdown_grace "
             f"({delay + grace:g}s) by at least 10s for queued writes and closing the store")

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

    if cluster:
        check_cluster(sts, config, container, services, issued, principals,
                      [p for p in of_kind("PodDisruptionBudget")
                       if assets.selects(p["spec"]["selector"].get("matchLabels"),
                                         pod_labels["consentd"])])

    # ---- the preference center: config, keyring, consentd's address, public URL, shutdown.
    container, spec = containers["prefcenter"], specs["prefcenter"]
    pc_config = config_of("prefcenter")
    if pc_config is None:
        return
    for key in ("listen", "metrics_listen"):
        if key in pc_config:
            fail(f"the preference center's ConfigMap sets {key}, which the Deployment's "
                 f"--{key.replace('_', '-')} argument overrides")
    if not pc_config.get("link_keyring_file"):
        fail("the preference center's config sets no link_keyring_file (required)")
    else:
        pc_keyring = secret_file("prefcenter", "link_keyring_file", pc_config["link_keyring_file"])
        if pc_keyring and consentd_keyring and pc_keyring != consentd_keyring:
            fail(f"the preference center reads the link keyring from Secret {pc_keyring[0]} key "
                 f"{pc_keyring[1]}, consentd from {consentd_keyring[0]} key {consentd_keyring[1]}: "
                 "links consentd signs would not verify")
    # mTLS to consentd: its client certificate from a Certificate signed by the issuer of
    # consentd's, which names the host the preference center dials.
    pc_cert = tls_files("prefcenter", pc_config)
    if pc_cert is not None and "client auth" not in pc_cert["spec"].get("usages", []):
        fail(f"Certificate {name(pc_cert)} (the preference center's) has no client auth usage")
    if pc_cert is not None and server_cert is not None and \
            pc_cert["spec"]["issuerRef"] != server_cert["spec"]["issuerRef"]:
        fail(f"Certificate {name(pc_cert)} and consentd's {name(server_cert)} have different issuers: "
             "each side's ca.crt would not verify the other")
    consentd_host = str(pc_config.get("consentd", "")).rpartition(":")[0]
    server_name = (pc_config.get("tls") or {}).get("server_name") or consentd_host
    if server_cert is not None and server_name not in server_cert["spec"].get("dnsNames", []):
        fail(f"the preference center verifies consentd's certificate for {server_name!r}, which is "
             f"not among Certificate {name(server_cert)}'s dnsNames")

    http = pc_config.get("http") or {}
    if http.get("tls_cert") or http.get("tls_key"):
        for key in ("tls_cert", "tls_key"):
            secret_file("prefcenter", f"http.{key}", http.get(key, ""))
    elif not str(pc_config.get("trusted_proxies", "")).strip():
        fail("the preference center serves plain HTTP behind a proxy (no http.tls_cert) but "
             "trusted_proxies is empty: every customer would share the proxy's address (rate "
             "limits, evidence)")

    # consentd's address: its client Service (not the headless one) and gRPC port.
    address = str(pc_config.get("consentd", ""))
    host, _, port = address.rpartition(":")
    labels_ = host.split(".")  # <service>[.<namespace>[.svc[.<cluster domain>]]]
    client = clients["consentd"][0] if clients["consentd"] else None
    if client is None or labels_[0] != name(client) or (len(labels_) > 2 and labels_[2] != "svc"):
        fail(f"the preference center's consentd {address!r} is not consentd's client Service "
             f"{name(client) if client else '?'}[.<namespace>[.svc...]]:<grpc port>")
    elif not any(str(p["port"]) == port and p["targetPort"] == "grpc" for p in client["spec"]["ports"]):
        fail(f"the preference center's consentd {address!r}: port {port} is not the gRPC port of "
             f"Service {name(client)}")

    public_url = str(pc_config.get("public_url", ""))
    if not public_url.startswith("https://"):
        fail(f"the preference center's public_url {public_url!r} must be https (RFC 8058 one-click "
             "links must be)")
    if links.get("base_url") and links["base_url"].rstrip("/") != public_url.rstrip("/"):
        fail(f"consentd's links.base_url {links['base_url']!r} is not the preference center's "
             f"public_url {public_url!r}: links it mints would point elsewhere")

    # /readyz asks consentd with rpc_deadline: the probe must wait for that answer.
    deadline = assets.duration_seconds(pc_config.get("rpc_deadline", "5s"))
    timeout = container.get("readinessProbe", {}).get("timeoutSeconds", 1)
    if timeout <= deadline:
        fail(f"prefcenter readinessProbe timeoutSeconds {timeout} must exceed rpc_deadline "
             f"({deadline:g}s), the deadline of the consentd call behind /readyz")

    # Shutdown: the preStop sleep, then up to 15s for the requests in flight (10s read/write
    # timeouts, 5s idle keep-alive).
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    sleep = pre_stop.get("sleep", {}).get("seconds", 0)
    command = pre_stop.get("exec", {}).get("command", [])
    if command and os.path.basename(command[0]) == "sleep":
        sleep = int(command[1])
    period = spec.get("terminationGracePeriodSeconds", 30)
    if period < sleep + 15:
        fail(f"prefcenter terminationGracePeriodSeconds {period} must cover the preStop sleep "
             f"({sleep}s) plus 15s for the requests in flight")
    resources = container.get("resources", {})
    if "memory" in resources.get("limits", {}) and "memory" in resources.get("requests", {}) and \
            memory_mib(resources["limits"]["memory"]) < memory_mib(resources["requests"]["memory"]):
        fail("prefcenter memory limit is below its request")
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

    # TLS and the policy: the unit passes the files deploy/consentd.example.yaml documents, and
    # `systemctl reload` re-reads the policy (SIGHUP).
    example = yaml.safe_load(assets.read("deploy", "consentd.example.yaml"))
    wanted = {"ASSENT_TLS_CERT": example["tls"]["cert"], "ASSENT_TLS_KEY": example["tls"]["key"],
              "ASSENT_TLS_CA": example["tls"]["ca"],
              "ASSENT_AUTH_POLICY_FILE": example["auth"]["policy_file"]}
    given = dict(re.findall(r"^Environment=(ASSENT_[A-Z0-9_]+)=(\S+)\s*$", unit, re.M))
    for variable, path in wanted.items():
        if given.get(variable) != path:
            fail(f"consentd.service: Environment={variable}={given.get(variable)}, expected {path} "
                 "(deploy/consentd.example.yaml)")
        elif not path.startswith("/etc/assent/"):
            fail(f"consentd.service: {variable}={path} is outside /etc/assent")
    if not re.search(r"^ExecReload=/bin/kill -HUP \$MAINPID\s*$", unit, re.M):
        fail("consentd.service has no ExecReload=/bin/kill -HUP $MAINPID (policy reload)")
    if "--insecure" in exec_start.group(2):
        fail("consentd.service passes --insecure")

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
    p = sub.add_parser("kubernetes")
    p.add_argument("--overlay", help="check what kustomize renders from this overlay directory "
                   "(relative to the repository: deploy/kubernetes-cluster) instead of the base")
    p.add_argument("--kustomize", default="kustomize", help="the kustomize binary (with --overlay)")
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
