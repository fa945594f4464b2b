#!/usr/bin/env python3
"""Offline structural checks for the files in deploy/. Run by deploy/lint.sh; needs PyYAML.

    python3 deploy/lint_checks.py [compose|k8s|dockerfile ...]

Prints one line per finding ("error: ..." / "warn: ...") and exits 1 if there was an error.
These are the checks a schema validator or hadolint cannot make (or cannot make offline): that
the files agree with each other and with the application (entry points, variable names,
probe paths, shutdown timing), plus a hadolint-like subset for the Dockerfile.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"

ENTRY_API = ["node", "--import", "tsx", "apps/api/src/main.ts"]
ENTRY_WORKER = ["node", "--import", "tsx", "apps/worker/src/main.ts"]
ENTRY_MIGRATE = ["node", "--import", "tsx", "packages/db/src/cli.ts", "up"]

errors: list[str] = []
warnings: list[str] = []


def error(where: str, msg: str) -> None:
    errors.append(f"{where}: {msg}")


def warn(where: str, msg: str) -> None:
    warnings.append(f"{where}: {msg}")


def rel(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


# --------------------------------------------------------------------------------------------
# What the application reads (packages/config/src/index.ts), so a misspelt variable is caught.

def app_variables() -> tuple[set[str], set[str]] | None:
    """(every variable the config schema reads, the ones required when NODE_ENV=production)."""
    src_file = ROOT / "packages/config/src/index.ts"
    try:
        src = src_file.read_text()
    except OSError:
        warn(rel(src_file), "not readable; variable-name checks skipped")
        return None
    m = re.search(r"const envSchema = z\.object\(\{(.*?)\n\}\);", src, re.S)
    secrets = re.search(r"SECRET_VARIABLES = \[(.*?)\]", src, re.S)
    required = re.search(r"PRODUCTION_REQUIRED = \[(.*?)\]", src, re.S)
    if not (m and secrets and required):
        warn(rel(src_file), "config schema not recognised; variable-name checks skipped")
        return None
    known = set(re.findall(r"^\s{2}([A-Z][A-Z0-9_]*):", m.group(1), re.M))
    req = set(re.findall(r"'([A-Z][A-Z0-9_]*)'", secrets.group(1))) | set(
        re.findall(r"'([A-Z][A-Z0-9_]*)'", required.group(1))
    )
    if not known or not req:
        warn(rel(src_file), "config schema not recognised; variable-name checks skipped")
        return None
    return known, req


def check_entry_files(where: str, command: list[str]) -> None:
    for arg in command:
        if arg.endswith(".ts") and not (ROOT / arg).is_file():
            error(where, f"command runs {arg}, which does not exist in the repository")


def load_yaml_docs(path: Path) -> list | None:
    try:
        with path.open() as fh:
            return [d for d in yaml.safe_load_all(fh) if d is not None]
    except (OSError, yaml.YAMLError) as exc:
        error(rel(path), f"YAML does not parse: {exc}")
        return None


def image_tag_problem(image: str) -> str | None:
    if "${" in image:
        return None
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if "@" in image:
        return None
    if ":" not in last:
        return "has no tag (means :latest)"
    if last.endswith(":latest"):
        return "uses :latest"
    return None


# --------------------------------------------------------------------------------------------
# compose.yaml

INTERP = re.compile(r"\$(\$|\{[A-Za-z_][A-Za-z0-9_]*((:?[-?+])[^}]*)?\}|[A-Za-z_][A-Za-z0-9_]*)")
COMPOSE_REQUIRED_EXTRA = {"POSTGRES_PASSWORD"}
DEPENDS_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def interpolate(value: str) -> str:
    """Compose-style defaults only (enough to read image tags); required vars become 'X'."""
    def sub(m: re.Match) -> str:
        tok = m.group(0)
        if tok == "$$":
            return "$"
        body = tok[2:-1] if tok.startswith("${") else tok[1:]
        mm = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(?::?([-?+])(.*))?$", body, re.S)
        if not mm:
            return tok
        name, op, arg = mm.groups()
        if name in os.environ and os.environ[name] != "":
            return os.environ[name]
        return arg if op == "-" else "X"
    return INTERP.sub(sub, value)


def check_compose() -> None:
    path = DEPLOY / "compose.yaml"
    where = rel(path)
    if not path.is_file():
        error(where, "missing")
        return
    text = path.read_text()

    # Interpolation syntax: every $ is $$, $NAME, ${NAME} or ${NAME<op>...}.
    for lineno, line in enumerate(text.splitlines(), 1):
        code = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        pos = 0
        while True:
            i = code.find("$", pos)
            if i < 0:
                break
            m = INTERP.match(code, i)
            if not m:
                error(f"{where}:{lineno}", f"bad variable interpolation near {code[i:i + 30]!r}")
                break
            pos = m.end()

    docs = load_yaml_docs(path)
    if docs is None:
        return
    if len(docs) != 1 or not isinstance(docs[0], dict):
        error(where, "must be a single YAML mapping")
        return
    doc = docs[0]
    services = doc.get("services")
    if not isinstance(services, dict) or not services:
        error(where, "no services")
        return
    for name in ("postgres", "temporal", "migrate", "api", "worker"):
        if name not in services:
            error(where, f"service {name!r} is missing")
    declared_volumes = set((doc.get("volumes") or {}).keys())

    def healthcheck_enabled(svc: dict) -> bool:
        hc = svc.get("healthcheck")
        if not isinstance(hc, dict) or hc.get("disable") is True:
            return False
        test = hc.get("test")
        return bool(test) and test != ["NONE"]

    for sname, svc in services.items():
        sw = f"{where}: services.{sname}"
        if not isinstance(svc, dict):
            error(sw, "not a mapping")
            continue
        image = svc.get("image")
        if not image and not svc.get("build"):
            error(sw, "has neither image nor build")
        if isinstance(image, str):
            problem = image_tag_problem(interpolate(image))
            if problem:
                error(sw, f"image {image!r} {problem}")
        restart = str(svc.get("restart", "no"))
        if not re.match(r"^(no|always|unless-stopped|on-failure(:\d+)?)$", restart):
            error(sw, f"restart {restart!r} is not one of no, always, on-failure[:N], unless-stopped")
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {"condition": "service_started"} for d in deps}
        for dep, spec in deps.items():
            if dep not in services:
                error(sw, f"depends_on unknown service {dep!r}")
                continue
            cond = (spec or {}).get("condition", "service_started")
            if cond not in DEPENDS_CONDITIONS:
                error(sw, f"depends_on {dep}: unknown condition {cond!r}")
            if cond == "service_healthy" and not healthcheck_enabled(services[dep]):
                error(sw, f"waits for {dep} to be healthy, but {dep} has no enabled healthcheck")
            if cond == "service_started" and str(services[dep].get("restart", "no")) == "no" and not healthcheck_enabled(services[dep]):
                error(sw, f"{dep} is a one-shot: wait for it with condition service_completed_successfully")
            if cond == "service_completed_successfully" and services[dep].get("restart", "no") not in ("no", '"no"'):
                error(sw, f"waits for {dep} to complete, but {dep} has restart: {services[dep].get('restart')}")
        for vol in svc.get("volumes") or []:
            src = vol.split(":", 1)[0] if isinstance(vol, str) else (vol or {}).get("source")
            if src and not src.startswith((".", "/", "~", "$")) and src not in declared_volumes:
                error(sw, f"named volume {src!r} is not declared under top-level volumes")
        cmd = svc.get("command")
        if isinstance(cmd, str):
            cmd = shlex.split(cmd)
        if isinstance(cmd, list):
            check_entry_files(sw, [str(c) for c in cmd])
        build = svc.get("build")
        if isinstance(build, dict):
            ctx = (path.parent / build.get("context", ".")).resolve()
            df = ctx / build.get("dockerfile", "Dockerfile")
            if not df.is_file():
                error(sw, f"build.dockerfile {rel(df)} does not exist")
        elif isinstance(build, str):
            if not ((path.parent / build).resolve() / "Dockerfile").is_file():
                error(sw, f"build context {build} has no Dockerfile")

    expect = {"api": ENTRY_API, "worker": ENTRY_WORKER, "migrate": ENTRY_MIGRATE}
    for sname, entry in expect.items():
        svc = services.get(sname)
        if isinstance(svc, dict) and svc.get("command") is not None and svc.get("command") != entry:
            error(f"{where}: services.{sname}", f"command should be {entry}")

    app_like = [services.get(n) for n in ("api", "worker", "migrate") if isinstance(services.get(n), dict)]
    if len({json.dumps([s.get("image"), s.get("build")], sort_keys=True) for s in app_like}) > 1:
        error(where, "api, worker and migrate must use the same image and build")

    migrate = services.get("migrate") or {}
    if str(migrate.get("restart", "no")) != "no":
        error(f"{where}: services.migrate", "a one-shot must have restart: \"no\"")
    for sname in ("api", "worker"):
        dep = ((services.get(sname) or {}).get("depends_on") or {})
        if not isinstance(dep, dict) or (dep.get("migrate") or {}).get("condition") != "service_completed_successfully":
            error(f"{where}: services.{sname}", "must depend on migrate with condition service_completed_successfully")
    if (migrate.get("depends_on") or {}).get("postgres", {}).get("condition") != "service_healthy":
        error(f"{where}: services.migrate", "must wait for postgres to be healthy")
    pg = services.get("postgres") or {}
    if not re.match(r"^(docker\.io/)?(library/)?postgres:16([.-]|$)", str(pg.get("image", ""))):
        error(f"{where}: services.postgres", "image must be postgres 16 (postgres:16...)")
    for sname in ("postgres", "temporal", "api"):
        if sname in services and not healthcheck_enabled(services[sname]):
            error(f"{where}: services.{sname}", "needs a healthcheck")
    api_hc = ((services.get("api") or {}).get("healthcheck") or {}).get("test")
    if api_hc and "/health" not in json.dumps(api_hc):
        error(f"{where}: services.api", "healthcheck should call /health")

    # Required secrets: referenced, and only ever as ${VAR:?message} (no default, no literal).
    vars_info = app_variables()
    required = (vars_info[1] if vars_info else set()) | COMPOSE_REQUIRED_EXTRA
    refs: dict[str, list[str]] = {}
    for m in INTERP.finditer(text):
        tok = m.group(0)
        if tok.startswith("${"):
            name = re.match(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", tok).group(1)
            refs.setdefault(name, []).append(tok)
    secretish = required - {"DATABASE_URL", "TEMPORAL_ADDRESS"}
    for name in sorted(secretish):
        toks = refs.get(name, [])
        if not toks:
            error(where, f"required variable {name} is never referenced")
        for tok in toks:
            if not re.match(r"\$\{" + name + r":\?.+\}$", tok, re.S):
                error(where, f"{name} must be referenced as ${{{name}:?message}}, found {tok}")

    if vars_info:
        known, req = vars_info
        for sname in ("api", "worker"):
            env = (services.get(sname) or {}).get("environment")
            if isinstance(env, list):
                env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
            if not isinstance(env, dict):
                error(f"{where}: services.{sname}", "environment must be set")
                continue
            for key in env:
                if key not in known:
                    error(f"{where}: services.{sname}", f"environment variable {key} is not read by packages/config")
            for key in sorted(req - set(env)):
                error(f"{where}: services.{sname}", f"required variable {key} is not passed")
            for key, val in env.items():
                if key in req - {"DATABASE_URL", "TEMPORAL_ADDRESS", "META_APP_ID"} and not (isinstance(val, str) and val.startswith("${")):
                    error(f"{where}: services.{sname}", f"secret {key} must come from the environment, not a literal")
            if str(env.get("ALLOW_INSECURE_WEBHOOKS", "false")).lower() in ("true", "1", "yes"):
                error(f"{where}: services.{sname}", "ALLOW_INSECURE_WEBHOOKS must not be enabled")
            if str(env.get("NODE_ENV")) != "production":
                error(f"{where}: services.{sname}", "NODE_ENV must be production")


# --------------------------------------------------------------------------------------------
# Kubernetes manifests

API_VERSIONS = {
    "Deployment": "apps/v1",
    "Service": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Job": "batch/v1",
    "PodDisruptionBudget": "policy/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "Kustomization": "kustomize.config.k8s.io/v1beta1",
}
POD_SPEC_KEYS = {
    "containers", "initContainers", "volumes", "restartPolicy", "terminationGracePeriodSeconds",
    "activeDeadlineSeconds", "dnsPolicy", "nodeSelector", "serviceAccountName", "automountServiceAccountToken",
    "securityContext", "imagePullSecrets", "affinity", "tolerations", "topologySpreadConstraints",
    "priorityClassName", "enableServiceLinks", "hostAliases", "shareProcessNamespace", "runtimeClassName",
}
CONTAINER_KEYS = {
    "name", "image", "imagePullPolicy", "command", "args", "workingDir", "ports", "env", "envFrom",
    "resources", "volumeMounts", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
    "securityContext", "terminationMessagePath", "terminationMessagePolicy", "stdin", "tty", "restartPolicy",
}
PROBE_KEYS = {
    "httpGet", "tcpSocket", "exec", "grpc", "initialDelaySeconds", "periodSeconds", "timeoutSeconds",
    "successThreshold", "failureThreshold", "terminationGracePeriodSeconds",
}


def check_k8s() -> None:
    if not K8S.is_dir():
        error(rel(K8S), "missing")
        return
    files = sorted(list(K8S.glob("*.yaml")) + list(K8S.glob("*.yml")))
    if not files:
        error(rel(K8S), "no manifests")
        return
    objects: list[tuple[Path, dict]] = []
    for f in files:
        docs = load_yaml_docs(f)
        if docs is None:
            continue
        for i, d in enumerate(docs):
            w = f"{rel(f)}[{i}]"
            if not isinstance(d, dict):
                error(w, "document is not a mapping")
                continue
            kind, api = d.get("kind"), d.get("apiVersion")
            if not kind or not api:
                error(w, "apiVersion and kind are required")
                continue
            if kind in API_VERSIONS and api != API_VERSIONS[kind]:
                error(w, f"{kind} should be apiVersion {API_VERSIONS[kind]}, not {api}")
            elif kind not in API_VERSIONS:
                warn(w, f"kind {kind} is not checked by this linter")
            if kind != "Kustomization" and not ((d.get("metadata") or {}).get("name")):
                error(w, "metadata.name is required")
            objects.append((f, d))

    by_kind: dict[str, list[tuple[Path, dict]]] = {}
    for f, d in objects:
        by_kind.setdefault(d["kind"], []).append((f, d))
    names = lambda kind: {(d.get("metadata") or {}).get("name") for _, d in by_kind.get(kind, [])}

    # ConfigMaps: values must be strings (an unquoted 3000 or true is rejected by the API server).
    config_keys: set[str] = set()
    for f, d in by_kind.get("ConfigMap", []):
        for k, v in (d.get("data") or {}).items():
            config_keys.add(k)
            if not isinstance(v, str):
                error(rel(f), f"ConfigMap {d['metadata']['name']}: data.{k} must be a string (quote it)")
    secret_keys: dict[str, set[str]] = {}
    for f, d in by_kind.get("Secret", []):
        name = d["metadata"]["name"]
        data = {**(d.get("data") or {}), **(d.get("stringData") or {})}
        secret_keys[name] = set(data)
        if "template" in f.name:
            for k, v in data.items():
                if v not in ("", None):
                    error(rel(f), f"Secret template must not carry values: {k} is set")
        else:
            error(rel(f), "a Secret with values must not be committed; keep only secret.template.yaml")

    vars_info = app_variables()
    if vars_info:
        known, req = vars_info
        for k in sorted((config_keys | set().union(*secret_keys.values())) - known):
            error(rel(K8S), f"variable {k} (ConfigMap/Secret) is not read by packages/config")
        for k in sorted(req - config_keys - set().union(*secret_keys.values())):
            error(rel(K8S), f"required variable {k} is in neither the ConfigMap nor the Secret template")
        secret_names = {"META_APP_SECRET", "META_VERIFY_TOKEN", "PLATFORM_ADMIN_TOKEN", "ENCRYPTION_KEY", "ENCRYPTION_KEYS_PREVIOUS", "JWT_SECRET", "OPENAI_API_KEY", "DATABASE_URL"}
        for k in sorted(config_keys & secret_names):
            error(rel(K8S), f"{k} is a secret and belongs in the Secret, not the ConfigMap")
    cm_values = {}
    for _, d in by_kind.get("ConfigMap", []):
        cm_values.update(d.get("data") or {})
    if cm_values.get("ALLOW_INSECURE_WEBHOOKS", "false").lower() in ("true", "1", "yes"):
        error(rel(K8S), "ALLOW_INSECURE_WEBHOOKS must not be enabled")
    if cm_values.get("NODE_ENV") != "production":
        error(rel(K8S), "ConfigMap must set NODE_ENV=production")

    images: set[str] = set()
    workloads: dict[str, tuple[Path, dict, dict]] = {}  # name -> (file, object, pod spec)
    for kind in ("Deployment", "Job"):
        for f, d in by_kind.get(kind, []):
            name = d["metadata"]["name"]
            w = f"{rel(f)}: {kind} {name}"
            spec = d.get("spec") or {}
            tmpl = spec.get("template") or {}
            pod = tmpl.get("spec") or {}
            workloads[name] = (f, d, pod)
            if kind == "Deployment":
                sel = (spec.get("selector") or {}).get("matchLabels") or {}
                labels = (tmpl.get("metadata") or {}).get("labels") or {}
                if not sel:
                    error(w, "spec.selector.matchLabels is required")
                for k, v in sel.items():
                    if labels.get(k) != v:
                        error(w, f"selector {k}={v} does not match the pod template labels")
            else:
                if pod.get("restartPolicy") not in ("Never", "OnFailure"):
                    error(w, "a Job's restartPolicy must be Never or OnFailure")
            for k in pod:
                if k not in POD_SPEC_KEYS:
                    error(w, f"unknown pod spec field {k!r}")
            sc = pod.get("securityContext") or {}
            if sc.get("runAsNonRoot") is not True:
                error(w, "pod securityContext.runAsNonRoot must be true")
            if sc.get("runAsUser") in (0, None):
                warn(w, "runAsUser not set; relying on the image's numeric USER")
            containers = pod.get("containers") or []
            if not containers:
                error(w, "no containers")
            vol_names = {v.get("name") for v in pod.get("volumes") or []}
            for c in containers:
                cw = f"{w}: container {c.get('name')}"
                for k in c:
                    if k not in CONTAINER_KEYS:
                        error(cw, f"unknown container field {k!r}")
                if not c.get("name") or not c.get("image"):
                    error(cw, "name and image are required")
                    continue
                problem = image_tag_problem(c["image"])
                if problem:
                    error(cw, f"image {c['image']} {problem}")
                images.add(c["image"].split("@")[0].rsplit(":", 1)[0])
                check_entry_files(cw, [str(a) for a in (c.get("command") or []) + (c.get("args") or [])])
                port_names = {p.get("name") for p in c.get("ports") or []}
                port_nums = {p.get("containerPort") for p in c.get("ports") or []}
                for pname in ("livenessProbe", "readinessProbe", "startupProbe"):
                    probe = c.get(pname)
                    if probe is None:
                        continue
                    for k in probe:
                        if k not in PROBE_KEYS:
                            error(cw, f"{pname}: unknown field {k!r}")
                    port = (probe.get("httpGet") or {}).get("port")
                    if port is not None and port not in port_names and port not in port_nums:
                        error(cw, f"{pname} uses port {port!r}, which the container does not declare")
                for ef in c.get("envFrom") or []:
                    if "configMapRef" in ef and ef["configMapRef"].get("name") not in names("ConfigMap"):
                        error(cw, f"envFrom ConfigMap {ef['configMapRef'].get('name')} is not defined")
                    if "secretRef" in ef and ef["secretRef"].get("name") not in names("Secret"):
                        error(cw, f"envFrom Secret {ef['secretRef'].get('name')} is not defined (template)")
                for e in c.get("env") or []:
                    ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                    if ref and ref.get("key") not in secret_keys.get(ref.get("name"), set()):
                        error(cw, f"env {e.get('name')}: Secret {ref.get('name')} has no key {ref.get('key')}")
                for vm in c.get("volumeMounts") or []:
                    if vm.get("name") not in vol_names:
                        error(cw, f"volumeMount {vm.get('name')} has no matching volume")
                csc = c.get("securityContext") or {}
                if csc.get("allowPrivilegeEscalation") is not False:
                    error(cw, "securityContext.allowPrivilegeEscalation must be false")
                if csc.get("readOnlyRootFilesystem") is True and "/tmp" not in {vm.get("mountPath") for vm in c.get("volumeMounts") or []}:
                    error(cw, "read-only root filesystem needs a writable /tmp (tsx cache)")
                runs_worker = ENTRY_WORKER[-1] in (c.get("command") or []) + (c.get("args") or [])
                swc_env = {e.get("name") for e in c.get("env") or []} & {"SWC_NATIVE_BINDING_CACHE", "HOME", "XDG_CACHE_HOME"}
                if runs_worker and csc.get("readOnlyRootFilesystem") is True and not swc_env:
                    error(cw, "the worker cannot run with a read-only root filesystem as is: @swc/core "
                              "(workflow bundling) must write its native addon under $HOME/.cache")
                if not (c.get("resources") or {}).get("requests"):
                    warn(cw, "no resource requests")
    if len(images) > 1:
        error(rel(K8S), f"workloads use different images: {sorted(images)}")

    def container_of(name: str) -> tuple[str, dict, dict] | None:
        if name not in workloads:
            error(rel(K8S), f"workload {name} is missing")
            return None
        f, d, pod = workloads[name]
        cs = pod.get("containers") or [{}]
        return f"{rel(f)}: {d['kind']} {name}", cs[0], pod

    api = container_of("parley-api")
    if api:
        w, c, pod = api
        if c.get("command") != ENTRY_API:
            error(w, f"command should be {ENTRY_API}")
        if ((c.get("readinessProbe") or {}).get("httpGet") or {}).get("path") != "/ready":
            error(w, "readinessProbe must be GET /ready")
        if ((c.get("livenessProbe") or {}).get("httpGet") or {}).get("path") != "/health":
            error(w, "livenessProbe must be GET /health (never /ready: an outage must not restart pods)")
        pre = ((c.get("lifecycle") or {}).get("preStop") or {})
        sleep_s = 0
        if "exec" in pre:
            cmd = pre["exec"].get("command") or []
            if len(cmd) == 2 and cmd[0] == "sleep" and str(cmd[1]).isdigit():
                sleep_s = int(cmd[1])
        elif "sleep" in pre:
            sleep_s = int((pre["sleep"] or {}).get("seconds", 0))
        if not pre:
            error(w, "needs a preStop hook so endpoints are removed before SIGTERM")
        tgps = pod.get("terminationGracePeriodSeconds")
        grace_ms = int(cm_values.get("SHUTDOWN_GRACE_MS", "10000") or 10000)
        need = sleep_s + grace_ms / 1000 + 5
        if not isinstance(tgps, int):
            error(w, "terminationGracePeriodSeconds must be set")
        elif tgps < need:
            error(w, f"terminationGracePeriodSeconds {tgps} < preStop {sleep_s}s + SHUTDOWN_GRACE_MS {grace_ms / 1000:g}s + 5s")
        api_labels = ((workloads["parley-api"][1].get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels", {})
        services = [d for _, d in by_kind.get("Service", [])]
        matching = [s for s in services if all(api_labels.get(k) == v for k, v in ((s.get("spec") or {}).get("selector") or {}).items()) and (s.get("spec") or {}).get("selector")]
        if not matching:
            error(w, "no Service selects the API pods")
        port_names = {p.get("name") for p in c.get("ports") or []} | {p.get("containerPort") for p in c.get("ports") or []}
        for s in matching:
            for p in (s.get("spec") or {}).get("ports") or []:
                if p.get("targetPort", p.get("port")) not in port_names:
                    error(f"Service {s['metadata']['name']}", f"targetPort {p.get('targetPort')} is not a port of the API container")
    worker = container_of("parley-worker")
    if worker:
        w, c, pod = worker
        if c.get("command") != ENTRY_WORKER:
            error(w, f"command should be {ENTRY_WORKER}")
        if not isinstance(pod.get("terminationGracePeriodSeconds"), int):
            error(w, "terminationGracePeriodSeconds must be set (time for activities to drain)")
    job = container_of("parley-migrate")
    if job:
        w, c, pod = job
        if c.get("command") != ENTRY_MIGRATE:
            error(w, f"command should be {ENTRY_MIGRATE}")

    # Kustomization: resources exist; the Secret template and the Job are not applied with it.
    for f, d in by_kind.get("Kustomization", []):
        for r in d.get("resources") or []:
            if not (f.parent / r).exists():
                error(rel(f), f"resource {r} does not exist")
            if "secret" in r:
                error(rel(f), f"{r} must not be in the kustomization (it would blank the live Secret)")
        for img in d.get("images") or []:
            if img.get("name") and not any(i == img["name"] for i in images):
                error(rel(f), f"images entry {img['name']} matches no workload image")


# --------------------------------------------------------------------------------------------
# Dockerfile (a hadolint-like subset) and its ignore file

INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
    "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER",
}


def parse_dockerfile(text: str) -> list[tuple[int, str, str]]:
    out, buf, start = [], "", 0
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not buf and (not s or s.startswith("#")):
            continue
        if buf and s.startswith("#"):
            continue
        if not buf:
            start = lineno
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        buf += s
        parts = buf.split(None, 1)
        out.append((start, parts[0].upper(), parts[1] if len(parts) > 1 else ""))
        buf = ""
    if buf:
        parts = buf.split(None, 1)
        out.append((start, parts[0].upper(), parts[1] if len(parts) > 1 else ""))
    return out


def check_dockerfile() -> None:
    path = DEPLOY / "Dockerfile"
    where = rel(path)
    if not path.is_file():
        error(where, "missing")
        return
    instrs = parse_dockerfile(path.read_text())
    args: dict[str, str] = {}
    stages: list[dict] = []
    for lineno, ins, rest in instrs:
        w = f"{where}:{lineno}"
        if ins not in INSTRUCTIONS:
            error(w, f"unknown instruction {ins}")
            continue
        if ins == "MAINTAINER":
            error(w, "MAINTAINER is deprecated; use LABEL (DL4000)")
        if ins == "ARG" and not stages:
            k, _, v = rest.partition("=")
            args[k.strip()] = v.strip().strip('"')
            continue
        if ins == "FROM":
            toks = rest.split()
            toks = [t for t in toks if not t.startswith("--platform")]
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), toks[0])
            alias = toks[2] if len(toks) >= 3 and toks[1].upper() == "AS" else None
            if alias and any(s["alias"] == alias for s in stages):
                error(w, f"duplicate stage name {alias} (DL3024)")
            prior = {s["alias"] for s in stages}
            if image not in prior:
                problem = image_tag_problem(image)
                if problem:
                    error(w, f"base image {image} {problem} (DL3006/DL3007)")
                if not re.match(r"^(docker\.io/)?(library/)?node:22(\.\d+)*(-[a-z]+)?-slim(@sha256:[0-9a-f]+)?$", image):
                    error(w, f"base image should be node:22-slim, got {image}")
            stages.append({"alias": alias, "image": image, "lines": []})
            continue
        if not stages:
            error(w, f"{ins} before the first FROM")
            continue
        stages[-1]["lines"].append((lineno, ins, rest))

    if not stages:
        error(where, "no FROM")
        return
    aliases = [s["alias"] for s in stages]
    for si, st in enumerate(stages):
        for lineno, ins, rest in st["lines"]:
            w = f"{where}:{lineno}"
            if ins in ("COPY", "ADD"):
                m = re.search(r"--from=(\S+)", rest)
                if m and m.group(1) not in aliases[:si] and not re.match(r"^\d+$", m.group(1)) and ":" not in m.group(1) and "/" not in m.group(1):
                    error(w, f"COPY --from={m.group(1)} names no earlier stage (DL3022)")
                if ins == "ADD" and not re.search(r"https?://|\.tar", rest):
                    error(w, "use COPY, not ADD, for local files (DL3020)")
                if not m:
                    srcs = [t for t in rest.split() if not t.startswith("--")][:-1]
                    for s in srcs:
                        if not any(ch in s for ch in "*?[") and not (ROOT / s).exists():
                            error(w, f"COPY source {s} does not exist in the build context (repo root)")
            if ins == "RUN":
                if re.search(r"(^|[;&|]\s*)sudo\s", rest):
                    error(w, "do not use sudo (DL3004)")
                if re.search(r"(^|[;&|]\s*)cd\s", rest):
                    warn(w, "use WORKDIR instead of cd (DL3003)")
                if re.search(r"\bapt-get\s+install\b", rest):
                    if "--no-install-recommends" not in rest:
                        error(w, "apt-get install without --no-install-recommends (DL3015)")
                    if not re.search(r"\s-y\b|--yes|--assume-yes", rest):
                        error(w, "apt-get install without -y (DL3014)")
                    if "rm -rf /var/lib/apt/lists" not in rest:
                        error(w, "apt lists not removed in the same RUN (DL3009)")
                if re.search(r"\bnpm\s+(install|i)\b", rest):
                    error(w, "use npm ci against the lockfile, not npm install")
                if re.search(r"\bapt-get\s+upgrade\b|\bapt-get\s+dist-upgrade\b", rest):
                    error(w, "do not upgrade the base image's packages in place (DL3005)")
            if ins == "WORKDIR" and not (rest.startswith("/") or rest.startswith("$")):
                error(w, "WORKDIR must be absolute (DL3000)")
            if ins in ("CMD", "ENTRYPOINT") or (ins == "HEALTHCHECK" and " CMD " in f" {rest} "):
                form = rest if ins != "HEALTHCHECK" else rest.split("CMD", 1)[1].strip()
                if form.startswith("["):
                    try:
                        json.loads(form)
                    except json.JSONDecodeError as exc:
                        error(w, f"{ins} JSON form does not parse: {exc}")
                elif ins != "HEALTHCHECK":
                    error(w, f"{ins} should use the exec (JSON) form so signals reach node (DL3025)")
    all_runs = " ".join(r for s in stages for _, i, r in s["lines"] if i == "RUN")
    if not re.search(r"\bnpm ci\b[^&;]*--omit=dev", all_runs):
        error(where, "expected `npm ci --omit=dev`")

    final = stages[-1]
    users = [r for _, i, r in final["lines"] if i == "USER"]
    if not users:
        error(where, "final stage runs as root: add USER (DL3002)")
    elif users[-1].split(":")[0] in ("root", "0"):
        error(where, "final stage USER is root (DL3002)")
    elif not users[-1].split(":")[0].isdigit():
        warn(where, "a numeric USER lets Kubernetes verify runAsNonRoot")
    hcs = [r for _, i, r in final["lines"] if i == "HEALTHCHECK"]
    if not hcs or "/health" not in hcs[-1]:
        error(where, "final stage needs a HEALTHCHECK against /health")
    cmds = [r for _, i, r in final["lines"] if i == "CMD"]
    try:
        cmd = json.loads(cmds[-1]) if cmds else None
    except json.JSONDecodeError:
        cmd = None
    if cmd != ENTRY_API:
        error(where, f"default CMD should be {json.dumps(ENTRY_API)}")
    if any(i == "ENTRYPOINT" for _, i, _ in final["lines"]):
        warn(where, "an ENTRYPOINT changes how compose/k8s `command` overrides behave")
    check_entry_files(where, ENTRY_API + ENTRY_WORKER + ENTRY_MIGRATE)

    # Ignore file: the build context is the repo root; BuildKit reads deploy/Dockerfile.dockerignore.
    ign = DEPLOY / "Dockerfile.dockerignore"
    if not ign.is_file():
        error(rel(ign), "missing (the build would send node_modules and .git to the daemon)")
        return
    if (DEPLOY / ".dockerignore").exists():
        warn(rel(DEPLOY / ".dockerignore"), "is not read (context is the repo root); use deploy/Dockerfile.dockerignore")
    patterns = [l.strip() for l in ign.read_text().splitlines() if l.strip() and not l.strip().startswith("#")]

    def ignored(p: str) -> bool:
        result = False
        for pat in patterns:
            neg = pat.startswith("!")
            pat = pat[1:] if neg else pat
            pat = pat.lstrip("/")
            candidates = [pat] + ([pat[3:]] if pat.startswith("**/") else [])
            hit = any(fnmatch.fnmatch(p, c) or p.startswith(c.rstrip("/") + "/") for c in candidates)
            hit = hit or (pat.startswith("**/") and any(fnmatch.fnmatch(part, pat[3:]) for part in p.split("/")))
            if hit:
                result = not neg
        return result

    for must in ("node_modules", "apps/api/node_modules", ".git", ".env", ".parley"):
        if not ignored(must):
            error(rel(ign), f"{must} should be ignored")
    needed = ["package.json", "package-lock.json", "tsconfig.json", "migrations/index.ts"]
    needed += [rel(p) for p in (ROOT / "apps").glob("*/package.json")]
    needed += [rel(p) for p in (ROOT / "packages").glob("*/package.json")]
    needed += [a for a in ENTRY_API + ENTRY_WORKER + ENTRY_MIGRATE if a.endswith(".ts")]
    needed += ["workflows/package.json", "workflows/src/index.ts"]
    for must in needed:
        if not ignored(must):
            continue
        error(rel(ign), f"{must} is needed in the image but ignored")


def main(argv: list[str]) -> int:
    which = set(argv) or {"compose", "k8s", "dockerfile"}
    if "compose" in which:
        check_compose()
    if "k8s" in which:
        check_k8s()
    if "dockerfile" in which:
        check_dockerfile()
    for w in warnings:
        print(f"warn: {w}")
    for e in errors:
        print(f"error: {e}")
    print(f"structural checks ({', '.join(sorted(which))}): {len(errors)} error(s), {len(warnings)} warning(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
