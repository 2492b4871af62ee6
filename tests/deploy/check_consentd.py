#!/usr/bin/env python3
"""Runs the real consentd the way the deployment assets run it, and checks that they fit it:

- it starts with the image's entrypoint flags, the StatefulSet's arguments and the ConfigMap's
  consentd.yaml (addresses and paths moved to this machine: loopback ports, a temporary directory);
- the StatefulSet's liveness path answers 200 and its readiness path 200 or 503;
- every metric the alert rules and the dashboard use is one consentd exposes (senders' metrics,
  node_* and up aside), with the labels they match and group by;
- if consentd's metrics carry labels that the Prometheus Operator also sets on targets (service,
  pod, ...), the ServiceMonitor keeps consentd's (honorLabels), or every query on them would break;
- SIGTERM stops it cleanly within the StatefulSet's terminationGracePeriodSeconds.

usage: check_consentd.py --consentd BIN --assentctl BIN
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import deploy_assets as assets

errors = []


def fail(message):
    errors.append(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def parse_metrics(text):
    """{family: (type, set of label names)} from the Prometheus text format."""
    families, types = {}, {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            types[m.group(1)] = m.group(2)
            families.setdefault(m.group(1), (m.group(2), set()))
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s", line)
        name, labels = m.group(1), set(re.findall(r'([a-zA-Z_]\w*)="', m.group(2) or ""))
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[: -len(suffix)]) in ("histogram", "summary"):
                family = name[: -len(suffix)]
        kind, seen = families.setdefault(family, (types.get(family, "untyped"), set()))
        seen |= labels
    return families


def family_of(name, families):
    if name in families:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base in families and families[base][0] in ("histogram", "summary"):
            return base
    return None


def check_expressions(families):
    expressions = [(f"alert {r['alert']}", r["expr"]) for r in assets.alert_rules()]
    for panel in assets.dashboard_panels(assets.dashboard()):
        for target in panel.get("targets", []):
            expressions.append((f"panel {panel['title']!r}", target["expr"]))
    for where, expr in expressions:
        allowed = set(assets.TARGET_LABELS) | {"le"}
        for name in assets.metric_names(expr):
            if name in assets.SENDER_METRICS:
                allowed |= assets.SENDER_LABELS
            elif name.startswith("node_"):
                allowed |= assets.NODE_LABELS
            elif name == "up":
                pass
            elif name.startswith("assent_sender_"):
                fail(f"{where}: {name} is not one of the senders' metrics {sorted(assets.SENDER_METRICS)}")
            elif family_of(name, families) is None:
                fail(f"{where}: consentd exposes no metric {name}")
            else:
                allowed |= families[family_of(name, families)][1]
        for name, labels in assets.selectors(expr):
            family = family_of(name, families)
            if family is None:
                continue
            for label in labels:
                if label not in families[family][1] | assets.TARGET_LABELS:
                    fail(f"{where}: {name} has no label {label!r} (it has {sorted(families[family][1])})")
        for label in assets.grouping_labels(expr) - allowed:
            fail(f"{where}: groups by {label!r}, which none of its metrics carries")
    return len(expressions)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--consentd", required=True)
    parser.add_argument("--assentctl", required=True)
    args = parser.parse_args()

    objects = assets.kubernetes_objects()
    (sts,) = [o for (kind, _), o in objects.items() if kind == "StatefulSet"]
    (cm,) = [o for (kind, _), o in objects.items() if kind == "ConfigMap"]
    (monitor,) = [o for (kind, _), o in objects.items() if kind == "ServiceMonitor"]
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    entrypoint = assets.dockerfile_entrypoint()
    config_path = assets.flag_value(container["args"], "--config")
    config_key = next(m["subPath"] for m in container["volumeMounts"] if m["mountPath"] == config_path)

    with tempfile.TemporaryDirectory() as tmp:
        # The container's files, moved under tmp.
        config_file = os.path.join(tmp, "consentd.yaml")
        with open(config_file, "w") as f:
            f.write(cm["data"][config_key])
        secret_file = os.path.join(tmp, "contact-key")
        with open(secret_file, "w") as f:
            f.write(os.urandom(32).hex())
        port_file = os.path.join(tmp, "port")
        metrics_port = free_port()
        replace = {
            "--listen": "127.0.0.1:0",
            "--metrics-listen": f"127.0.0.1:{metrics_port}",
            "--data-dir": os.path.join(tmp, "data"),
            "--config": config_file,
        }
        command = [args.consentd]
        items = entrypoint[1:] + container.get("args", [])
        for i in range(0, len(items), 2):
            command += [items[i], replace.get(items[i], items[i + 1])]
        # The secret lives elsewhere here; an unreachable broker makes the Kafka relay (and its
        # metrics) exist without a broker.
        command += ["--contact-key-secret-file", secret_file, "--port-file", port_file,
                    "--kafka-brokers", f"127.0.0.1:{free_port()}"]
        log_path = os.path.join(tmp, "consentd.log")
        log = open(log_path, "w")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not os.path.exists(port_file):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("consentd did not start with the deployment's flags and "
                                     f"config:\n{' '.join(command)}\n" + open(log_path).read())
                time.sleep(0.05)
            with open(port_file) as f:
                grpc_address = f.readline().strip()  # the first line is the gRPC address
            base = f"http://127.0.0.1:{metrics_port}"

            for probe, ok in (("livenessProbe", {200}), ("startupProbe", {200}),
                              ("readinessProbe", {200, 503})):
                path = container[probe]["httpGet"]["path"]
                status, body = http_get(base + path)
                if status not in ok:
                    fail(f"{probe} GET {path} answered {status} {body!r}, expected {sorted(ok)}")

            # Calls that make the per-call metric families appear (one of them refused).
            env = dict(os.environ, ASSENT_SERVER=grpc_address, ASSENT_TENANT="deploy-test")
            for call in (["tenant", "create", "deploy-test"],
                         ["purpose", "create", "marketing.news", "--kind", "MARKETING", "--basis",
                          "CONSENT", "--channels", "EMAIL", "--notice-version", "1"],
                         ["record", "--subject", "s1", "--purpose", "marketing.news", "--channel",
                          "EMAIL", "--state", "granted"],
                         ["check", "--subject", "s1", "--purpose", "marketing.news", "--channel",
                          "EMAIL"]):
                result = subprocess.run([args.assentctl] + call, env=env, capture_output=True,
                                        text=True, timeout=30)
                if result.returncode != 0:
                    raise SystemExit(f"assentctl {' '.join(call)}: {result.stderr}")
            refused = subprocess.run([args.assentctl, "check", "--subject", "s1", "--purpose",
                                      "no.such.purpose", "--channel", "EMAIL"], env=env,
                                     capture_output=True, text=True, timeout=30)
            if refused.returncode != 2:
                fail(f"a Check of an unknown purpose should fail: {refused.stdout}{refused.stderr}")

            status, text = http_get(base + "/metrics")
            if status != 200:
                raise SystemExit(f"GET /metrics answered {status}")
            families = parse_metrics(text)
            count = check_expressions(families)

            exposed_labels = set().union(*(labels for _, labels in families.values()))
            clashing = exposed_labels & (assets.TARGET_LABELS - {"job", "instance"})
            if clashing:
                for endpoint in monitor["spec"]["endpoints"]:
                    if endpoint.get("honorLabels") is not True:
                        fail(f"consentd's metrics carry {sorted(clashing)}, which the Prometheus "
                             "Operator also sets on targets: the ServiceMonitor endpoint needs "
                             "honorLabels: true to keep consentd's")

            start = time.monotonic()
            process.send_signal(signal.SIGTERM)
            limit = pod.get("terminationGracePeriodSeconds", 30)
            try:
                code = process.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                fail(f"consentd did not stop within terminationGracePeriodSeconds ({limit}s)")
            else:
                if code != 0:
                    fail(f"consentd exited {code} after SIGTERM")
                print(f"stopped {time.monotonic() - start:.1f}s after SIGTERM (limit {limit}s)")
            print(f"{len(families)} metric families; {count} expressions checked")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
            if errors:
                print(open(log_path).read()[-4000:], file=sys.stderr)
    for e in errors:
        print("FAIL:", e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
