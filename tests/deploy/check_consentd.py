#!/usr/bin/env python3
"""Runs the real consentd and preference center the way the deployment assets run them, and checks
that they fit them:

- consentd starts with the image's entrypoint flags, the StatefulSet's arguments and the ConfigMap's
  consentd.yaml (addresses and paths moved to this machine: loopback ports, a temporary directory
  holding the files the pod's volumes show, a fresh contact key and link keyring);
- it serves mTLS with a certificate a test CA (openssl, standing in for cert-manager's Issuer)
  issues from consentd's Certificate, and authorizes with the policy ConfigMap: assentctl with the
  operator's certificate (the policy principal allowed to create tenants) sets up a tenant, calls in
  plaintext or without a client certificate get no answer, another service's certificate is
  refused PERMISSION_DENIED, and a principal added to the policy file is allowed after SIGHUP;
- the preference center starts with the Deployment's arguments and its ConfigMap's prefcenter.yaml,
  in front of that consentd, with the same link keyring, over mTLS with the client certificate of
  its Certificate, verifying consentd's for the host name its config dials;
- the liveness paths answer 200, consentd's readiness path 200 or 503, the preference center's 200
  (consentd answers);
- links consentd mints (CreateLink, `assentctl url`) start with the preference center's public_url
  and work there: a one-click unsubscribe is recorded, a preference page renders;
- every metric the alert rules and the dashboard use is one consentd or the preference center
  exposes (senders' metrics, node_* and up aside), with the labels they match and group by;
- if a service's metrics carry labels that the Prometheus Operator also sets on targets (service,
  pod, ...), its ServiceMonitor keeps them (honorLabels), or every query on them would break;
- SIGTERM stops each cleanly within its pod's terminationGracePeriodSeconds.

usage: check_consentd.py --consentd BIN --assentctl BIN --prefcenter BIN
"""
import argparse
import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

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


# Metrics only a consentd in cluster mode exposes.
CLUSTER_METRIC_PREFIX = "assent_cluster_"


def family_of(name, families):
    if name in families:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base in families and families[base][0] in ("histogram", "summary"):
            return base
    return None


def uses_cluster_metrics(expr):
    return any(n.startswith(CLUSTER_METRIC_PREFIX) for n in assets.metric_names(expr))


def check_expressions(families, select=lambda expr: not uses_cluster_metrics(expr)):
    """Checks the expressions of the rules and the dashboard that `select` picks against the
    metric families exposed. By default those without cluster-mode metrics, which a consentd
    outside cluster mode does not expose (check_cluster.py checks those against a cluster)."""
    expressions = [(f"alert {r['alert']}", r["expr"]) for r in assets.alert_rules()]
    for panel in assets.dashboard_panels(assets.dashboard()):
        for target in panel.get("targets", []):
            expressions.append((f"panel {panel['title']!r}", target["expr"]))
    expressions = [(where, expr) for where, expr in expressions if select(expr)]
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
                fail(f"{where}: neither consentd nor the preference center exposes a metric {name}")
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


def http_request(url, method="GET", data=None, headers=None):
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def wait_for_port_file(process, port_file, log_path, what, command):
    """The lines of the port file a process writes once it serves."""
    deadline = time.monotonic() + 60
    while not os.path.exists(port_file):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start with the deployment's flags and config:\n"
                             f"{' '.join(command)}\n" + open(log_path).read())
        time.sleep(0.05)
    with open(port_file) as f:
        return [line.strip() for line in f]


def replace_flags(items, replace):
    """Flag/value pairs with some values replaced."""
    out = []
    for i in range(0, len(items), 2):
        out += [items[i], replace.get(items[i], items[i + 1])]
    return out


def openssl(*args):
    result = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"openssl {' '.join(args)}: {result.stderr}")


class TestCa:
    """A throw-away certificate authority standing in for cert-manager's Issuer: it issues the
    certificates the manifests' Certificates describe, as kubernetes.io/tls Secret files."""

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory)
        self.cert, self.key = os.path.join(directory, "ca.crt"), os.path.join(directory, "ca.key")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-days", "1", "-subj", "/CN=check_consentd test CA", "-keyout", self.key,
                "-out", self.cert)

    def issue(self, directory, common_name, sans, usage):
        """tls.crt, tls.key and ca.crt in `directory` (keys mode 0600, as consentd demands)."""
        os.makedirs(directory, exist_ok=True)
        key, csr = os.path.join(directory, "tls.key"), os.path.join(directory, "tls.csr")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-subj", f"/CN={common_name}", "-keyout", key, "-out", csr)
        ext = os.path.join(directory, "ext.cnf")
        with open(ext, "w") as f:
            f.write(f"subjectAltName={','.join(sans)}\nextendedKeyUsage={usage}\n")
        openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key, "-set_serial",
                str(int.from_bytes(os.urandom(8), "big")), "-days", "1", "-extfile", ext,
                "-out", os.path.join(directory, "tls.crt"))
        os.unlink(csr)
        os.unlink(ext)
        with open(self.cert) as src, open(os.path.join(directory, "ca.crt"), "w") as dst:
            dst.write(src.read())
        for name in ("tls.key", "tls.crt", "ca.crt"):
            os.chmod(os.path.join(directory, name), 0o600)  # defaultMode 0400/0440 in the pods
        return {name: os.path.join(directory, name) for name in ("tls.crt", "tls.key", "ca.crt")}

    def issue_for(self, directory, certificate, extra_sans=()):
        """The files cert-manager would write for a Certificate (its DNS, IP and URI SANs)."""
        spec = certificate["spec"]
        sans = ([f"DNS:{d}" for d in spec.get("dnsNames", [])]
                + [f"IP:{i}" for i in spec.get("ipAddresses", [])]
                + [f"URI:{u}" for u in spec.get("uris", [])])
        sans += [s for s in extra_sans if s not in sans]
        usages = spec.get("usages", [])
        usage = ",".join(e for u, e in (("server auth", "serverAuth"), ("client auth", "clientAuth"))
                         if u in usages)
        return self.issue(directory, spec.get("commonName") or certificate["metadata"]["name"],
                          sans, usage or "serverAuth,clientAuth")


class Assentctl:
    """assentctl as the operator (mTLS with its certificate's files) against `server`, in the
    tenant deploy-test: called with a command line, its output, or SystemExit when it fails."""

    def __init__(self, binary, server, operator):
        self.binary = binary
        self.env = dict(os.environ, ASSENT_SERVER=server, ASSENT_TENANT="deploy-test",
                        ASSENT_TLS_CA=operator["ca.crt"], ASSENT_TLS_CERT=operator["tls.crt"],
                        ASSENT_TLS_KEY=operator["tls.key"])
        for name in ("ASSENT_TLS_SERVER_NAME", "ASSENT_TOKEN_FILE"):
            self.env.pop(name, None)

    def __call__(self, *call):
        result = subprocess.run([self.binary, *call], env=self.env, capture_output=True,
                                text=True, timeout=60)
        if result.returncode != 0:
            raise SystemExit(f"assentctl {' '.join(call)}: {result.stderr}")
        return result.stdout

    def seed(self):
        """The tenant deploy-test with the purpose marketing.news (EMAIL)."""
        self("tenant", "create", "deploy-test")
        self("purpose", "create", "marketing.news", "--kind", "MARKETING", "--basis", "CONSENT",
             "--channels", "EMAIL", "--notice-version", "1")


class SecretFiles:
    """The files of the Secrets the pods mount, made up once each: a Certificate's by the test CA
    (a server certificate also for 127.0.0.1 and localhost), the others (the contact key, the link
    keyring) fresh random ones. Call it with a Secret's name: {key: path of the file}."""

    def __init__(self, directory, objects, ca):
        self.directory, self.objects, self.ca = directory, objects, ca
        self.certs = assets.certificates(objects)
        self.keyring = ('keys:\n  - id: "deploy-test"\n    secret: "%s"\n'
                        % base64.b64encode(os.urandom(32)).decode())
        self.generated = {}

    def __call__(self, secret_name):
        if secret_name in self.generated:
            return self.generated[secret_name]
        directory = os.path.join(self.directory, secret_name)
        if secret_name in self.certs:
            server = "server auth" in self.certs[secret_name]["spec"].get("usages", [])
            self.generated[secret_name] = self.ca.issue_for(
                directory, self.certs[secret_name],
                ("IP:127.0.0.1", "DNS:localhost") if server else ())
            return self.generated[secret_name]
        secret = self.objects.get(("Secret", secret_name))
        if secret is None:
            raise SystemExit(f"no Secret or Certificate makes the Secret {secret_name} a pod "
                             "mounts")
        os.makedirs(directory)
        files = {}
        for key in list(secret.get("stringData", {})) + list(secret.get("data", {})):
            files[key] = os.path.join(directory, key)
            with open(files[key], "w") as f:
                f.write(self.keyring if key == "link-keyring.yaml" else os.urandom(32).hex())
            os.chmod(files[key], 0o600)
        self.generated[secret_name] = files
        return files


def rerooted(value, root):
    """A configuration with every absolute path under /etc/ moved under `root` (a pod's files)."""
    if isinstance(value, dict):
        return {k: rerooted(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [rerooted(v, root) for v in value]
    if isinstance(value, str) and value.startswith("/etc/"):
        return root + value
    return value


def materialize_mounts(workload, objects, root, secret_files):
    """Writes the files a pod's Secret and ConfigMap volumes show under `root` + mountPath (the
    --config file aside): ConfigMap keys as they are, Secrets from `secret_files(name)`, which
    returns {key: path of a file with its content}."""
    spec = workload["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    config = assets.flag_value(container.get("args", []), "--config")
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"], {})  # not a volume: a volumeClaimTemplate
        if mount["mountPath"] == config:
            continue
        if "configMap" in volume:
            data = objects[("ConfigMap", volume["configMap"]["name"])]["data"]
            contents = {k: v for k, v in data.items()}
            source = volume["configMap"]
        elif "secret" in volume:
            contents = {}
            for key, path in secret_files(volume["secret"]["secretName"]).items():
                with open(path) as f:
                    contents[key] = f.read()
            source = volume["secret"]
        else:
            continue
        items = {i["key"]: i["path"] for i in source.get("items", [])} or {k: k for k in contents}
        if "subPath" in mount:
            files = {mount["subPath"]: root + mount["mountPath"]}
        else:
            files = {k: os.path.join(root + mount["mountPath"], p) for k, p in items.items()}
        for key, path in files.items():
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(contents[key])
            os.chmod(path, 0o600 if "secret" in volume else 0o644)


def check_honor_labels(what, families, monitor):
    exposed_labels = set().union(*(labels for _, labels in families.values()))
    clashing = exposed_labels & (assets.TARGET_LABELS - {"job", "instance"})
    if clashing:
        for endpoint in monitor["spec"]["endpoints"]:
            if endpoint.get("honorLabels") is not True:
                fail(f"{what}'s metrics carry {sorted(clashing)}, which the Prometheus Operator also "
                     f"sets on targets: ServiceMonitor {monitor['metadata']['name']} needs "
                     f"honorLabels: true to keep {what}'s")


def stop(process, what, pod):
    start = time.monotonic()
    process.send_signal(signal.SIGTERM)
    limit = pod.get("terminationGracePeriodSeconds", 30)
    try:
        code = process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        fail(f"{what} did not stop within terminationGracePeriodSeconds ({limit}s)")
    else:
        if code != 0:
            fail(f"{what} exited {code} after SIGTERM")
        print(f"{what} stopped {time.monotonic() - start:.1f}s after SIGTERM (limit {limit}s)")


# The preference center's own metrics: each must appear after the requests below.
PREFCENTER_FAMILIES = {
    "assent_http_requests_total": {"server", "route", "method", "code"},
    "assent_http_request_duration_seconds": {"server", "route"},
    "assent_prefcenter_unsubscribes_total": {"how"},
    "assent_prefcenter_saves_total": {"result"},
    "assent_prefcenter_link_errors_total": {"why"},
}


def required_args(*flags):
    """The command line: each of `flags` (paths of binaries) given once."""
    parser = argparse.ArgumentParser()
    for flag in flags:
        parser.add_argument(flag, required=True)
    return parser.parse_args()


def main():
    args = required_args("--consentd", "--assentctl", "--prefcenter")

    objects = assets.kubernetes_objects()
    sts, deploy = assets.only(objects, "StatefulSet"), assets.only(objects, "Deployment")
    pod, pc_pod = sts["spec"]["template"]["spec"], deploy["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (pc_container,) = pc_pod["containers"]
    (monitor,) = assets.service_monitor_of(objects, sts)
    (pc_monitor,) = assets.service_monitor_of(objects, deploy)
    entrypoint = assets.dockerfile_entrypoint()
    _, consentd_yaml = assets.mounted_config(objects, sts)
    _, prefcenter_yaml = assets.mounted_config(objects, deploy)
    public_url = (yaml.safe_load(prefcenter_yaml) or {}).get("public_url", "").rstrip("/")

    certs = assets.certificates(objects)
    policy = yaml.safe_load(assets.policy(objects, sts, yaml.safe_load(consentd_yaml)) or "") or {}
    if not policy.get("principals"):
        raise SystemExit("consentd's auth.policy_file is no ConfigMap key of a policy (check_deploy.py "
                         "kubernetes says why)")
    with tempfile.TemporaryDirectory() as tmp:
        # The pods' files under tmp/<pod>-root: ConfigMaps as they are; cert-manager's Secrets
        # issued by a test CA from the Certificates (consentd's also for 127.0.0.1 and localhost);
        # a fresh contact key and link keyring; the configs' /etc/ paths moved there.
        ca = TestCa(os.path.join(tmp, "ca"))
        secret_files = SecretFiles(os.path.join(tmp, "secrets"), objects, ca)

        roots = {"consentd": os.path.join(tmp, "consentd-root"),
                 "prefcenter": os.path.join(tmp, "prefcenter-root")}
        materialize_mounts(sts, objects, roots["consentd"], secret_files)
        materialize_mounts(deploy, objects, roots["prefcenter"], secret_files)
        consentd_config = rerooted(yaml.safe_load(consentd_yaml), roots["consentd"])
        config_file = os.path.join(tmp, "consentd.yaml")
        with open(config_file, "w") as f:
            yaml.safe_dump(consentd_config, f)
        pc_config = rerooted(yaml.safe_load(prefcenter_yaml), roots["prefcenter"])
        pc_config_file = os.path.join(tmp, "prefcenter.yaml")
        with open(pc_config_file, "w") as f:
            yaml.safe_dump(pc_config, f)
        policy_file = consentd_config["auth"]["policy_file"]

        # The operator's certificate: a Certificate whose principal the policy lets create tenants.
        uris = {u: c for c in certs.values() for u in c["spec"].get("uris", [])}
        operators = [p["id"] for p in policy["principals"] if p.get("id") in uris
                     and p.get("tenants") == ["*"] and {"*", "admin"} & set(p.get("permissions", []))]
        if not operators:
            raise SystemExit("the policy lets no Certificate's principal create tenants (the operator)")
        operator = ca.issue_for(os.path.join(tmp, "operator"), uris[operators[0]])
        port_file = os.path.join(tmp, "port")
        metrics_port = free_port()
        replace = {
            "--listen": "127.0.0.1:0",
            "--metrics-listen": f"127.0.0.1:{metrics_port}",
            "--data-dir": os.path.join(tmp, "data"),
            "--config": config_file,
        }
        command = [args.consentd] + replace_flags(entrypoint[1:] + container.get("args", []), replace)
        # An unreachable broker makes the Kafka relay (and its metrics) exist without a broker.
        command += ["--port-file", port_file, "--kafka-brokers", f"127.0.0.1:{free_port()}"]
        logs = {"consentd": os.path.join(tmp, "consentd.log"),
                "prefcenter": os.path.join(tmp, "prefcenter.log")}
        log = open(logs["consentd"], "w")
        processes = [subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)]
        process = processes[0]
        pc_log = None
        try:
            # The first line is the gRPC address.
            grpc_address = wait_for_port_file(process, port_file, logs["consentd"], "consentd",
                                              command)[0]
            base = f"http://127.0.0.1:{metrics_port}"

            for probe, ok in (("livenessProbe", {200}), ("startupProbe", {200}),
                              ("readinessProbe", {200, 503})):
                path = container[probe]["httpGet"]["path"]
                status, body = http_get(base + path)
                if status not in ok:
                    fail(f"consentd {probe} GET {path} answered {status} {body!r}, expected {sorted(ok)}")

            # Calls that make the per-call metric families appear (one of them refused).
            # assentctl over mTLS with the operator's certificate.
            assentctl = Assentctl(args.assentctl, grpc_address, operator)
            env = assentctl.env
            assentctl.seed()
            assentctl("record", "--subject", "s1", "--purpose", "marketing.news", "--channel",
                      "EMAIL", "--state", "granted")
            assentctl("check", "--subject", "s1", "--purpose", "marketing.news", "--channel", "EMAIL")
            # A withdrawal makes the consent report's withdrawal metric appear.
            assentctl("record", "--subject", "s2", "--purpose", "marketing.news", "--channel",
                      "EMAIL", "--state", "withdrawn")
            refused = subprocess.run([args.assentctl, "check", "--subject", "s1", "--purpose",
                                      "no.such.purpose", "--channel", "EMAIL"], env=env,
                                     capture_output=True, text=True, timeout=30)
            if refused.returncode != 2:
                fail(f"a Check of an unknown purpose should fail: {refused.stdout}{refused.stderr}")

            # mTLS is required and the policy decides: no answer in plaintext or without a client
            # certificate; a client certificate the policy grants no admin cannot create a tenant.
            check = ["check", "--subject", "s1", "--purpose", "marketing.news", "--channel", "EMAIL"]

            def assentctl_as(env_, *call):
                return subprocess.run([args.assentctl, *call], env=env_, capture_output=True,
                                      text=True, timeout=30)

            plain = {k: v for k, v in env.items() if not k.startswith("ASSENT_TLS_")}
            for what, env_ in (("plaintext", plain),
                               ("TLS without a client certificate",
                                dict(plain, ASSENT_TLS_CA=operator["ca.crt"]))):
                result = assentctl_as(env_, *check)
                if result.returncode == 0:
                    fail(f"consentd answered a call over {what}: it must require client certificates")
            others = [u for u, c in uris.items() if u not in operators
                      and "client auth" in c["spec"].get("usages", [])]
            if others:
                client = secret_files(uris[others[0]]["spec"]["secretName"])
                result = assentctl_as(dict(env, ASSENT_TLS_CERT=client["tls.crt"],
                                           ASSENT_TLS_KEY=client["tls.key"]),
                                      "tenant", "create", "not-allowed")
                if result.returncode == 0 or "PERMISSION_DENIED" not in result.stderr:
                    fail(f"{others[0]} (no admin in the policy) created a tenant or was refused for "
                         f"another reason than PERMISSION_DENIED: {result.stderr.strip()}")

            # Granting a new service: its principal added to the policy file (written beside and
            # renamed, as the kubelet updates a ConfigMap mount), SIGHUP, and its calls are allowed.
            newcomer = "spiffe://cluster.local/ns/assent/sa/deploy-test-newcomer"
            newcomer_files = ca.issue(os.path.join(tmp, "newcomer"), "newcomer", [f"URI:{newcomer}"],
                                      "clientAuth")
            newcomer_env = dict(env, ASSENT_TLS_CERT=newcomer_files["tls.crt"],
                                ASSENT_TLS_KEY=newcomer_files["tls.key"])
            result = assentctl_as(newcomer_env, *check)
            if result.returncode == 0 or "PERMISSION_DENIED" not in result.stderr:
                fail(f"a principal the policy does not name was not refused with PERMISSION_DENIED: "
                     f"{result.stdout}{result.stderr}")
            with open(policy_file) as f:
                granted = yaml.safe_load(f)
            granted["principals"].append({"id": newcomer, "tenants": ["deploy-test"],
                                          "permissions": ["consent.check"]})
            with open(policy_file + ".new", "w") as f:
                yaml.safe_dump(granted, f)
            os.replace(policy_file + ".new", policy_file)
            process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while assentctl_as(newcomer_env, *check).returncode != 0:
                if time.monotonic() > deadline or process.poll() is not None:
                    fail("a principal added to the policy file was still refused 10s after SIGHUP")
                    break
                time.sleep(0.2)

            # ---- the preference center in front of it, with the same keyring, over mTLS.
            pc_port_file = os.path.join(tmp, "prefcenter.port")
            pc_metrics_port = free_port()
            pc_command = [args.prefcenter] + replace_flags(pc_container.get("args", []), {
                "--listen": "127.0.0.1:0",
                "--metrics-listen": f"127.0.0.1:{pc_metrics_port}",
                "--config": pc_config_file,
            })
            # consentd's address here, verified for the name the preference center dials there.
            server_name = ((pc_config.get("tls") or {}).get("server_name")
                           or str(pc_config.get("consentd", "")).rpartition(":")[0])
            pc_command += ["--consentd", grpc_address, "--tls-server-name", server_name,
                           "--port-file", pc_port_file]
            pc_log = open(logs["prefcenter"], "w")
            pc_process = subprocess.Popen(pc_command, stdout=pc_log, stderr=subprocess.STDOUT)
            processes.append(pc_process)
            web = "http://" + wait_for_port_file(pc_process, pc_port_file, logs["prefcenter"],
                                                 "the preference center", pc_command)[0]
            pc_base = f"http://127.0.0.1:{pc_metrics_port}"
            for probe in ("livenessProbe", "startupProbe", "readinessProbe"):
                if probe not in pc_container:
                    continue
                path = pc_container[probe]["httpGet"]["path"]
                status, body = http_get(pc_base + path)
                if status != 200:
                    fail(f"prefcenter {probe} GET {path} answered {status} {body!r}, expected 200 "
                         "(consentd answers)")

            # Links minted by consentd work in the preference center.
            def link(*flags):
                minted = json.loads(assentctl("--json", "url", "--subject", "s1", *flags))
                if not minted["url"].startswith(public_url + "/"):
                    fail(f"CreateLink's url {minted['url'].split('/v')[0]}... does not start with "
                         f"the preference center's public_url {public_url}")
                return urllib.parse.urlsplit(minted["url"]).path

            form = {"Content-Type": "application/x-www-form-urlencoded"}
            one_click = link("--one-click", "--purpose", "marketing.news", "--channel", "EMAIL")
            preferences = link()
            for what, method, path, data, expected in (
                    ("a malformed link", "GET", "/p/not-a-token", None, 400),
                    ("a one-click unsubscribe", "POST", one_click, b"List-Unsubscribe=One-Click", 200),
                    ("the preference page", "GET", preferences, None, 200),
                    ("a form without its CSRF token", "POST", preferences, b"", 403),
                    ("the stylesheet", "GET", "/assets/prefcenter.css", None, 200)):
                status, body = http_request(web + path, method, data, form if data is not None else {})
                if status != expected:
                    fail(f"prefcenter: {what} ({method} {path.split('.')[0]}...) answered {status}, "
                         f"expected {expected}: {body[:200]!r}")
            status, text = http_get(pc_base + "/metrics")
            if status != 200:
                raise SystemExit(f"prefcenter GET /metrics answered {status}")
            pc_families = parse_metrics(text)
            for family, labels in PREFCENTER_FAMILIES.items():
                if family not in pc_families:
                    fail(f"the preference center exposes no {family} after the requests above")
                elif labels - pc_families[family][1]:
                    fail(f"prefcenter's {family} lacks the labels {sorted(labels - pc_families[family][1])}")
            check_honor_labels("the preference center", pc_families, pc_monitor)
            stop(pc_process, "the preference center", pc_pod)

            status, text = http_get(base + "/metrics")
            if status != 200:
                raise SystemExit(f"consentd GET /metrics answered {status}")
            families = parse_metrics(text)
            check_honor_labels("consentd", families, monitor)
            both = dict(families)
            for family, value in pc_families.items():
                if family in both and both[family][0] != value[0]:
                    fail(f"{family} is a {both[family][0]} in consentd, a {value[0]} in prefcenter")
                both[family] = (value[0], both.get(family, (None, set()))[1] | value[1])
            count = check_expressions(both)

            stop(process, "consentd", pod)
            print(f"{len(families)} consentd and {len(pc_families)} prefcenter metric families; "
                  f"{count} expressions checked")
        finally:
            for p in processes:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            log.close()
            if pc_log:
                pc_log.close()
            if errors:
                for what, path in logs.items():
                    if os.path.exists(path):
                        print(f"---- {what} log", file=sys.stderr)
                        print(open(path).read()[-4000:], file=sys.stderr)
    for e in errors:
        print("FAIL:", e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
