"""Shared helpers of the deploy tests: reading the assets under deploy/ and PromQL expressions."""
import json
import os
import re

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(REPO, "deploy")

# Metrics the channel senders will export (not consentd): rules and dashboard may use these.
SENDER_METRICS = {
    "assent_sender_consumer_lag_records",
    "assent_sender_caught_up",
    "assent_sender_sends_total",
    "assent_sender_suppressions_total",
}
SENDER_LABELS = {"sender", "topic", "channel", "reason"}
NODE_LABELS = {"mountpoint", "device", "fstype"}
# Labels Prometheus attaches to every target (static configs and the Prometheus Operator).
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "container", "endpoint"}

_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
             "group_right", "bool", "offset", "inf", "nan", "atan2"}


def read(*path):
    with open(os.path.join(REPO, *path)) as f:
        return f.read()


def load_yaml_all(*path):
    return [d for d in yaml.safe_load_all(read(*path)) if d is not None]


def alert_rules():
    """Every alerting rule of deploy/prometheus/alerts.yaml."""
    rules = []
    for group in yaml.safe_load(read("deploy", "prometheus", "alerts.yaml"))["groups"]:
        rules += [r for r in group["rules"] if "alert" in r]
    return rules


def dashboard():
    return json.loads(read("deploy", "grafana", "assent-dashboard.json"))


def dashboard_panels(dash):
    """Every panel, including those nested in collapsed rows."""
    out = []
    for panel in dash.get("panels", []):
        out.append(panel)
        out += panel.get("panels", [])
    return out


def grafana_to_promql(expr):
    """Replaces the dashboard's variables so that the expression is plain PromQL."""
    return (expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
            .replace("$instance", ".*").replace("$sender", ".*")
            .replace("$mountpoint", "/var/lib/assent"))


def _strip(expr):
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    return expr


def metric_names(expr):
    """The metric names an expression selects (a PromQL subset: what these assets use)."""
    expr = _strip(expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for m in re.finditer(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        if m.group(0) in _KEYWORDS or expr[m.end():].lstrip().startswith("("):
            continue
        names.add(m.group(0))
    return names


def selectors(expr):
    """(metric name, [label names matched]) for each `name{...}` in an expression."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    out = []
    for m in re.finditer(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}", expr):
        labels = re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", m.group(2))
        out.append((m.group(1), labels))
    return out


def grouping_labels(expr):
    """Label names in by (...), without (...), on (...) and ignoring (...) clauses."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    labels = set()
    for m in re.finditer(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        labels |= {l.strip() for l in m.group(1).split(",") if l.strip()}
    return labels


def duration_seconds(text):
    """Parses consentd / systemd durations such as "10s", "1m30s", "500ms", "24h", "30", "0"."""
    text = str(text).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):  # a bare number: seconds (systemd), or "0"
        return float(text)
    units = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
    total, pos = 0.0, 0
    for m in re.finditer(r"(\d+(?:\.\d+)?)\s*(ms|min|s|m|h|d)", text):
        if m.start() != pos:
            raise ValueError(f"bad duration {text!r}")
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"bad duration {text!r}")
    return total


def dockerfile_stages():
    """{stage name: text} of deploy/container/Dockerfile."""
    text = read("deploy", "container", "Dockerfile")
    stages, name, lines = {}, None, []
    for line in text.splitlines():
        m = re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            if name is not None:
                stages[name] = "\n".join(lines)
            name, lines = m.group(1) or f"stage{len(stages)}", []
        elif name is not None:
            lines.append(line)
    stages[name] = "\n".join(lines)
    return stages


def apt_packages(stage_text):
    """Packages of every `apt-get install` in a Dockerfile stage."""
    joined = re.sub(r"\\\n", " ", stage_text)
    packages = []
    for m in re.finditer(r"apt-get install ([^&\n]*)", joined):
        packages += [w for w in m.group(1).split() if not w.startswith("-")]
    return packages


def dockerfile_entrypoint():
    text = re.sub(r"\\\n", " ", read("deploy", "container", "Dockerfile"))
    m = re.search(r"^ENTRYPOINT\s+(\[.*\])\s*$", text, re.M)
    return json.loads(m.group(1))


def dockerfile_user():
    m = re.search(r"^USER\s+(\d+)(?::(\d+))?\s*$", dockerfile_stages()["runtime"], re.M)
    return int(m.group(1)), int(m.group(2) or m.group(1))


def flag_value(args, flag):
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def kubernetes_examples():
    """The example manifests of deploy/kubernetes (*.example.yaml: Secrets to create by hand)."""
    return sorted(f for f in os.listdir(os.path.join(DEPLOY, "kubernetes"))
                  if f.endswith(".example.yaml"))


def kubernetes_objects(rendered=None):
    """{(kind, name): object} of the manifests kustomization.yaml lists, plus the examples; with
    `rendered` (the YAML text `kustomize build` printed for an overlay such as
    deploy/kubernetes-cluster), that overlay's objects plus the base's examples."""
    objects = {}
    if rendered is None:
        kustomization = yaml.safe_load(read("deploy", "kubernetes", "kustomization.yaml"))
        docs = [d for resource in kustomization["resources"]
                for d in load_yaml_all("deploy", "kubernetes", resource)]
    else:
        docs = [d for d in yaml.safe_load_all(rendered) if d is not None]
    for example in kubernetes_examples():
        docs += load_yaml_all("deploy", "kubernetes", example)
    for doc in docs:
        objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def only(objects, kind):
    """The one object of `kind` (consentd's StatefulSet, the preference center's Deployment)."""
    found = [o for (k, _), o in objects.items() if k == kind]
    if len(found) != 1:
        raise SystemExit(f"expected one {kind}, found {len(found)}")
    return found[0]


def selects(selector, labels):
    """Whether a label selector (matchLabels or a Service's selector) selects these labels."""
    return bool(selector) and not selector.items() - labels.items()


def service_monitor_of(objects, workload):
    """The ServiceMonitors that scrape a Service selecting `workload`'s pods."""
    pod_labels = workload["spec"]["template"]["metadata"]["labels"]
    services = [o for (k, _), o in objects.items() if k == "Service"
                and selects(o["spec"].get("selector"), pod_labels)
                and o["spec"].get("clusterIP") != "None"]
    return [o for (k, _), o in objects.items() if k == "ServiceMonitor"
            and any(selects(o["spec"]["selector"].get("matchLabels"), s["metadata"]["labels"])
                    for s in services)]


def mounted_config(objects, workload):
    """(ConfigMap key, YAML text) of the file a workload's --config argument names."""
    spec = workload["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    path = flag_value(container.get("args", []), "--config")
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == path)
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    cm = objects[("ConfigMap", volume["configMap"]["name"])]
    return mount["subPath"], cm["data"][mount["subPath"]]


def container_env(container, fields=None):
    """{name: value} of a container's environment with $(VAR) references to earlier variables
    expanded as the kubelet does. A downward-API field is fields[path] when `fields` has it (the
    pod's name, say), else "$(fieldRef:<path>)"."""
    values = {}
    for entry in container.get("env", []):
        field = (entry.get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath")
        if field:
            values[entry["name"]] = (fields or {}).get(field, f"$(fieldRef:{field})")
        elif "value" in entry:
            values[entry["name"]] = re.sub(r"\$\((\w+)\)",
                                           lambda m: values.get(m.group(1), m.group(0)),
                                           str(entry["value"]))
    return values


def env_value(container, variable):
    """One variable of container_env(container), None when not set."""
    return container_env(container).get(variable)


def consentd_options(help_text):
    """{flag: env var} from `consentd --help`."""
    return dict(re.findall(r"^\s+(--[a-z0-9-]+) / (ASSENT_[A-Z0-9_]+)", help_text, re.M))


# The keys of the kubernetes.io/tls Secret cert-manager writes for a Certificate.
CERT_MANAGER_KEYS = ("tls.crt", "tls.key", "ca.crt")
# consentd's and its clients' tls.* settings and the key of cert-manager's Secret each must name.
TLS_SETTING_KEYS = {"cert": "tls.crt", "key": "tls.key", "ca": "ca.crt"}


def certificates(objects):
    """{Secret name: cert-manager Certificate} of the Certificates among the manifests."""
    return {o["spec"]["secretName"]: o for (k, _), o in objects.items() if k == "Certificate"}


def volume_of_file(workload, path):
    """(volume, mount, item key) of the file `path` in a workload's container: the key is the
    Secret's or ConfigMap's key the file shows (None when no mount holds it). subPath mounts name
    one key; directory mounts their items, or every key of the source."""
    spec = workload["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    directory, file_name = os.path.split(path)
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"], {})
        source = volume.get("secret") or volume.get("configMap")
        if source is None:
            continue
        if mount["mountPath"] == path and "subPath" in mount:
            return volume, mount, mount["subPath"]
        if mount["mountPath"].rstrip("/") == directory and "subPath" not in mount:
            items = {i["path"]: i["key"] for i in source.get("items", [])}
            if items:
                return volume, mount, items.get(file_name)
            return volume, mount, file_name
    return None, None, None


def spiffe_service_account(uri):
    """(namespace, service account) of spiffe://<trust domain>/ns/<ns>/sa/<sa>, else None."""
    m = re.fullmatch(r"spiffe://[^/]+/ns/([^/]+)/sa/([^/]+)", uri)
    return (m.group(1), m.group(2)) if m else None


def policy(objects, workload, config):
    """The policy YAML (text) consentd's auth.policy_file names, from the ConfigMap mounted there."""
    path = ((config or {}).get("auth") or {}).get("policy_file", "")
    volume, _, key = volume_of_file(workload, path) if path else (None, None, None)
    if not volume or "configMap" not in volume or key is None:
        return None
    cm = objects.get(("ConfigMap", volume["configMap"]["name"]), {})
    return cm.get("data", {}).get(key)
