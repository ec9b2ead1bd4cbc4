#!/usr/bin/env python3
"""CI check of the Helm chart helm/scriptsync (run by .ci/run; Python 3.11).

1. Lints the chart with Helm's own library (PyPI helm-sdkpy, which bundles it): warnings and
   errors fail.
2. Renders the chart through Helm's install action against a fake Kubernetes API server
   (http.server on 127.0.0.1, in a thread): it answers /version and discovery, 404 for every
   object Helm looks up, and echoes back (and records) every object Helm creates. Helm stores
   its release in a Secret of type helm.sh/release.v1, which is not recorded. The recorded
   objects are the rendered manifests; they must equal the release's own manifest.
3. Validates every rendered object against the Kubernetes schemas of K8S_VERSION (PyPI
   kubernetes-validate, strict: unknown fields fail). ServiceMonitor is a CRD the package has
   no schema for: it is checked against a strict schema of the fields the chart uses.
4. Checks what the chart promises (probes, security context, POD_NAME, grace period above the
   drain timeout, every *_file of the config mounted from a Secret, no secret in the
   ConfigMap, the DLQ replay Job's command line, ...).
5. Renders again with the mount roots (secretsMountPath, caMountPath) moved to a temp dir,
   writes dummy secrets and a CA certificate where the config expects them, and runs the real
   binary: `cargo run -- check-config --config <config.toml from the ConfigMap>` (exit 0).
6. Values that must be refused (schema or template checks) are refused.
7. Tenants from one Secret (tenantSecrets.secretName, no [[tenants]]): the Secret is mounted
   whole (no subPath) at the tenants_dir the config names.

Value sets: the chart's defaults and helm/scriptsync/ci/full-values.yaml.
Exits non-zero on any failure; removes its temp dir and stops its server thread.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "helm" / "scriptsync"
FULL_VALUES = CHART / "ci" / "full-values.yaml"
K8S_VERSION = "1.30.0"
NAMESPACE = "scriptsync-ci"
RELEASE = "ci"
CONFIG_PATH = "/etc/scriptsync/config.toml"

# Helm lint severities (pkg/lint/support: UnknownSev, InfoSev, WarningSev, ErrorSev).
SEVERITY = {0: "unknown", 1: "info", 2: "warning", 3: "error"}


def log(msg: str) -> None:
    print(f"helm-check: {msg}", flush=True)


class CheckFailed(Exception):
    pass


def ensure_packages() -> None:
    missing = []
    # The versions this check was written and tested against.
    for module, package in (("helm_sdkpy", "helm-sdkpy==0.1.32"),
                            ("kubernetes_validate", "kubernetes-validate==1.37.0")):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    if missing:
        log(f"installing {' '.join(missing)} from PyPI")
        # helm-sdkpy declares Python >= 3.12; it works on 3.11.
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--ignore-requires-python", *missing],
            check=True,
        )
        importlib.invalidate_caches()


# ---- the fake Kubernetes API server ---------------------------------------------------------

# Discovery: what the chart's kinds need (and what Helm's release storage uses).
RESOURCES = {
    "v1": [("configmaps", "ConfigMap"), ("secrets", "Secret"), ("services", "Service"),
           ("serviceaccounts", "ServiceAccount"), ("pods", "Pod")],
    "apps/v1": [("statefulsets", "StatefulSet"), ("deployments", "Deployment")],
    "batch/v1": [("jobs", "Job")],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget")],
    "networking.k8s.io/v1": [("networkpolicies", "NetworkPolicy")],
    "monitoring.coreos.com/v1": [("servicemonitors", "ServiceMonitor"),
                                 ("prometheusrules", "PrometheusRule")],
}
HELM_RELEASE_MARKER = b"helm.sh/release.v1"


class FakeApiServer:
    """Just enough of a Kubernetes API for `helm install` to create a release."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.recorded: list[dict] = []
        self.release_writes = 0
        self.unexpected: list[str] = []
        self.errors: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def send_json(self, code: int, obj: dict) -> None:
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def not_found(self) -> None:
                self.send_json(404, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                     "status": "Failure", "reason": "NotFound", "code": 404,
                                     "message": "not found"})

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                if path == "/version":
                    return self.send_json(200, {"major": "1", "minor": K8S_VERSION.split(".")[1],
                                                "gitVersion": f"v{K8S_VERSION}",
                                                "platform": "linux/amd64"})
                if path == "/api":
                    return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                                "serverAddressByClientCIDRs": [
                                                    {"clientCIDR": "0.0.0.0/0",
                                                     "serverAddress": "127.0.0.1"}]})
                if path == "/apis":
                    groups = []
                    for gv in RESOURCES:
                        if "/" in gv:
                            group, version = gv.split("/")
                            entry = {"groupVersion": gv, "version": version}
                            groups.append({"name": group, "versions": [entry],
                                           "preferredVersion": entry})
                    return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                                "groups": groups})
                gv = path[5:] if path.startswith("/api/") else path[6:] if path.startswith("/apis/") else ""
                if gv in RESOURCES:
                    resources = [{"name": plural, "singularName": kind.lower(), "namespaced": True,
                                  "kind": kind,
                                  "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
                                 for plural, kind in RESOURCES[gv]]
                    return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                                "groupVersion": gv, "resources": resources})
                if path == f"/api/v1/namespaces/{NAMESPACE}/secrets":  # Helm's release history
                    return self.send_json(200, {"kind": "SecretList", "apiVersion": "v1",
                                                "metadata": {}, "items": []})
                if path.startswith(("/api/v1/namespaces/", "/apis/")):  # an object: not there yet
                    return self.not_found()
                with server.lock:
                    server.unexpected.append(f"GET {self.path}")
                return self.not_found()

            def write(self, code: int) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                content_type = self.headers.get("Content-Type") or ""
                path = self.path.split("?", 1)[0]
                if "protobuf" in content_type or HELM_RELEASE_MARKER in raw:
                    # Helm's release record (a typed client sends it as protobuf). Not a
                    # manifest: answer with a minimal Secret, record nothing.
                    if not (path.startswith(f"/api/v1/namespaces/{NAMESPACE}/secrets")
                            and HELM_RELEASE_MARKER in raw):
                        with server.lock:
                            server.errors.append(f"unexpected non-JSON write {self.command} {path}")
                        return self.send_json(400, {"kind": "Status", "code": 400})
                    with server.lock:
                        server.release_writes += 1
                    name = path.rsplit("/", 1)[1] if self.command == "PUT" else "sh.helm.release.v1"
                    return self.send_json(code, {"kind": "Secret", "apiVersion": "v1",
                                                 "metadata": {"name": name, "namespace": NAMESPACE},
                                                 "type": "helm.sh/release.v1"})
                try:
                    obj = json.loads(raw)
                except ValueError as e:
                    with server.lock:
                        server.errors.append(f"{self.command} {path}: body is not JSON: {e}")
                    return self.send_json(400, {"kind": "Status", "code": 400})
                with server.lock:
                    server.recorded.append(copy.deepcopy(obj))
                meta = obj.setdefault("metadata", {})
                meta.setdefault("namespace", NAMESPACE)
                meta.setdefault("uid", hashlib.sha1(path.encode()).hexdigest())
                meta.setdefault("resourceVersion", "1")
                meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
                self.send_json(code, obj)

            def do_POST(self):
                self.write(201)

            def do_PUT(self):
                self.write(200)

            def do_PATCH(self):
                self.write(200)

            def do_DELETE(self):
                with server.lock:
                    server.unexpected.append(f"DELETE {self.path}")
                self.not_found()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="fake-kube-api",
                                       daemon=True)

    def __enter__(self) -> "FakeApiServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def kubeconfig(self) -> str:
        return (
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{self.port}\n"
            "users:\n- name: fake\n  user:\n    token: fake\n"
            f"contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: {NAMESPACE}\n"
            "current-context: fake\n"
        )


# ---- helm -------------------------------------------------------------------------------------


def lint(tmp: Path) -> None:
    import helm_sdkpy.actions as actions
    import helm_sdkpy.chart as chart

    config = actions.Configuration(namespace=NAMESPACE, kubeconfig="/dev/null")
    result = asyncio.run(chart.Lint(config).run(str(CHART)))
    messages = result.get("Messages") or []
    counts: dict[str, int] = {}
    bad = []
    for m in messages:
        sev = SEVERITY.get(m.get("Severity"), str(m.get("Severity")))
        counts[sev] = counts.get(sev, 0) + 1
        if m.get("Severity", 0) >= 2:
            # helm-sdkpy serializes the Go error as {}: only the severity and file survive.
            bad.append(f"{sev} in {m.get('Path')}: {m.get('Err')}")
    if result.get("Errors"):
        bad.append(f"errors: {result['Errors']}")
    if result.get("TotalChartsLinted") != 1:
        bad.append(f"TotalChartsLinted = {result.get('TotalChartsLinted')}")
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no messages"
    if bad:
        # helm-sdkpy loses the text of Go errors ({}); a render shows a template error's text.
        hint = ""
        try:
            render({}, tmp)
        except Exception as e:
            hint = f"\n  rendering the defaults says: {e}"
        raise CheckFailed("helm lint: " + "; ".join(bad) + f" (all: {summary}){hint}")
    log(f"lint: ok ({summary}; info messages are advice such as 'icon is recommended')")


def strict_yaml_loader():
    """A YAML loader that refuses duplicate mapping keys (PyYAML keeps the last silently)."""
    import yaml

    class Strict(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        keys = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in keys:
                raise CheckFailed(f"duplicate key {key!r} in the rendered manifest, line {key_node.start_mark.line + 1}")
            keys.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return Strict


def render(values: dict, tmp: Path) -> tuple[list[dict], dict, FakeApiServer]:
    """`helm install --dry-run`, in effect: the objects Helm sends to the fake API server."""
    import helm_sdkpy.actions as actions
    import yaml

    with FakeApiServer() as api:
        kubeconfig = tmp / f"kubeconfig-{api.port}.yaml"
        kubeconfig.write_text(api.kubeconfig())
        config = actions.Configuration(namespace=NAMESPACE, kubeconfig=str(kubeconfig))
        release = asyncio.run(actions.Install(config).run(
            RELEASE, str(CHART), values=values, wait=False, timeout=60))
    if api.errors:
        raise CheckFailed("fake API server: " + "; ".join(api.errors))
    if api.unexpected:
        log(f"note: unexpected requests answered 404: {api.unexpected}")
    if release.get("info", {}).get("status") != "deployed":
        raise CheckFailed(f"release status {release.get('info', {}).get('status')!r}")
    if api.release_writes < 1:
        raise CheckFailed("Helm wrote no release record")
    manifest = [o for o in yaml.load_all(release.get("manifest") or "", Loader=strict_yaml_loader()) if o]

    def key(o: dict) -> tuple:
        return (o.get("apiVersion"), o.get("kind"), o.get("metadata", {}).get("name"))

    if sorted(map(key, manifest)) != sorted(map(key, api.recorded)):
        raise CheckFailed(f"objects created {sorted(map(key, api.recorded))} differ from the "
                          f"release manifest {sorted(map(key, manifest))}")
    if len(set(map(key, manifest))) != len(manifest):
        raise CheckFailed("duplicate objects in the manifest")
    return api.recorded, release, api


def render_must_fail(name: str, values: dict, tmp: Path, expect: str) -> None:
    try:
        render(values, tmp)
    except CheckFailed:
        raise
    except Exception as e:  # helm_sdkpy.exceptions.InstallError
        if expect not in str(e):
            raise CheckFailed(f"refused values '{name}': refused, but for another reason: {e}")
        log(f"refused as it should be: {name}")
        return
    raise CheckFailed(f"values '{name}' were accepted; they must be refused")


# ---- validation ---------------------------------------------------------------------------------

# The Prometheus Operator's ServiceMonitor (monitoring.coreos.com/v1): kubernetes-validate has
# no schema for CRDs. This is the subset of the CRD's schema the chart uses, strict.
LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
                           "namespace": {"type": "string"}, "labels": LABELS, "annotations": LABELS},
        },
        "spec": {
            "type": "object", "required": ["selector", "endpoints"], "additionalProperties": False,
            "properties": {
                "selector": {"type": "object", "additionalProperties": False,
                             "properties": {"matchLabels": LABELS}},
                "namespaceSelector": {"type": "object", "additionalProperties": False,
                                      "properties": {"any": {"type": "boolean"},
                                                     "matchNames": {"type": "array", "items": {"type": "string"}}}},
                "endpoints": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False,
                    "properties": {
                        "port": {"type": "string"},
                        "path": {"type": "string"},
                        "scheme": {"enum": ["http", "https"]},
                        "interval": {"type": "string", "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"},
                        "scrapeTimeout": {"type": "string", "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"},
                    }}},
            },
        },
    },
}


# The Operator's PrometheusRule: the subset of its CRD's schema the chart uses, strict.
PROMETHEUS_RULE_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": SERVICE_MONITOR_SCHEMA["properties"]["metadata"],
        "spec": {
            "type": "object", "required": ["groups"], "additionalProperties": False,
            "properties": {"groups": {"type": "array", "items": {
                "type": "object", "required": ["name", "rules"], "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "rules": {"type": "array", "items": {
                        "type": "object", "required": ["alert", "expr"], "additionalProperties": False,
                        "properties": {
                            "alert": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                            "expr": {"type": "string", "minLength": 1},
                            "for": {"type": "string", "pattern": "^(0|(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?)$"},
                            "labels": LABELS,
                            "annotations": LABELS,
                        }}},
                }}}},
        },
    },
}


def validate_objects(objects: list[dict]) -> None:
    import jsonschema
    import kubernetes_validate

    for obj in objects:
        what = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        try:
            if obj.get("kind") == "ServiceMonitor":
                jsonschema.Draft7Validator(SERVICE_MONITOR_SCHEMA).validate(obj)
            elif obj.get("kind") == "PrometheusRule":
                jsonschema.Draft7Validator(PROMETHEUS_RULE_SCHEMA).validate(obj)
            else:
                kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except Exception as e:
            raise CheckFailed(f"{what} does not validate against Kubernetes {K8S_VERSION}: "
                              f"{getattr(e, 'message', e)}")


# ---- what the chart promises -----------------------------------------------------------------


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def config_map(objects: list[dict]) -> dict:
    """The worker's config ConfigMap (the dashboard's, when enabled, is the other one)."""
    found = [o for o in by_kind(objects, "ConfigMap") if "config.toml" in o.get("data", {})]
    if len(found) != 1:
        raise CheckFailed(f"expected one config ConfigMap, found {len(found)}")
    return found[0]


def one(objects: list[dict], kind: str) -> dict:
    found = by_kind(objects, kind)
    if len(found) != 1:
        raise CheckFailed(f"expected one {kind}, found {len(found)}")
    return found[0]


def expect(cond: bool, msg: str) -> None:
    if not cond:
        raise CheckFailed(msg)


def config_files(config: dict) -> list[tuple[str, str]]:
    """(key path, file) of every *_file / ca_file setting of a parsed config."""
    out = []

    def walk(node, prefix):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{prefix}[{i}]")
        elif prefix.endswith("_file"):
            out.append((prefix, node))

    walk(config, "")
    return out


def check_pod(pod: dict, what: str, config: dict, args_prefix: list[str]) -> None:
    (container,) = pod["containers"]
    expect(container["args"][: len(args_prefix)] == args_prefix,
           f"{what}: args {container['args']} do not start with {args_prefix}")
    expect(pod.get("automountServiceAccountToken") is False, f"{what}: mounts a token")
    psc, sc = pod.get("securityContext", {}), container.get("securityContext", {})
    expect(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 10001,
           f"{what}: pod securityContext {psc}")
    expect(sc.get("runAsNonRoot") is True and sc.get("runAsUser") == 10001
           and sc.get("readOnlyRootFilesystem") is True
           and sc.get("allowPrivilegeEscalation") is False
           and sc.get("capabilities", {}).get("drop") == ["ALL"]
           and sc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
           f"{what}: container securityContext {sc}")
    env = {e["name"]: e for e in container.get("env", [])}
    expect(env.get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
           == "metadata.name", f"{what}: POD_NAME is not the pod name")
    # Every file the config names is a key of a mounted Secret/ConfigMap.
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"].rstrip("/"): m for m in container["volumeMounts"]}
    cm = mounts.get(os.path.dirname(CONFIG_PATH))
    expect(cm is not None and "configMap" in volumes[cm["name"]], f"{what}: config not mounted")
    for key, path in config_files(config):
        directory, item = os.path.split(path)
        mount = mounts.get(directory)
        expect(mount is not None, f"{what}: {key} = {path}: nothing is mounted at {directory}")
        volume = volumes[mount["name"]]
        expect(mount.get("readOnly") is True, f"{what}: {directory} is mounted writable")
        if key.endswith("ca_file"):
            expect("secret" in volume or "configMap" in volume, f"{what}: {key} has no source")
        else:
            expect("secret" in volume and volume["secret"].get("optional") is not True,
                   f"{what}: {key} = {path} is not from a (required) Secret: {volume}")
            expected_dir = os.path.basename(directory)
            expect(volume["secret"]["secretName"] == expected_dir,
                   f"{what}: {directory} mounts Secret {volume['secret']['secretName']}")


def check_chart(objects: list[dict], values: dict) -> tuple[str, dict]:
    """Chart-specific promises; returns the ConfigMap's config.toml and its parsed form."""
    sts = one(objects, "StatefulSet")
    configmap = config_map(objects)
    text = configmap["data"]["config.toml"]
    config = tomllib.loads(text)

    # No secret in the ConfigMap: secret settings are *_file references only.
    def no_inline_secrets(node, prefix=""):
        if isinstance(node, dict):
            for k, v in node.items():
                expect(not k.endswith("_env"), f"config: {prefix}{k}: the chart uses *_file only")
                expect(k not in ("password", "client_secret", "token"),
                       f"config: {prefix}{k} is inline")
                no_inline_secrets(v, f"{prefix}{k}.")
        elif isinstance(node, list):
            for v in node:
                no_inline_secrets(v, prefix)

    no_inline_secrets(config)
    expect(config["admin"]["listen"] == f"0.0.0.0:{values['admin']['port']}", "admin.listen")
    expect(config["log"]["format"] == "json", "log.format is not json")
    expect("id" not in config.get("replica", {}), "[replica] id is set: POD_NAME must be the id")
    expect(config["replica"]["heartbeat"] == values["replica"]["heartbeat"], "replica.heartbeat")
    urls = values["broker"].get("urls") or []
    if urls:
        expect(config["broker"].get("urls") == urls and "url" not in config["broker"],
               "broker.urls rendered instead of broker.url")
    else:
        expect(config["broker"].get("url") == values["broker"]["url"], "broker.url rendered")
    drain = values["shutdown"]["drainTimeoutSeconds"]
    expect(config["shutdown"]["drain_timeout"] == f"{drain}s", "shutdown.drain_timeout")
    expect([t["id"] for t in config["tenants"]] == [t["id"] for t in values["tenants"]], "tenants")

    spec = sts["spec"]
    pod = spec["template"]["spec"]
    expect(spec["replicas"] == values["replicaCount"], "replicas")
    grace = pod["terminationGracePeriodSeconds"]
    want = values.get("terminationGracePeriodSeconds") or drain + 10
    expect(grace == want and grace > drain, f"terminationGracePeriodSeconds {grace} (drain {drain})")
    checksum = spec["template"]["metadata"].get("annotations", {}).get("checksum/config", "")
    expect(len(checksum) == 64, "no checksum/config annotation")
    check_pod(pod, "StatefulSet", config, ["run", "--config", CONFIG_PATH])
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    expect(ports.get("admin") == values["admin"]["port"], f"admin port {ports}")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container.get(probe, {}).get("httpGet", {})
        expect(get.get("path") == path and get.get("port") == "admin", f"{probe} {get}")
    expect(container.get("resources", {}).get("requests"), "no resource requests")
    anti = pod.get("affinity", {}).get("podAntiAffinity", {})
    expect(anti, "no pod anti-affinity")
    selector = spec["selector"]["matchLabels"]
    labels = spec["template"]["metadata"]["labels"]
    expect(all(labels.get(k) == v for k, v in selector.items()), "pod labels miss the selector")

    services = {s["metadata"]["name"]: s for s in by_kind(objects, "Service")}
    headless = services.get(spec["serviceName"])
    expect(headless is not None and headless["spec"].get("clusterIP") == "None",
           f"no headless Service {spec['serviceName']}")
    metrics = [s for s in services.values() if any(p["name"] == "metrics" for p in s["spec"]["ports"])]
    expect(len(metrics) == 1, "no Service with a port named metrics")
    expect(metrics[0]["spec"]["selector"] == selector, "metrics Service selector")
    pdb = one(objects, "PodDisruptionBudget")
    expect(pdb["spec"].get("maxUnavailable") == 1 and pdb["spec"]["selector"]["matchLabels"] == selector,
           f"PodDisruptionBudget {pdb['spec']}")

    monitors = by_kind(objects, "ServiceMonitor")
    expect(len(monitors) == (1 if values["metrics"]["serviceMonitor"]["enabled"] else 0), "ServiceMonitor")
    for sm in monitors:
        match = sm["spec"]["selector"]["matchLabels"]
        expect(all(metrics[0]["metadata"]["labels"].get(k) == v for k, v in match.items()),
               "ServiceMonitor does not select the metrics Service")
        expect(sm["spec"]["endpoints"][0]["port"] == "metrics", "ServiceMonitor port")

    pod = one(objects, "StatefulSet")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    image = values["image"]
    want_image = (f"{image['repository']}@{image['digest']}" if image["digest"]
                  else f"{image['repository']}:{image['tag'] or 'APP'}")
    expect(container["image"] == want_image or (not image["digest"] and not image["tag"]),
           f"image {container['image']}")
    expect(container["startupProbe"]["httpGet"]["path"] == "/readyz", "startupProbe")
    expect(container.get("envFrom", []) == values["envFrom"], "envFrom")
    for v in values["extraVolumes"]:
        expect(v in pod["volumes"], f"extra volume {v['name']}")
    for m in values["extraVolumeMounts"]:
        expect(m in container["volumeMounts"], f"extra volume mount {m['name']}")
    sa = values["serviceAccount"]
    accounts = by_kind(objects, "ServiceAccount")
    expect(len(accounts) == (1 if sa["create"] else 0), "ServiceAccount")
    if sa["create"]:
        expect(pod["serviceAccountName"] == accounts[0]["metadata"]["name"], "serviceAccountName")
        expect(accounts[0].get("automountServiceAccountToken") is False, "SA token automount")
    policies = by_kind(objects, "NetworkPolicy")
    expect(len(policies) == (1 if values["networkPolicy"]["enabled"] else 0), "NetworkPolicy")
    for np in policies:
        ports = {p["port"] for rule in np["spec"]["egress"] for p in rule.get("ports", [])}
        expect(set(values["networkPolicy"]["brokerPorts"]) | {53, 443} <= ports, f"egress ports {ports}")
        expect(np["spec"]["ingress"][0]["ports"][0]["port"] == values["admin"]["port"], "ingress port")

    board_values = values["metrics"]["grafanaDashboard"]
    boards = [o for o in by_kind(objects, "ConfigMap") if o["metadata"]["name"].endswith("-dashboard")]
    expect(len(boards) == (1 if board_values["enabled"] else 0), "dashboard ConfigMap")
    for board in boards:
        label = board["metadata"]["labels"].get(board_values["sidecarLabel"])
        expect(label == board_values["sidecarLabelValue"], f"dashboard sidecar label {label!r}")
        shipped = json.loads((CHART / "files" / "grafana-dashboard.json").read_text())
        expect(json.loads(board["data"]["scriptsync.json"]) == shipped, "dashboard JSON")
        if board_values["namespace"]:
            expect(board["metadata"]["namespace"] == board_values["namespace"], "dashboard namespace")

    rule_values = values["metrics"]["prometheusRule"]
    rule_objects = by_kind(objects, "PrometheusRule")
    expect(len(rule_objects) == (1 if rule_values["enabled"] else 0), "PrometheusRule")
    if rule_objects:
        import yaml

        source = yaml.safe_load((CHART / "files" / "prometheus-rules.yaml").read_text())
        want = [r["alert"] for g in source["groups"] for r in g["rules"]
                if r["alert"] not in rule_values["disabledAlerts"]]
        got = [r for g in rule_objects[0]["spec"]["groups"] for r in g["rules"]]
        expect([r["alert"] for r in got] == want, f"PrometheusRule alerts {[r['alert'] for r in got]}")
        base = rule_values["runbookBaseUrl"].rstrip("/")
        for r in got:
            url = r["annotations"]["runbook_url"]
            expect(url.startswith(f"{base}/docs/operations.md#" if base else "docs/operations.md#"),
                   f"{r['alert']} runbook_url {url}")
            expect(all(r["labels"].get(k) == v for k, v in rule_values["additionalLabels"].items()),
                   f"{r['alert']} lacks the additional labels")

    jobs = by_kind(objects, "Job")
    expect(len(jobs) == (1 if values["dlqReplay"]["enabled"] else 0), "DLQ replay Job")
    for job in jobs:
        jpod = job["spec"]["template"]["spec"]
        args = ["dlq", "--config", CONFIG_PATH, "replay"]
        check_pod(jpod, "Job", config, args)
        expect(jpod["containers"][0]["args"][len(args):] == ["--no-progress", *values["dlqReplay"]["args"]],
               f"Job args {jpod['containers'][0]['args']}")
        expect(jpod["restartPolicy"] == "Never", "Job restartPolicy")
        jlabels = job["spec"]["template"]["metadata"]["labels"]
        expect(not all(jlabels.get(k) == v for k, v in selector.items()),
               "the Job's pods match the StatefulSet selector")
    return text, config


# ---- the binary -------------------------------------------------------------------------------


def check_tenant_secrets(tmp: Path, defaults: dict) -> None:
    """Tenants only from one Secret: mounted whole (no subPath, so the kubelet updates it in
    place) at tenants_dir, which the config names; no [[tenants]] needed."""
    over = {"tenants": [], "tenantSecrets": {"secretName": "scriptsync-tenants"}}
    objects, _, _ = render(over, tmp)
    validate_objects(objects)
    config = tomllib.loads(config_map(objects)["data"]["config.toml"])
    mount_path = defaults["tenantSecrets"]["mountPath"]
    expect(config.get("tenants_dir") == mount_path and "tenants" not in config,
           f"tenant Secret: tenants_dir {config.get('tenants_dir')!r}, tenants {config.get('tenants')!r}")
    pod = one(objects, "StatefulSet")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mounts = [m for m in container["volumeMounts"] if m["mountPath"] == mount_path]
    expect(len(mounts) == 1 and "subPath" not in mounts[0] and mounts[0].get("readOnly") is True,
           f"tenant Secret mounts: {mounts}")
    volume = next(v for v in pod["volumes"] if v["name"] == mounts[0]["name"])
    expect(volume.get("secret", {}).get("secretName") == "scriptsync-tenants", f"volume {volume}")
    log("tenants from one Secret: mounted whole at tenants_dir, no [[tenants]]: ok")


def write_ca(path: Path) -> None:
    """A fresh self-signed CA certificate (as a private CA would be), else the system bundle."""
    key = path.with_suffix(".key")
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", str(key), "-out", str(path), "-days", "2",
             "-subj", "/CN=scriptsync-ci-ca", "-addext", "basicConstraints=critical,CA:TRUE"],
            check=True, capture_output=True, timeout=30)
        key.unlink()
    except (OSError, subprocess.SubprocessError):
        import ssl
        shutil.copy(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt", path)


def check_config_with_binary(name: str, config_text: str, config: dict, root: Path) -> None:
    for key, file in config_files(config):
        path = Path(file)
        expect(root in path.parents, f"{key} = {file} is outside the CI mount root {root}")
        path.parent.mkdir(parents=True, exist_ok=True)
        if key.endswith("ca_file"):
            write_ca(path)
        else:
            path.write_text(f"ci-dummy-{key}\n")
    config_file = root / f"{name}.toml"
    config_file.write_text(config_text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRIPTSYNC")}
    t0 = time.monotonic()
    proc = subprocess.run(
        ["cargo", "run", "--quiet", "--bin", "scriptsync", "--", "check-config", "--config", str(config_file)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise CheckFailed(f"scriptsync check-config on the {name} ConfigMap failed "
                          f"(exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    first = (proc.stdout.splitlines() or [""])[0]
    expect("valid" in first, f"check-config said: {first}")
    files = len(config_files(config))
    log(f"{name}: scriptsync check-config: exit 0 ({first.split(': ', 1)[-1]}; {files} mounted "
        f"files written; {time.monotonic() - t0:.1f} s with cargo run)")


# ---- main ---------------------------------------------------------------------------------------


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def main() -> int:
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="scriptsync-helm-check-"))
    try:
        # Helm's cache/config/data dirs, and no kubeconfig of the machine, before the library loads.
        for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            os.environ[var] = str(tmp / "helm" / var.lower())
        os.environ["KUBECONFIG"] = "/dev/null"
        ensure_packages()
        import yaml

        lint(tmp)
        defaults = yaml.safe_load((CHART / "values.yaml").read_text())
        full = yaml.safe_load(FULL_VALUES.read_text())
        checksums = set()
        for name, override in (("defaults", {}), ("full-values", full)):
            values = deep_merge(defaults, override)
            objects, release, _ = render(override, tmp)
            kinds = ", ".join(sorted(f"{o['kind']}" for o in objects))
            validate_objects(objects)
            text, config = check_chart(objects, values)
            sts = one(objects, "StatefulSet")
            checksums.add(sts["spec"]["template"]["metadata"]["annotations"]["checksum/config"])
            expect(bool((release.get("info") or {}).get("notes")), f"{name}: NOTES.txt is empty")
            log(f"{name}: rendered {len(objects)} objects ({kinds}); all valid against "
                f"Kubernetes {K8S_VERSION} (strict); chart checks ok")
            # Again with the mounts under a temp dir, for the binary.
            root = tmp / name
            moved = {**override, "secretsMountPath": str(root / "secrets"), "caMountPath": str(root / "ca"),
                     "tenantSecrets": {**values["tenantSecrets"], "mountPath": str(root / "tenants")}}
            (root / "tenants").mkdir(parents=True, exist_ok=True)
            objects2, _, _ = render(moved, tmp)
            text2, config2 = check_chart(objects2, deep_merge(values, moved))
            check_config_with_binary(name, text2, config2, root)
        expect(len(checksums) == 2, "checksum/config is the same for two different configs")

        bad_tenant = {"tenants": [{"id": "acme", "genesys": {
            "region": "mypurecloud.com", "clientId": "x", "clientSecret": "inline-secret",
            "clientSecretRef": {"name": "s", "key": "k"}, "datatableId": "d"}}]}
        render_must_fail("an inline tenant secret (schema: unknown key)", bad_tenant, tmp,
                         "additional properties 'clientSecret' not allowed")
        render_must_fail("a broker URL with a password (schema)",
                         {"broker": {"url": "amqp://u:secret@rabbitmq:5672/%2f"}}, tmp,
                         "at '/broker/url'")
        render_must_fail("terminationGracePeriodSeconds at the drain timeout (template)",
                         {"shutdown": {"drainTimeoutSeconds": 30}, "terminationGracePeriodSeconds": 30},
                         tmp, "must be above")
        render_must_fail("no tenants (schema)", {"tenants": []}, tmp, "anyOf")
        render_must_fail("both tenant Secret forms (schema)",
                         {"tenantSecrets": {"secretName": "all", "secretNames": ["one"]}}, tmp, "not")
        check_tenant_secrets(tmp, defaults)
        render_must_fail("a duplicate tenant id (template)",
                         {"tenants": [defaults["tenants"][0], defaults["tenants"][0]]}, tmp, "appears twice")
        log(f"all checks passed in {time.monotonic() - started:.1f} s")
        return 0
    except CheckFailed as e:
        log(f"FAILED: {e}")
        return 1
    except Exception as e:  # helm errors, missing packages, ...
        log(f"FAILED: {type(e).__name__}: {e}")
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
