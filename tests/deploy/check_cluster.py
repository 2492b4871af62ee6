#!/usr/bin/env python3
"""Runs consentd in cluster mode the way deploy/kubernetes-cluster runs it, and checks that it fits:

- kustomize renders the overlay; two instances start with the image's entrypoint flags, the
  StatefulSet's arguments and environment (the downward API giving pod names assent-0 and
  assent-1: cluster.node_id) and the overlay's consentd.yaml, with the files the pods' volumes show
  (one test CA standing in for cert-manager; one contact key and link keyring for both, as one
  Secret mounted by every pod);
- against a real single Kafka broker (tools/kafka/kafka.sh), so the only settings changed are what
  one broker cannot do: kafka.brokers, kafka.replication_factor 1, cluster.min_insync_replicas 1;
  and the advertised address, 127.0.0.1:<port> instead of the pod's DNS name (on consentd's
  test certificate, as the pod names are on the real one);
- both become ready and own partitions between them; writes through one instance for targets the
  other owns are forwarded with consentd's own certificate, whose SPIFFE ID the policy grants
  cluster.forward; the other instance's replica answers reads of them; `assentctl cluster status`
  names both;
- every metric (and label) of the cluster-mode rules and dashboard panels is exposed;
- SIGTERM stops an instance within the pod's terminationGracePeriodSeconds, and the other then owns
  every partition (it left the group).

usage: check_cluster.py --consentd BIN --assentctl BIN --kustomize BIN
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import yaml

import check_consentd as run
import deploy_assets as assets

OVERLAY = "deploy/kubernetes-cluster"
NAMESPACE = "assent"


def metric_values(text, name):
    """{labels text: value} of one metric family's samples in the Prometheus text format."""
    out = {}
    for m in re.finditer(rf"^{name}(\{{[^}}]*\}})?\s+(\S+)$", text, re.M):
        out[m.group(1) or ""] = float(m.group(2))
    return out


def poll(what, condition, timeout=90):
    """Polls `condition` until it is true; fails (and returns False) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            run.fail(f"{what}: not within {timeout}s")
            return False
        time.sleep(0.2)
    return True


def main():
    args = run.required_args("--consentd", "--assentctl", "--kustomize")

    rendered = subprocess.run([args.kustomize, "build", os.path.join(assets.REPO, OVERLAY)],
                              capture_output=True, text=True, check=True).stdout
    objects = assets.kubernetes_objects(rendered)
    sts = assets.only(objects, "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (monitor,) = assets.service_monitor_of(objects, sts)
    entrypoint = assets.dockerfile_entrypoint()
    _, consentd_yaml = assets.mounted_config(objects, sts)
    config = yaml.safe_load(consentd_yaml)
    if not (config.get("cluster") or {}).get("enabled"):
        raise SystemExit(f"{OVERLAY}: consentd's config does not enable cluster mode")
    partitions = int((config.get("kafka") or {}).get("partitions", 6))
    certs = assets.certificates(objects)
    policy = yaml.safe_load(assets.policy(objects, sts, config) or "") or {}
    uris = {u: c for c in certs.values() for u in c["spec"].get("uris", [])}
    operators = [p["id"] for p in policy.get("principals", []) if p.get("id") in uris
                 and p.get("tenants") == ["*"] and {"*", "admin"} & set(p.get("permissions", []))]
    if not operators:
        raise SystemExit("the policy lets no Certificate's principal administer (the operator)")

    with tempfile.TemporaryDirectory() as tmp:
        ca = run.TestCa(os.path.join(tmp, "ca"))
        secret_files = run.SecretFiles(os.path.join(tmp, "secrets"), objects, ca)
        root = os.path.join(tmp, "pod-root")
        run.materialize_mounts(sts, objects, root, secret_files)
        operator = ca.issue_for(os.path.join(tmp, "operator"), uris[operators[0]])

        kafka_sh = os.path.join(assets.REPO, "tools", "kafka", "kafka.sh")
        kafka_dir = os.path.join(tmp, "kafka")
        port = run.free_port()
        kafka_args = ["--dir", kafka_dir, "--port", str(port),
                      "--controller-port", str(run.free_port())]
        started = subprocess.run([kafka_sh, "start", *kafka_args, "--owner-pid", str(os.getpid())],
                                 capture_output=True, text=True)
        if started.returncode != 0:
            raise SystemExit(f"kafka.sh start failed:\n{started.stdout}{started.stderr}")

        # What one broker cannot do, and where it is.
        test_config = run.rerooted(config, root)
        test_config["kafka"]["brokers"] = f"127.0.0.1:{port}"
        test_config["kafka"]["replication_factor"] = 1
        test_config["cluster"]["min_insync_replicas"] = 1
        config_file = os.path.join(tmp, "consentd.yaml")
        with open(config_file, "w") as f:
            yaml.safe_dump(test_config, f)

        instances, processes, logs = [], [], []
        try:
            for ordinal in range(2):
                name = f"{sts['metadata']['name']}-{ordinal}"
                grpc_port, metrics_port = run.free_port(), run.free_port()
                env = assets.container_env(container, {"metadata.name": name,
                                                       "metadata.namespace": NAMESPACE})
                advertised = env.get("ASSENT_CLUSTER_ADVERTISE_ADDRESS", "")
                if not advertised.startswith(f"{name}.") or not advertised.endswith(":50051"):
                    run.fail(f"{name}: ASSENT_CLUSTER_ADVERTISE_ADDRESS is {advertised!r}")
                env["ASSENT_CLUSTER_ADVERTISE_ADDRESS"] = f"127.0.0.1:{grpc_port}"
                port_file = os.path.join(tmp, f"{name}.port")
                command = [args.consentd] + run.replace_flags(
                    entrypoint[1:] + container.get("args", []), {
                        "--listen": f"127.0.0.1:{grpc_port}",
                        "--metrics-listen": f"127.0.0.1:{metrics_port}",
                        "--data-dir": os.path.join(tmp, f"data-{name}"),
                        "--config": config_file,
                    }) + ["--port-file", port_file]
                logs.append(os.path.join(tmp, f"{name}.log"))
                with open(logs[-1], "w") as log:
                    process = subprocess.Popen(
                        command, stdout=log, stderr=subprocess.STDOUT,
                        env=dict({k: v for k, v in os.environ.items()
                                  if not k.startswith("ASSENT_")}, **env))
                processes.append(process)
                address = run.wait_for_port_file(process, port_file, logs[-1], name, command)[0]
                instances.append({"name": name, "process": process, "address": address,
                                  "metrics": f"http://127.0.0.1:{metrics_port}"})

            def metrics(instance):
                status, text = run.http_get(instance["metrics"] + "/metrics")
                return text if status == 200 else ""

            def owned(instance):
                return sum(metric_values(metrics(instance), "assent_cluster_partitions_owned")
                           .values())

            # Ready (replica caught up) and every partition owned by one of them, both owning some.
            for instance in instances:
                poll(f"{instance['name']} /readyz 200 (replica caught up)",
                     lambda: run.http_get(instance["metrics"] + "/readyz")[0] == 200)
            poll(f"the two instances owning all {partitions} partitions between them",
                 lambda: all(owned(i) > 0 for i in instances)
                 and sum(owned(i) for i in instances) == partitions)

            # Writes through assent-0 for targets of every partition: those assent-1 owns are
            # forwarded (mTLS with consentd's certificate, cluster.forward in the policy).
            assentctl = run.Assentctl(args.assentctl, instances[0]["address"], operator)
            env = assentctl.env
            assentctl.seed()
            subjects = [f"s{k}" for k in range(4 * partitions)]
            for subject in subjects:
                assentctl("record", "--subject", subject, "--purpose", "marketing.news",
                          "--channel", "EMAIL", "--state", "granted")
            forwarded = sum(metric_values(metrics(instances[0]), "assent_cluster_forwarded_total")
                            .values())
            if forwarded <= 0:
                run.fail(f"{len(subjects)} writes through {instances[0]['name']}, none forwarded "
                         f"to {instances[1]['name']} (assent_cluster_forwarded_total)")
            # assent-1's replica answers them (reads are local): ALLOW is exit 0.
            poll(f"{instances[1]['name']} answering ALLOW for a write made through "
                 f"{instances[0]['name']}",
                 lambda: subprocess.run(
                     [args.assentctl, "check", "--subject", subjects[-1], "--purpose",
                      "marketing.news", "--channel", "EMAIL"], capture_output=True, timeout=60,
                     env=dict(env, ASSENT_SERVER=instances[1]["address"])).returncode == 0)
            status = assentctl("cluster", "status")
            for instance in instances:
                if instance["name"] not in status:
                    run.fail(f"assentctl cluster status does not name {instance['name']}:\n"
                             f"{status}")

            # The rules' and the dashboard's cluster metrics, with their labels.
            families = {}
            for instance in instances:
                for family, (kind, labels) in run.parse_metrics(metrics(instance)).items():
                    families.setdefault(family, (kind, set()))[1].update(labels)
            run.check_honor_labels("consentd in cluster mode", families, monitor)
            count = run.check_expressions(families, select=run.uses_cluster_metrics)

            # SIGTERM: assent-1 leaves the group within its grace period; assent-0 owns everything.
            run.stop(instances[1]["process"], instances[1]["name"], pod)
            stopped = time.monotonic()
            if poll(f"{instances[0]['name']} owning all {partitions} partitions after "
                    f"{instances[1]['name']} stopped", lambda: owned(instances[0]) == partitions):
                # Informative (no assertion on it): the gauges are updated once a second.
                print(f"{instances[0]['name']} owned every partition "
                      f"{time.monotonic() - stopped:.1f}s after {instances[1]['name']} exited")
            run.stop(instances[0]["process"], instances[0]["name"], pod)
            print(f"{len(instances)} instances, {partitions} partitions, {int(forwarded)} writes "
                  f"forwarded; {count} cluster expressions checked")
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGCONT)
                    process.kill()
                    process.wait()
            subprocess.run([kafka_sh, "stop", *kafka_args], capture_output=True)
            if run.errors:
                for path in logs:
                    if os.path.exists(path):
                        print(f"---- {os.path.basename(path)} (tail)", file=sys.stderr)
                        print(open(path).read()[-4000:], file=sys.stderr)
    for e in run.errors:
        print("FAIL:", e, file=sys.stderr)
    sys.exit(1 if run.errors else 0)


if __name__ == "__main__":
    main()
