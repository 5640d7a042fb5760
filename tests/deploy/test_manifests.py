"""Deployment material, parsed and cross-checked (docker is not available to run it):
the Dockerfile, deploy/docker-compose.yml and the Kubernetes manifests in deploy/k8s.

Every `muleguard` command line in them is parsed with the real CLI parser, so flags,
ports, paths and probes are checked against what the worker actually accepts and serves.
"""

from __future__ import annotations

import argparse
import ast
import base64
import json
import re
import tomllib
from pathlib import Path

import prom_helpers as ph
import pytest
import yaml

from topologies.cli import build_parser

VIEWS = (ph.ROOT / "topologies" / "views.py").read_text()
WORKER_PATHS = set(re.findall(r'@app\.page\("([^"]+)"\)', VIEWS))
NAMESPACE = "muleguard"


def _pyproject() -> dict:
    return tomllib.loads((ph.ROOT / "pyproject.toml").read_text())


def _dockerfile() -> dict[str, list[str]]:
    """Instruction -> list of arguments (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", ph.DOCKERFILE.read_text())
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            out.setdefault(instruction.upper(), []).append(rest.strip())
    return out


def _exec_form(value: str) -> list[str]:
    parsed = json.loads(value)
    assert isinstance(parsed, list) and all(isinstance(x, str) for x in parsed), value
    return parsed


ENTRYPOINT = _exec_form(_dockerfile()["ENTRYPOINT"][-1])


def _parse(argv: list[str]) -> argparse.Namespace:
    """A full container command line, as the real `muleguard` CLI parses it."""
    assert argv[0] == "muleguard", argv
    assert "muleguard" in _pyproject()["project"]["scripts"]
    return build_parser().parse_args([str(a) for a in argv[1:]])


def _worker_checks(args: argparse.Namespace) -> None:
    assert args.command == "worker"
    assert args.web_host == "0.0.0.0", "probes and scrapes come from outside the container"
    assert args.data_dir and args.model


# --- Dockerfile --------------------------------------------------------------------------


def test_dockerfile_installs_every_package_and_runs_the_cli() -> None:
    docker = _dockerfile()
    assert docker["FROM"][0].startswith("python:3.11")
    copied = {Path(src).name for c in docker["COPY"] for src in c.split()[:-1]}
    packages = {p.split(".")[0] for p in _pyproject()["tool"]["setuptools"]["packages"]}
    assert packages | {"pyproject.toml", "README.md"} <= copied
    for source in copied:
        assert (ph.ROOT / source).exists(), f"COPY {source}: not in the repository"
    assert ENTRYPOINT == ["muleguard"]
    args = _parse(ENTRYPOINT + _exec_form(docker["CMD"][-1]))
    _worker_checks(args)
    assert docker["EXPOSE"] == [str(args.web_port)]
    assert docker["USER"][-1].split(":")[0] == "10001"
    assert "libgomp1" in " ".join(docker["RUN"]), "LightGBM needs the OpenMP runtime"


# --- docker compose ------------------------------------------------------------------------

COMPOSE = yaml.safe_load(ph.COMPOSE.read_text())
SERVICES = COMPOSE["services"]
WORKERS = sorted(name for name in SERVICES if name.startswith("worker-"))
MULEGUARD_SERVICES = [n for n, s in SERVICES.items() if s.get("image", "").startswith("muleguard:")]


def _argv(service: dict) -> list[str]:
    entrypoint = service.get("entrypoint", ENTRYPOINT)
    return list(entrypoint) + [str(a) for a in service.get("command", [])]


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    return (
        dict(e.split("=", 1) for e in env)
        if isinstance(env, list)
        else {k: str(v) for k, v in env.items()}
    )


def _mounts(service: dict) -> dict[str, str]:
    """Container path -> source, for short-syntax volumes."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        mounts[target] = source
    return mounts


def _under(path: str, mounts: dict[str, str]) -> bool:
    return any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts)


def test_compose_has_the_production_like_services() -> None:
    assert {"kafka", "topics", "world", "trainer", "simulator", "prometheus", "grafana"} <= set(
        SERVICES
    )
    assert WORKERS == ["worker-1", "worker-2", "worker-3"]
    assert "zookeeper" not in json.dumps(COMPOSE).lower()
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"


def test_compose_kafka_runs_kraft_and_advertises_what_clients_use() -> None:
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:") and not kafka["image"].endswith(":latest")
    env = _env(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    cluster_id = env["CLUSTER_ID"]
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16, "CLUSTER_ID: base64 of 16 bytes"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@kafka:")
    assert env["KAFKA_NUM_PARTITIONS"] == "4"
    assert "healthcheck" in kafka


def _advertised() -> str:
    listeners = _env(SERVICES["kafka"])["KAFKA_ADVERTISED_LISTENERS"].split(",")
    return next(
        listener.split("://", 1)[1] for listener in listeners if listener.startswith("PLAINTEXT://")
    )


def test_compose_muleguard_services_share_one_image_built_from_this_repo() -> None:
    images = {SERVICES[n]["image"] for n in MULEGUARD_SERVICES}
    assert len(images) == 1
    for name in MULEGUARD_SERVICES:
        build = SERVICES[name]["build"]
        context = (ph.COMPOSE.parent / build["context"]).resolve()
        assert context == ph.ROOT and (context / build["dockerfile"]).resolve() == ph.DOCKERFILE


@pytest.mark.parametrize("name", WORKERS)
def test_compose_worker_command_health_state_and_model(name: str) -> None:
    from topologies.broker import bootstrap_of

    service = SERVICES[name]
    assert all(isinstance(a, str) for a in service["command"])
    args = _parse(_argv(service))
    _worker_checks(args)
    env = _env(service)
    broker = args.broker or env.get("MULEGUARD_BROKER")
    assert broker and bootstrap_of(broker) == _advertised()
    assert env.get("MULEGUARD_PSEUDONYM_KEY"), "every worker needs the pseudonymisation key"
    assert re.fullmatch(r"\$\{MULEGUARD_TOKEN_KEY:-[^}]+\}", env.get("MULEGUARD_TOKEN_KEY", "")), \
        "every worker signs tokens with MULEGUARD_TOKEN_KEY, taken from deploy/.env"
    mounts = _mounts(service)
    assert mounts[args.data_dir] == f"{name}-state", "each worker needs its own state volume"
    assert _under(args.model, mounts)
    check = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{args.web_port}/healthz" in check and "/healthz" in WORKER_PATHS
    assert service["depends_on"]["trainer"]["condition"] == "service_completed_successfully"
    assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"


def test_compose_workers_agree_on_key_broker_and_model() -> None:
    seen = {
        (
            _env(SERVICES[n])["MULEGUARD_PSEUDONYM_KEY"],
            _env(SERVICES[n])["MULEGUARD_TOKEN_KEY"],
            _env(SERVICES[n])["MULEGUARD_BROKER"],
            _parse(_argv(SERVICES[n])).model,
        )
        for n in WORKERS
    }
    assert len(seen) == 1


def test_compose_model_is_trained_where_workers_load_it() -> None:
    world, trainer = _parse(_argv(SERVICES["world"])), _parse(_argv(SERVICES["trainer"]))
    assert world.command == "simulate" and world.out and not world.broker
    assert trainer.command == "train" and trainer.data == world.out
    assert trainer.labels == f"{world.out}/labels.csv"
    worker = _parse(_argv(SERVICES[WORKERS[0]]))
    assert trainer.out == worker.model
    assert (
        _mounts(SERVICES["trainer"])["/models"]
        == _mounts(SERVICES[WORKERS[0]])["/models"]
        == "models"
    )


def test_compose_topics_are_created_from_the_project_topic_table() -> None:
    service = SERVICES["topics"]
    assert service["entrypoint"] == ["python", "-c"]
    (code,) = service["command"]
    assert code == f"from topologies.broker import create_topics; create_topics('{_advertised()}')"
    from topologies import broker

    assert callable(broker.create_topics)


def test_compose_simulator_streams_into_the_broker_at_a_rate() -> None:
    from topologies.broker import bootstrap_of

    args = _parse(_argv(SERVICES["simulator"]))
    assert args.command == "simulate" and not args.out and args.rate and args.rate > 0
    assert bootstrap_of(args.broker) == _advertised()
    assert _parse(_argv(SERVICES["simulator"])).seed != _parse(_argv(SERVICES["world"])).seed, (
        "traffic should not be the world the model was trained on"
    )


def test_compose_prometheus_scrapes_every_worker_with_the_rules() -> None:
    service = SERVICES["prometheus"]
    mounts = _mounts(service)
    config_path = next(
        a.split("=", 1)[1] for a in service["command"] if a.startswith("--config.file=")
    )
    assert (ph.COMPOSE.parent / mounts[config_path]).resolve() == ph.PROMETHEUS_CONFIG
    config = yaml.safe_load(ph.PROMETHEUS_CONFIG.read_text())
    for pattern in config["rule_files"]:
        container_dir = str(Path(config_path).parent / Path(pattern).parent)
        assert (ph.COMPOSE.parent / mounts[container_dir]).resolve() == ph.RULES.parent
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "muleguard"]
    assert job.get("metrics_path", "/metrics") == "/metrics" and "/metrics" in WORKER_PATHS
    targets = {t for c in job["static_configs"] for t in c["targets"]}
    expected = {
        f"{SERVICES[n].get('hostname', n)}:{_parse(_argv(SERVICES[n])).web_port}" for n in WORKERS
    }
    assert targets == expected
    assert not service["image"].endswith(":latest")


def test_compose_grafana_provisions_the_dashboards_and_the_datasource() -> None:
    service = SERVICES["grafana"]
    mounts = _mounts(service)
    provisioning = ph.DEPLOY / "grafana" / "provisioning"
    assert (ph.COMPOSE.parent / mounts["/etc/grafana/provisioning"]).resolve() == provisioning
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "muleguard.yml").read_text())[
        "providers"
    ]
    dashboards_dir = provider["options"]["path"]
    assert (ph.COMPOSE.parent / mounts[dashboards_dir]).resolve() == ph.DASHBOARDS
    home = _env(service)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(dashboards_dir + "/") and (ph.DASHBOARDS / Path(home).name).exists()
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["url"] == "http://prometheus:9090"
    assert "9090:9090" in SERVICES["prometheus"]["ports"]
    assert not service["image"].endswith(":latest")


def test_compose_named_volumes_are_declared() -> None:
    declared = set(COMPOSE.get("volumes", {}))
    for name, service in SERVICES.items():
        for source in _mounts(service).values():
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} not declared"


# --- Kubernetes ----------------------------------------------------------------------------

API_VERSIONS = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "PersistentVolumeClaim": "v1",
    "Service": "v1",
    "StatefulSet": "apps/v1",
    "PodDisruptionBudget": "policy/v1",
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "PrometheusRule": "monitoring.coreos.com/v1",
}


def _k8s() -> list[dict]:
    docs = []
    for path in sorted(ph.K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += ph.load_yaml_documents(path)
    return docs


def _one(kind: str, name: str | None = None) -> dict:
    found = [
        d for d in _k8s() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_k8s_every_manifest_has_a_known_kind_and_api_version_and_a_namespace() -> None:
    kinds = set()
    for doc in _k8s():
        kinds.add(doc["kind"])
        assert API_VERSIONS.get(doc["kind"]) == doc["apiVersion"], doc["kind"]
        assert doc["metadata"]["name"]
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["metadata"]["name"]
    assert kinds == set(API_VERSIONS)


def test_k8s_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((ph.K8S / "kustomization.yaml").read_text())
    files = {p.name for p in ph.K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert kustomization["namespace"] == NAMESPACE


STATEFULSET = _one("StatefulSet")
POD = STATEFULSET["spec"]["template"]
(CONTAINER,) = POD["spec"]["containers"]
K8S_ARGS = _parse(list(CONTAINER.get("command", ENTRYPOINT)) + list(CONTAINER["args"]))


def test_k8s_statefulset_runs_the_worker_with_state_on_a_pvc() -> None:
    _worker_checks(K8S_ARGS)
    assert all(isinstance(a, str) for a in CONTAINER["args"]), "Kubernetes args must be strings"
    spec = STATEFULSET["spec"]
    assert spec["replicas"] >= 2
    assert _matches(spec["selector"]["matchLabels"], POD["metadata"]["labels"])
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    mounts = {m["mountPath"]: m for m in CONTAINER["volumeMounts"]}
    assert mounts[K8S_ARGS.data_dir]["name"] == claim["metadata"]["name"], (
        "--data-dir must be the PVC"
    )
    assert not mounts[K8S_ARGS.data_dir].get("readOnly")
    assert _under(K8S_ARGS.model, mounts)
    assert POD["spec"]["securityContext"]["runAsUser"] == int(
        _dockerfile()["USER"][-1].split(":")[0]
    )


def test_k8s_probes_hit_the_worker_views_on_its_web_port() -> None:
    (port,) = CONTAINER["ports"]
    assert port["containerPort"] == K8S_ARGS.web_port
    probes = {
        k: CONTAINER[k]["httpGet"] for k in ("readinessProbe", "livenessProbe", "startupProbe")
    }
    assert probes["readinessProbe"]["path"] == "/ready"
    assert probes["livenessProbe"]["path"] == "/healthz"
    for probe in probes.values():
        assert probe["path"] in WORKER_PATHS
        assert probe["port"] in (port["name"], port["containerPort"])


def test_k8s_worker_has_resource_requests_and_limits() -> None:
    resources = CONTAINER["resources"]

    def quantity(value: str) -> float:
        units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
        for unit, factor in units.items():
            if str(value).endswith(unit):
                return float(str(value)[: -len(unit)]) * factor
        return float(value)

    for resource in ("cpu", "memory"):
        assert quantity(resources["requests"][resource]) <= quantity(resources["limits"][resource])


def test_k8s_broker_and_key_come_from_a_configmap_and_a_secret() -> None:
    sources = {
        (s.get("configMapRef") or s.get("secretRef"))["name"]: s for s in CONTAINER["envFrom"]
    }
    config = _one("ConfigMap", "muleguard-config")
    secret = _one("Secret", "muleguard-secrets")
    assert "configMapRef" in sources[config["metadata"]["name"]]
    assert "secretRef" in sources[secret["metadata"]["name"]]
    assert K8S_ARGS.broker is None, "the broker comes from MULEGUARD_BROKER"
    brokers = config["data"]["MULEGUARD_BROKER"].split(",")
    assert brokers and all(re.fullmatch(r"kafka://[\w.-]+:\d+", b) for b in brokers)
    for key in ("MULEGUARD_PSEUDONYM_KEY", "MULEGUARD_TOKEN_KEY"):
        assert key in {**secret.get("stringData", {}), **secret.get("data", {})}
        assert key not in config["data"]


def test_committed_token_keys_are_reported_as_development_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compose default and the k8s placeholder are public: a worker left with them says so
    (muleguard_development_keys_in_use, alert MuleguardDevelopmentKeyInUse)."""
    from topologies import auth

    compose = re.fullmatch(r"\$\{MULEGUARD_TOKEN_KEY:-([^}]+)\}", _env(SERVICES[WORKERS[0]])["MULEGUARD_TOKEN_KEY"])
    placeholder = _one("Secret", "muleguard-secrets")["stringData"]["MULEGUARD_TOKEN_KEY"]
    assert compose
    for committed in (compose.group(1), placeholder):
        monkeypatch.setenv(auth.ENV_TOKEN_KEY, committed)
        assert auth.using_development_key(), committed
    monkeypatch.setenv(auth.ENV_TOKEN_KEY, "a-real-key-set-out-of-band-4f1c9e")
    assert not auth.using_development_key()


def test_k8s_headless_service_selects_the_workers() -> None:
    service = _one("Service", STATEFULSET["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    assert _matches(service["spec"]["selector"], POD["metadata"]["labels"])
    (port,) = service["spec"]["ports"]
    (container_port,) = CONTAINER["ports"]
    assert port["targetPort"] in (container_port["name"], container_port["containerPort"])
    assert port["port"] == K8S_ARGS.web_port


def test_k8s_service_monitor_scrapes_the_service_as_job_muleguard() -> None:
    monitor = _one("ServiceMonitor")
    service = _one("Service", STATEFULSET["spec"]["serviceName"])
    assert service["metadata"]["name"] == "muleguard", (
        "the job label (Service name) the rules expect"
    )
    assert _matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert NAMESPACE in monitor["spec"]["namespaceSelector"]["matchNames"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert endpoint["path"] == "/metrics" and "/metrics" in WORKER_PATHS


def _k8s_scrape_config() -> dict:
    return yaml.safe_load(
        _one("ConfigMap", "muleguard-prometheus-scrape")["data"]["prometheus.yml"]
    )


def test_k8s_plain_scrape_config_keeps_the_service_endpoints() -> None:
    (job,) = _k8s_scrape_config()["scrape_configs"]
    assert job["job_name"] == "muleguard" and job["metrics_path"] == "/metrics"
    (sd,) = job["kubernetes_sd_configs"]
    assert sd["role"] == "endpoints" and sd["namespaces"]["names"] == [NAMESPACE]
    keep = {
        tuple(r["source_labels"]): r["regex"]
        for r in job["relabel_configs"]
        if r.get("action") == "keep"
    }
    service = _one("Service", STATEFULSET["spec"]["serviceName"])
    assert keep[("__meta_kubernetes_service_name",)] == service["metadata"]["name"]
    assert keep[("__meta_kubernetes_endpoint_port_name",)] == service["spec"]["ports"][0]["name"]


def test_k8s_plain_scrape_config_passes_promtool(tmp_path) -> None:
    """Debian's promtool is built without Kubernetes discovery, so the discovery block is
    swapped for a static target; everything else (relabelling, globals) is checked as is."""
    config = _k8s_scrape_config()
    for job in config["scrape_configs"]:
        job.pop("kubernetes_sd_configs")
        job["static_configs"] = [{"targets": ["muleguard-0.muleguard:6066"]}]
    config["rule_files"] = [str(ph.RULES)]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    done = ph.promtool("check", "config", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_k8s_disruption_budget_and_standby_replicas() -> None:
    budget = _one("PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert _matches(budget["spec"]["selector"]["matchLabels"], POD["metadata"]["labels"])
    # One pod may be down at a time because its tables have a warm standby on another pod:
    # the keyword the app is built with, not a comment that mentions it.
    assert _faust_app_keywords(ph.ROOT / "topologies" / "app.py")["table_standby_replicas"] == 1


def _faust_app_keywords(path: Path) -> dict[str, object]:
    """The literal keyword arguments of the ``faust.App(...)`` call in ``path``."""
    tree = ast.parse(path.read_text())
    [call] = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
              and ast.unparse(node.func) == "faust.App"]
    return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords
            if kw.arg is not None and isinstance(kw.value, ast.Constant)}


def test_k8s_and_compose_run_the_same_image_and_worker_flags() -> None:
    assert CONTAINER["image"] == SERVICES[WORKERS[0]]["image"]
    compose_args = _parse(_argv(SERVICES[WORKERS[0]]))
    for flag in ("web_host", "web_port", "data_dir", "model"):
        assert getattr(K8S_ARGS, flag) == getattr(compose_args, flag), flag
