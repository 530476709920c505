#!/usr/bin/env python3
"""Static checks of deploy/: the Dockerfile, the Compose file and its
configs, the two Helm charts and the Grafana dashboard.

No container runtime and no helm binary work on the project's machines, so
nothing here builds an image, starts a container or installs a chart. What
it does instead (docs/deployment-containers.md, "What was exercised"):

- parses every YAML file that is not a template (Compose file, Chart.yaml,
  values*.yaml) and every TOML config under deploy/;
- renders the Helm templates itself (scripts/helm_subset.py). The charts
  keep to a small subset of Go templates (values, release and chart fields, include, if/else/end,
  define, toYaml, quote, nindent/indent); anything outside it is reported as
  an error rather than rendered approximately. The rendered manifests are
  YAML-parsed and checked (kinds, one replica, probes, non-root, Secrets,
  NetworkPolicy, the ConfigMap's TOML);
- checks the Dockerfile's stages (Debian bookworm bases, non-root USER,
  HEALTHCHECK on /healthz, EXPOSE = the contract's ports) and, when node is
  available, lints it with dockerfile-utils from npm (installed into
  ~/.cache/cls-check-deploy on first use; skipped with a note if that is
  impossible, e.g. offline, or when CLS_CHECK_DEPLOY_NO_NPM is set);
- checks that the dashboard queries only the contract's metric names.

Config keys are checked against the tables of docs/operations.md plus the
keys the shared contract of issue 12 adds (CONTRACT_KEYS).

Usage: check-deploy.py [REPO_ROOT]. Exit 0 when everything holds, 1 with one
line per problem ("FILE: problem") otherwise. Python 3.11+ and PyYAML
(Debian: python3-yaml) only.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import helm_subset  # noqa: E402  (beside this script)
from helm_subset import TemplateError, merge

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"

# The contract's ports (notes: issue 12 contract, docs/deployment-containers.md).
COORDINATOR_PORTS = {7443, 7444, 9464}
SITE_AGENT_PORTS = {9465, 8443}
COORDINATOR_METRICS_PORT = 9464
SITE_AGENT_METRICS_PORT = 9465

# The Prometheus metric names the dashboard shows. Each must be a name the
# daemons' metric code registers (check_metric_sources below reads it out of
# METRIC_SOURCES), so a renamed metric fails here, not on a blank panel.
HISTOGRAMS = {"cls_round_stage_duration_seconds"}
COORDINATOR_METRICS = {
    "cls_build_info",
    "cls_rounds_total",
    "cls_round_stage_duration_seconds",
    "cls_round_running",
    "cls_round_queue_length",
    "cls_site_bytes_received_total",
    "cls_site_bytes_sent_total",
    "cls_sites_connected",
    "cls_sites_approved",
    "cls_privacy_epsilon_spent",
    "cls_privacy_epsilon_budget",
    "cls_privacy_epsilon_remaining",
    "cls_site_trust_min",
    "cls_model_versions",
    "cls_rollout_percentage",
    "cls_drift_alerts_total",
}
SITE_AGENT_METRICS = {
    "cls_build_info",
    "cls_agent_connected",
    "cls_agent_rounds_total",
    "cls_agent_online_updates_total",
    # The serving families, on the same port when the site serves.
    "cls_predictions_total",
    "cls_outcomes_total",
    "cls_drift_alerts_total",
}
METRIC_SOURCES = [
    "common/metrics.cc",
    "coordinator/monitoring/coordinator_metrics.cc",
    "site-agent/agent_metrics.cc",
    "site-agent/prediction_service.cc",
]
METRICS = COORDINATOR_METRICS | SITE_AGENT_METRICS

# Config keys the contract adds to both daemons (top level), documented by
# the parts of issue 12 that implement them.
CONTRACT_KEYS = {"metrics_listen", "log_format", "log_file", "log_max_size_mb", "log_max_files"}

problems = []


def rel(path):
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def fail(path, message):
    problems.append(f"{rel(path)}: {message}")


def load_yaml(path):
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        fail(path, f"not valid YAML: {e}")
        return None


def load_toml(path):
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        fail(path, f"not valid TOML: {e}")
        return None


def port_of(address):
    """The port of "IP:PORT" / "HOST:PORT" / "[V6]:PORT", or None."""
    m = re.fullmatch(r".*:(\d+)", address or "")
    return int(m.group(1)) if m else None


# ------------------------------------------------------------ config keys


def documented_keys():
    """Dotted config keys of each daemon from docs/operations.md's tables:
    the coordinator's in section 2, the site agent's in section 4."""
    path = ROOT / "docs" / "operations.md"
    text = path.read_text(encoding="utf-8")
    sections = {"coordinator": (r"^## 2\.", r"^## 3\."), "site-agent": (r"^## 4\.", r"^## 5\.")}
    keys = {}
    for daemon, (start, end) in sections.items():
        s = re.search(start, text, re.M)
        e = re.search(end, text, re.M)
        if not s or not e:
            fail(path, f"cannot find the {daemon} key table (sections '{start}'..'{end}')")
            keys[daemon] = set()
            continue
        found = set()
        for line in text[s.start():e.start()].splitlines():
            if not line.startswith("| `"):
                continue
            first_cell = line.split("|")[1]
            section = ""
            for item in re.findall(r"`([^`]+)`", first_cell):
                m = re.fullmatch(r"\[\[?([a-z0-9_.]+)\]?\]\s+([a-z0-9_]+)", item)
                if m:
                    section = m.group(1) + "."
                    found.add(section + m.group(2))
                elif re.fullmatch(r"[a-z0-9_]+", item):
                    found.add(section + item)
        if len(found) < 10:
            fail(path, f"found only {len(found)} {daemon} keys in its table; has the table's format changed?")
        keys[daemon] = found | CONTRACT_KEYS
    return keys


def flat_keys(table, prefix=""):
    """Dotted leaf keys of a TOML document; arrays of tables share a path."""
    out = set()
    for k, v in table.items():
        name = prefix + k
        if isinstance(v, dict):
            out |= flat_keys(v, name + ".")
        elif isinstance(v, list) and v and all(isinstance(i, dict) for i in v):
            for item in v:
                out |= flat_keys(item, name + ".")
        else:
            out.add(name)
    return out


def check_config(path, config, daemon, keys, label=None):
    where = label or path
    for key in sorted(flat_keys(config) - keys[daemon]):
        fail(where, f"key '{key}' is not a documented {daemon} key (docs/operations.md or the contract's {sorted(CONTRACT_KEYS)})")
    metrics = config.get("metrics_listen")
    want = COORDINATOR_METRICS_PORT if daemon == "coordinator" else SITE_AGENT_METRICS_PORT
    if metrics is None or not metrics.startswith("0.0.0.0:") or port_of(metrics) != want:
        fail(where, f"metrics_listen must be \"0.0.0.0:{want}\" in a container (is {metrics!r})")
    if daemon == "coordinator":
        if port_of(config.get("listen")) != 7443:
            fail(where, f"listen must use port 7443 (is {config.get('listen')!r})")
        if port_of(config.get("admin_listen")) != 7444:
            fail(where, f"admin_listen must use port 7444 (is {config.get('admin_listen')!r})")
        if config.get("data_dir") != "/var/lib/cls/coordinator":
            fail(where, f"data_dir must be /var/lib/cls/coordinator (is {config.get('data_dir')!r})")
    else:
        if config.get("data_dir") != "/var/lib/cls/site-agent":
            fail(where, f"data_dir must be /var/lib/cls/site-agent (is {config.get('data_dir')!r})")
    for k, v in config.get("tls", {}).items():
        if not str(v).startswith("/etc/cls/pki/"):
            fail(where, f"tls.{k} must be under /etc/cls/pki/ (is {v!r})")


# ------------------------------------------------------------- Dockerfile


def dockerfile_instructions(path):
    """(line, INSTRUCTION, arguments) with continuations joined."""
    out, buf, start = [], "", 0
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if not buf:
            start = n
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        parts = buf.split(None, 1)
        out.append((start, parts[0].upper(), parts[1] if len(parts) > 1 else ""))
        buf = ""
    return out


def check_dockerfile():
    path = DEPLOY / "docker" / "Dockerfile"
    if not path.exists():
        fail(path, "missing")
        return {}
    stages, current = {}, None
    for line, ins, args in dockerfile_instructions(path):
        if ins == "FROM":
            m = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", args, re.I)
            if not m:
                fail(path, f"line {line}: cannot read FROM {args}")
                continue
            base, name = m.group(1), (m.group(2) or f"stage{len(stages)}")
            if base not in stages and base not in ("debian:bookworm", "debian:bookworm-slim"):
                fail(path, f"line {line}: FROM {base}: the base must be debian:bookworm or debian:bookworm-slim (Debian 12)")
            current = {"base": base, "user": None, "healthcheck": None, "expose": None, "lines": [], "from_line": line}
            stages[name] = current
            continue
        if current is None:
            if ins not in ("ARG",):
                fail(path, f"line {line}: {ins} before the first FROM")
            continue
        current["lines"].append((line, ins, args))
        if ins == "USER":
            current["user"] = (line, args.strip())
        elif ins == "HEALTHCHECK":
            current["healthcheck"] = (line, args)
        elif ins == "EXPOSE":
            current["expose"] = (line, {int(p.split("/")[0]) for p in args.split()})
        elif ins in ("COPY", "ADD"):
            words = [w for w in args.split() if not w.startswith("--")]
            if "--from=" not in args:
                for src in words[:-1]:
                    if src != "." and not (ROOT / src).exists():
                        fail(path, f"line {line}: {ins} source {src} does not exist in the repository")

    def effective(name, field):
        while name in stages:
            value = stages[name][field]
            if value is not None:
                return value
            name = stages[name]["base"]
        return None

    def root_image(name):
        while name in stages:
            name = stages[name]["base"]
        return name

    if not any("make package" in a for s in stages.values() for _, i, a in s["lines"] if i == "RUN"):
        fail(path, "no stage runs 'make package' (the images install the Debian packages it builds)")
    targets = {"coordinator": (COORDINATOR_PORTS, COORDINATOR_METRICS_PORT, "/usr/bin/cls-coordinator"),
               "site-agent": (SITE_AGENT_PORTS, SITE_AGENT_METRICS_PORT, "/usr/bin/cls-site-agent")}
    for target, (ports, metrics_port, binary) in targets.items():
        if target not in stages:
            fail(path, f"no '{target}' target (FROM ... AS {target})")
            continue
        s = stages[target]
        if root_image(target) != "debian:bookworm-slim":
            fail(path, f"target {target}: runtime base is {root_image(target)}, expected debian:bookworm-slim")
        user = effective(target, "user")
        if user is None:
            fail(path, f"target {target}: no USER (it would run as root)")
        elif user[1].split(":")[0] in ("root", "0"):
            fail(path, f"line {user[0]}: target {target} runs as root (USER {user[1]})")
        hc = effective(target, "healthcheck")
        if hc is None:
            fail(path, f"target {target}: no HEALTHCHECK")
        elif "/healthz" not in hc[1] or str(metrics_port) not in hc[1]:
            fail(path, f"line {hc[0]}: target {target}: HEALTHCHECK must probe /healthz on port {metrics_port} (is: {hc[1]})")
        exposed = effective(target, "expose")
        if exposed is None or exposed[1] != ports:
            fail(path, f"target {target}: EXPOSE {sorted(exposed[1]) if exposed else []} differs from the contract's ports {sorted(ports)}")
        entry = [a for _, i, a in s["lines"] if i == "ENTRYPOINT"]
        if not entry or binary not in entry[-1]:
            fail(path, f"target {target}: ENTRYPOINT must run {binary}")
    for script in ("healthcheck.sh", "install-packages.sh", "pki-init.sh"):
        sp = DEPLOY / "docker" / script
        if not sp.exists():
            fail(sp, "missing")
            continue
        r = subprocess.run(["bash", "-n", str(sp)], capture_output=True, text=True)
        if r.returncode != 0:
            fail(sp, f"bash -n: {r.stderr.strip()}")
        if not os.access(sp, os.X_OK):
            fail(sp, "not executable")
    lint_dockerfile(path)
    return stages


def lint_dockerfile(path):
    """dockerfile-utils (npm, MIT; the linter of VS Code's Dockerfile
    language server), installed on first use into a cache folder."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cls-check-deploy"
    tool = cache / "node_modules" / ".bin" / "dockerfile-utils"
    if not tool.exists():
        if os.environ.get("CLS_CHECK_DEPLOY_NO_NPM"):
            print("note: CLS_CHECK_DEPLOY_NO_NPM is set; Dockerfile lint (dockerfile-utils) skipped")
            return
        if not shutil.which("npm") or not shutil.which("node"):
            print("note: node/npm not found; Dockerfile lint (dockerfile-utils) skipped")
            return
        cache.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(cache),
                            "dockerfile-utils@0.16.3"], capture_output=True, text=True, timeout=300)
        if r.returncode != 0 or not tool.exists():
            print(f"note: could not install dockerfile-utils from npm; Dockerfile lint skipped ({r.stderr.strip()[:200]})")
            return
    r = subprocess.run([str(tool), "lint", str(path)], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        fail(path, "dockerfile-utils lint: " + " | ".join(l for l in r.stdout.splitlines() if l.strip()))
    else:
        print("dockerfile-utils 0.16.3 lint: no problems")


# ---------------------------------------------------------------- Compose


def resolve_env(text):
    """${VAR:-default} / ${VAR-default} to its default (the check does not
    read the caller's environment, so it checks what a fresh shell gets)."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", text)


def check_compose(stages, keys):
    path = DEPLOY / "docker" / "docker-compose.yml"
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        return
    base = path.parent
    services = doc.get("services") or {}
    declared_volumes = set((doc.get("volumes") or {}).keys())

    def target_of(svc):
        build = svc.get("build")
        if isinstance(build, dict):
            df = (ROOT if build.get("context") is None else (base / build["context"]).resolve()) / build.get("dockerfile", "Dockerfile")
            if not df.exists():
                fail(path, f"build dockerfile {rel(df)} does not exist")
            t = build.get("target")
            if t and t not in stages:
                fail(path, f"build target '{t}' is not a stage of {rel(df)}")
            return t
        image = str(svc.get("image", ""))
        return "coordinator" if image.startswith("cls-coordinator") else "site-agent" if image.startswith("cls-site-agent") else None

    coordinators = [n for n, s in services.items() if target_of(s) == "coordinator" and s.get("entrypoint") is None]
    sites = [n for n, s in services.items() if target_of(s) == "site-agent"]
    if len(coordinators) != 1:
        fail(path, f"expected one coordinator service, found {coordinators}")
    if len(sites) != 3:
        fail(path, f"expected three site-agent services, found {sites}")

    site_ids = []
    coordinator_host = None
    for name, svc in services.items():
        for v in svc.get("volumes", []) or []:
            if not isinstance(v, str):
                fail(path, f"service {name}: use the short volume syntax SOURCE:TARGET[:ro] (the check reads it)")
                continue
            parts = resolve_env(v).split(":")
            src, dst = parts[0], parts[1] if len(parts) > 1 else ""
            if src.startswith((".", "/")):
                p = (base / src).resolve()
                in_repo = str(p).startswith(str(ROOT) + os.sep)
                if not p.exists():
                    if in_repo:
                        fail(path, f"service {name}: mounts {src}, which does not exist")
                    else:
                        print(f"note: {name} mounts {src} from outside the repository; not present here ({p})")
                if not in_repo and (len(parts) < 3 or "ro" not in parts[2].split(",")):
                    fail(path, f"service {name}: data {src} must be mounted read-only (:ro)")
            elif src not in declared_volumes:
                fail(path, f"service {name}: volume '{src}' is not declared under volumes:")
            if dst in ("/etc/cls/coordinator.toml", "/etc/cls/site-agent.toml"):
                daemon = "coordinator" if dst.endswith("coordinator.toml") else "site-agent"
                cfg_path = (base / src).resolve()
                if not cfg_path.exists():
                    continue
                cfg = load_toml(cfg_path)
                if cfg is None:
                    continue
                check_config(cfg_path, cfg, daemon, keys)
                if daemon == "site-agent":
                    site_ids.append(cfg.get("site_id"))
                    coordinator_host = (cfg.get("coordinator") or "").rsplit(":", 1)[0]
                    csv = cfg.get("data", {}).get("csv", "")
                    mounted = [resolve_env(x).split(":")[1] for x in svc.get("volumes", []) if isinstance(x, str)]
                    if csv not in mounted:
                        fail(path, f"service {name}: its config reads {csv}, which the service does not mount")
                    if target_of(svc) != "site-agent":
                        fail(path, f"service {name}: mounts a site config but is not a site-agent image")
        for p in svc.get("ports", []) or []:
            container = int(str(p).split(":")[-1].split("/")[0])
            allowed = COORDINATOR_PORTS if target_of(svc) == "coordinator" else SITE_AGENT_PORTS
            if container not in allowed:
                fail(path, f"service {name}: publishes container port {container}, not a contract port {sorted(allowed)}")
            if container in (7444, 9464, 9465) and not str(p).startswith("127.0.0.1:"):
                fail(path, f"service {name}: port {container} (admin or unauthenticated metrics) must be published on 127.0.0.1 only")
    for name in coordinators + sites:
        hc = services[name].get("healthcheck") or {}
        port = COORDINATOR_METRICS_PORT if name in coordinators else SITE_AGENT_METRICS_PORT
        if hc.get("disable"):
            fail(path, f"service {name}: its healthcheck must not be disabled")
        elif "test" in hc and ("/healthz" not in str(hc["test"]) or str(port) not in str(hc["test"])):
            fail(path, f"service {name}: healthcheck must probe /healthz on port {port} (is {hc['test']})")
    for name in sites:
        dep = (services[name].get("depends_on") or {})
        if not isinstance(dep, dict) or not any(v.get("condition") == "service_completed_successfully" for v in dep.values()):
            fail(path, f"service {name}: must depend on the PKI service (condition: service_completed_successfully)")
    init = [s for s in services.values() if "pki-init.sh" in " ".join(map(str, s.get("entrypoint") or []))]
    if len(init) != 1:
        fail(path, "expected one one-shot PKI service running pki-init.sh")
    else:
        env = init[0].get("environment") or {}
        if sorted(str(env.get("CLS_SITES", "")).split()) != sorted(i for i in site_ids if i):
            fail(path, f"pki-init CLS_SITES {env.get('CLS_SITES')!r} differs from the sites' site_id {site_ids}")
        if coordinator_host and env.get("CLS_COORDINATOR_HOST") != coordinator_host:
            fail(path, f"pki-init issues the coordinator certificate for {env.get('CLS_COORDINATOR_HOST')!r} but sites connect to {coordinator_host!r}")
        if coordinator_host and coordinator_host not in services:
            fail(path, f"sites connect to '{coordinator_host}', which is not a service name")


# ------------------------------------------------------------ Helm charts


# Values whose content is free-form (Kubernetes objects, label maps): a
# values file may put any keys under them.
FREE_FORM = {"resources", "nodeSelector", "tolerations", "affinity", "annotations", "labels",
             "from", "podSelector", "coordinatorTo", "loadBalancerSourceRanges"}


def check_override_keys(path, base, over, prefix=""):
    for k, v in (over or {}).items():
        name = prefix + k
        if k not in base:
            fail(path, f"values key '{name}' does not exist in the chart's values.yaml")
        elif isinstance(v, dict) and isinstance(base[k], dict) and k not in FREE_FORM:
            check_override_keys(path, base[k], v, name + ".")


def values_paths(template_text):
    return set(re.findall(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", template_text))


def render_chart(chart_dir, values, release="cls", namespace="cls"):
    """{template file name: rendered text}."""
    chart = load_yaml(chart_dir / "Chart.yaml") or {}
    return helm_subset.render(chart_dir, chart, values, release, namespace)


def manifests(chart_dir, rendered):
    docs = []
    for name, text in rendered.items():
        if not name.endswith((".yaml", ".yml")):
            continue
        try:
            for d in yaml.safe_load_all(text):
                if d is not None:
                    docs.append((name, d))
        except yaml.YAMLError as e:
            fail(chart_dir / "templates" / name, f"renders to invalid YAML: {e}")
    return docs


def check_chart(chart_dir, daemon, keys, variants):
    """variants: [(label, values file or None, extra overrides)]."""
    chart_yaml = load_yaml(chart_dir / "Chart.yaml")
    if not isinstance(chart_yaml, dict):
        return
    for k in ("apiVersion", "name", "version", "appVersion"):
        if k not in chart_yaml:
            fail(chart_dir / "Chart.yaml", f"missing '{k}'")
    if chart_yaml.get("apiVersion") != "v2" or chart_yaml.get("name") != chart_dir.name:
        fail(chart_dir / "Chart.yaml", f"apiVersion must be v2 and name '{chart_dir.name}'")
    base = load_yaml(chart_dir / "values.yaml")
    if not isinstance(base, dict):
        return
    for t in sorted((chart_dir / "templates").iterdir()):
        for p in sorted(values_paths(t.read_text(encoding="utf-8"))):
            value = base
            for part in p.strip(".").split("."):
                if not isinstance(value, dict) or part not in value:
                    fail(t, f".Values{p} is used but not defined in values.yaml")
                    break
                value = value[part]
    for label, values_file, extra in variants:
        values = base
        if values_file:
            over = load_yaml(values_file)
            if not isinstance(over, dict):
                fail(values_file, "must be a YAML mapping")
                continue
            check_override_keys(values_file, base, over)
            values = merge(base, over)
        values = merge(values, extra)
        where = f"{rel(chart_dir)} [{label}]"
        try:
            rendered = render_chart(chart_dir, values)
        except TemplateError as e:
            problems.append(f"{where}: cannot render: {e}")
            continue
        docs = manifests(chart_dir, rendered)
        check_manifests(where, daemon, docs, values, keys)


def find(docs, kind):
    return [d for _, d in docs if d.get("kind") == kind]


def check_manifests(where, daemon, docs, values, keys):
    def bad(msg):
        problems.append(f"{where}: {msg}")

    for _, d in docs:
        for k in ("apiVersion", "kind", "metadata"):
            if k not in d:
                bad(f"a manifest without '{k}': {str(d)[:80]}")
    kinds = [d.get("kind") for _, d in docs]
    for forbidden in ("Deployment", "HorizontalPodAutoscaler", "ReplicaSet", "DaemonSet"):
        if forbidden in kinds:
            bad(f"renders a {forbidden}: the daemon is a single-replica StatefulSet")
    sts = find(docs, "StatefulSet")
    if len(sts) != 1:
        bad(f"expected one StatefulSet, found {len(sts)}")
        return
    s = sts[0]
    spec = s.get("spec", {})
    if spec.get("replicas") != 1:
        bad(f"StatefulSet replicas is {spec.get('replicas')!r}, must be 1 (single writer)")
    pod = spec.get("template", {}).get("spec", {})
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True or psc.get("runAsUser") in (None, 0):
        bad("pod securityContext must set runAsNonRoot: true and a non-zero runAsUser")
    containers = pod.get("containers", [])
    if len(containers) != 1:
        bad(f"expected one container, found {len(containers)}")
        return
    c = containers[0]
    csc = c.get("securityContext", {})
    if csc.get("allowPrivilegeEscalation") is not False or csc.get("readOnlyRootFilesystem") is not True:
        bad("container securityContext must set allowPrivilegeEscalation: false and readOnlyRootFilesystem: true")
    metrics_port = COORDINATOR_METRICS_PORT if daemon == "coordinator" else SITE_AGENT_METRICS_PORT
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or get.get("port") != metrics_port:
            bad(f"{probe} must be httpGet {path} on port {metrics_port} (is {get})")
    ports = {p.get("containerPort") for p in c.get("ports", [])}
    allowed = COORDINATOR_PORTS if daemon == "coordinator" else SITE_AGENT_PORTS
    if not ports or not ports <= allowed or metrics_port not in ports:
        bad(f"container ports {sorted(ports)} must be contract ports {sorted(allowed)} including {metrics_port}")
    res = c.get("resources", {})
    for part in ("requests", "limits"):
        if not {"cpu", "memory"} <= set((res.get(part) or {}).keys()):
            bad(f"container resources.{part} must set cpu and memory")
    mounts = {m.get("mountPath"): m for m in c.get("volumeMounts", [])}
    volumes = {v.get("name"): v for v in pod.get("volumes", [])}
    claims = {t.get("metadata", {}).get("name"): t for t in spec.get("volumeClaimTemplates", [])}
    state_dir = f"/var/lib/cls/{daemon}"
    state = mounts.get(state_dir)
    if not state or state.get("name") not in claims:
        bad(f"{state_dir} must be mounted from a volumeClaimTemplate")
    elif claims[state["name"]].get("spec", {}).get("accessModes") != ["ReadWriteOnce"]:
        bad("the state claim must be ReadWriteOnce (one writer)")
    pki = mounts.get("/etc/cls/pki")
    pki_vol = volumes.get(pki.get("name")) if pki else None
    if not pki or not pki.get("readOnly") or not pki_vol or "secret" not in pki_vol:
        bad("/etc/cls/pki must be a read-only mount of a Secret")
    else:
        mode = pki_vol["secret"].get("defaultMode")
        if not isinstance(mode, int) or mode & 0o007:
            bad(f"the PKI Secret's defaultMode {oct(mode) if isinstance(mode, int) else mode} gives others access; use 0440 or 0400")
    if daemon == "coordinator":
        env = {e.get("name"): e for e in c.get("env", [])}
        ref = env.get("CLS_MODEL_KEK", {}).get("valueFrom", {}).get("secretKeyRef")
        if not ref or not ref.get("name") or not ref.get("key"):
            bad("CLS_MODEL_KEK must come from a Secret (secretKeyRef)")
    config_file = f"/etc/cls/{daemon}.toml"
    cm_mount = mounts.get(config_file)
    cms = find(docs, "ConfigMap")
    if not cm_mount or len(cms) != 1:
        bad(f"{config_file} must be mounted from the chart's ConfigMap")
    else:
        data = cms[0].get("data", {})
        key = cm_mount.get("subPath")
        if key not in data:
            bad(f"ConfigMap has no key '{key}'")
        else:
            try:
                cfg = tomllib.loads(data[key])
            except tomllib.TOMLDecodeError as e:
                bad(f"ConfigMap {key} is not valid TOML: {e}")
            else:
                check_config(None, cfg, daemon, keys, label=f"{where} ConfigMap {key}")
                if daemon == "site-agent":
                    if cfg.get("site_id") != values["site"]["id"]:
                        bad(f"site_id {cfg.get('site_id')!r} differs from site.id")
                    if not str(cfg.get("data", {}).get("csv", "")).startswith("/data/") or "/data" not in mounts:
                        bad("[data] csv must be under the read-only /data mount")
                    elif not mounts["/data"].get("readOnly"):
                        bad("/data must be mounted read-only")
    services = find(docs, "Service")
    if not services:
        bad("no Service")
    for svc in services:
        for p in svc.get("spec", {}).get("ports", []):
            if p.get("port") not in allowed:
                bad(f"Service {svc['metadata'].get('name')} port {p.get('port')} is not a contract port")
    if s.get("spec", {}).get("serviceName") not in {x["metadata"].get("name") for x in services}:
        bad("StatefulSet serviceName names no rendered Service")
    policies = find(docs, "NetworkPolicy")
    if values.get("networkPolicy", {}).get("enabled"):
        if len(policies) != 1:
            bad("networkPolicy.enabled but no NetworkPolicy rendered")
        else:
            check_network_policy(bad, daemon, policies[0], values)
    monitors = find(docs, "ServiceMonitor")
    if values.get("serviceMonitor", {}).get("enabled"):
        eps = monitors[0]["spec"]["endpoints"] if monitors else []
        if not eps or eps[0].get("path") != "/metrics" or eps[0].get("port") != "metrics":
            bad("serviceMonitor.enabled: expected a ServiceMonitor on port 'metrics', path /metrics")
    elif monitors:
        bad("a ServiceMonitor rendered although serviceMonitor.enabled is false")


def check_network_policy(bad, daemon, policy, values):
    rules = policy.get("spec", {}).get("ingress", [])
    by_port = {}
    for r in rules:
        for p in r.get("ports", []):
            by_port[p.get("port")] = r
    monitoring = values["networkPolicy"]["metrics"]["namespace"]
    metrics_port = COORDINATOR_METRICS_PORT if daemon == "coordinator" else SITE_AGENT_METRICS_PORT

    def namespace_of(rule):
        return [f.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                for f in rule.get("from", [])]

    if metrics_port not in by_port or namespace_of(by_port[metrics_port]) != [monitoring]:
        bad(f"NetworkPolicy: port {metrics_port} must be open only to namespace {monitoring}")
    if daemon == "coordinator":
        admin = values["networkPolicy"]["admin"]
        rule = by_port.get(7444)
        if not rule or namespace_of(rule) != [admin["namespace"]] or \
                rule["from"][0].get("podSelector", {}).get("matchLabels") != admin["podSelector"]:
            bad("NetworkPolicy: port 7444 must be open only to networkPolicy.admin's namespace and podSelector")
        if 7443 not in by_port:
            bad("NetworkPolicy: no rule for the site port 7443")
        elif (by_port[7443].get("from") or []) != (values["networkPolicy"]["sites"]["from"] or []):
            bad("NetworkPolicy: port 7443's sources differ from networkPolicy.sites.from")
    else:
        egress_ports = {p.get("port") for r in policy["spec"].get("egress", []) for p in r.get("ports", [])}
        if "Egress" not in policy["spec"].get("policyTypes", []) or values["networkPolicy"]["coordinatorPort"] not in egress_ports:
            bad("NetworkPolicy: egress must allow the coordinator's port")


def check_helm(keys):
    coordinator = DEPLOY / "helm" / "cls-coordinator"
    site = DEPLOY / "helm" / "cls-site-agent"
    for chart in (coordinator, site):
        if not (chart / "Chart.yaml").exists():
            fail(chart, "missing chart")
            return
        for f in ("README.md", "templates/NOTES.txt"):
            if not (chart / f).exists():
                fail(chart / f, "missing")
    everything_on = {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
                     "persistence": {"storageClassName": "fast"}}
    check_chart(coordinator, "coordinator", keys, [
        ("values.yaml", None, {}),
        ("all options on", None, merge(everything_on, {
            "config": {"extra": "[robust]\nenabled = true\nrule = \"median\""},
            "networkPolicy": {"sites": {"from": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]}},
            "sitesService": {"annotations": {"example.org/lb": "internal"}}})),
        ("all options off", None, {"networkPolicy": {"enabled": False}, "sitesService": {"enabled": False}}),
    ])
    hospitals = sorted(site.glob("values-*.yaml"))
    data_dir = ROOT.parent / "shared" / "data" / "heart-disease"
    csvs = {p.stem for p in data_dir.glob("*.csv")} if data_dir.exists() else set()
    if csvs and {h.stem.removeprefix("values-") for h in hospitals} != csvs:
        fail(site, f"expected one values file per hospital of {rel(data_dir)}: values-{{{','.join(sorted(csvs))}}}.yaml")
    for h in hospitals:
        over = load_yaml(h) or {}
        csv = over.get("data", {}).get("csvFile", "")
        if csvs and Path(csv).stem not in csvs:
            fail(h, f"data.csvFile {csv!r} is not one of the hospitals' files")
    check_chart(site, "site-agent", keys,
                [(h.name, h, {}) for h in hospitals] +
                [("existingClaim, all options on", hospitals[0] if hospitals else None,
                  merge(everything_on, {"data": {"existingClaim": "cleveland-data"},
                                        "config": {"extra": "[online]\ninbox = \"/var/lib/cls/site-agent/inbox\""}}))])


# ---------------------------------------------------------------- Grafana


def check_grafana():
    path = DEPLOY / "grafana" / "cls-dashboard.json"
    try:
        dash = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        fail(path, f"not valid JSON: {e}")
        return
    exprs = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if "expr" not in t:
                    fail(path, f"panel '{p.get('title')}': a target without 'expr'")
                exprs.append(t.get("expr", ""))
            walk(p.get("panels", []))

    walk(dash.get("panels", []))
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        exprs.append(q.get("query", "") if isinstance(q, dict) else "")
    if not exprs:
        fail(path, "no queries")
    used = set()
    for e in exprs:
        for name in re.findall(r"\b(cls_[a-z0-9_]+)", e):
            base = name
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and name[: -len(suffix)] in HISTOGRAMS:
                    base = name[: -len(suffix)]
            if base not in METRICS:
                fail(path, f"queries '{name}', which is not a metric of the contract (check-deploy.py METRICS)")
            used.add(base)
    for missing in sorted(METRICS - used):
        fail(path, f"no panel shows '{missing}'")
    ids = [p.get("id") for p in dash.get("panels", [])]
    if len(ids) != len(set(ids)):
        fail(path, "duplicate panel ids")
    if not dash.get("uid") or not dash.get("title"):
        fail(path, "the dashboard needs a uid and a title")


def check_metric_sources():
    registered = set()
    for rel in METRIC_SOURCES:
        path = ROOT / rel
        try:
            registered |= set(re.findall(r'"(cls_[a-z0-9_]+)', path.read_text(encoding="utf-8")))
        except OSError as e:
            fail(path, f"cannot read the metric code: {e}")
    for name in sorted(METRICS - registered):
        fail(ROOT / "scripts" / "check-deploy.py", f"'{name}' is not registered by the daemons' metric code ({', '.join(METRIC_SOURCES)})")


# ------------------------------------------------------------------- main


def main():
    if not DEPLOY.is_dir():
        print(f"check-deploy: {DEPLOY} is missing", file=sys.stderr)
        return 1
    try:
        helm_subset.self_test()
    except AssertionError as e:
        fail(ROOT / "scripts" / "helm_subset.py", f"self-test failed: the renderer no longer behaves like Go templates ({e})")
    keys = documented_keys()
    for p in sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml")):
        if "templates" not in p.parts:
            load_yaml(p)
    stages = check_dockerfile()
    check_compose(stages, keys)
    for p in sorted(DEPLOY.rglob("*.toml")):
        load_toml(p)
    check_helm(keys)
    check_grafana()
    check_metric_sources()
    if problems:
        print(f"check-deploy: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print("check-deploy: deploy/ OK (Dockerfile, Compose file and configs, 2 Helm charts rendered, Grafana dashboard)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
