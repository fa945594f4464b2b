#!/usr/bin/env bash
# Offline lint for deploy/: Dockerfile, compose.yaml, k8s manifests.
#
#   bash deploy/lint.sh            # from anywhere; exits 1 if any check found a problem
#   LINT_STRICT=1 bash deploy/lint.sh   # also fail when a check had to be skipped
#
# Every tool is optional. A missing tool skips its check (listed at the end) and never fails the
# run; only findings fail it. Nothing here needs a Docker engine, a cluster or the network.
#
# Checks, in order:
#   1. compose   `docker compose config -q` (or docker-compose v2; v1 on a copy without `name:`),
#                with placeholder secrets, plus a negative run proving ${VAR:?} guards fire.
#   2. structure deploy/lint_checks.py (python3 + PyYAML): YAML parse of everything, and
#                cross-checks compose/k8s/Dockerfile against each other and the app (entry points,
#                variable names from packages/config, probes, shutdown timing, hadolint-like rules).
#                Without PyYAML: a bare YAML parse with node's `yaml` package, if installed.
#   3. kustomize `kubectl kustomize deploy/k8s` (or `kustomize build`): the overlay renders.
#   4. hadolint  if installed (it is not packaged in Debian; step 2 covers a subset of its rules).
#   5. yamllint, shellcheck if installed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
DEPLOY=deploy

passed=()
failed=()
skipped=()

note() { printf '%s\n' "$*"; }
pass() { passed+=("$1"); note "PASS  $1"; }
fail() { failed+=("$1"); note "FAIL  $1"; }
skip() { skipped+=("$1: $2"); note "SKIP  $1 ($2)"; }
have() { command -v "$1" >/dev/null 2>&1; }

# Run with a time limit when `timeout` exists (a CLI probing for a daemon must not hang the lint).
limited() {
  if have timeout; then timeout 120 "$@"; else "$@"; fi
}

# Placeholder values for the variables compose.yaml requires (${VAR:?}). Only for rendering.
placeholder_env=(
  POSTGRES_PASSWORD=lint-postgres-password
  META_APP_ID=1234567890
  META_APP_SECRET=lint-meta-app-secret
  META_VERIFY_TOKEN=lint-meta-verify-token
  PLATFORM_ADMIN_TOKEN=lint-platform-admin-token-000000
  ENCRYPTION_KEY=0000000000000000000000000000000000000000000000000000000000000000
  JWT_SECRET=lint-jwt-secret-0000000000000000000000000
)

# ---------------------------------------------------------------------------------------------
# 1. compose

compose_cmd=()
compose_kind=""
if have docker && docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
  compose_kind="docker compose $(docker compose version --short 2>/dev/null)"
elif have docker-compose; then
  v=$(docker-compose version --short 2>/dev/null || true)
  compose_cmd=(docker-compose)
  compose_kind="docker-compose ${v:-unknown}"
fi

compose_file="$DEPLOY/compose.yaml"
if [ ${#compose_cmd[@]} -eq 0 ]; then
  skip "compose config" "neither the docker compose plugin nor docker-compose is installed; step 2 still parses and checks compose.yaml when it can"
else
  target="$compose_file"
  extra=()
  tmp_compose=""
  if [[ "$compose_kind" =~ ^docker-compose\ 1\. ]]; then
    # Compose v1 (end of life) predates the top-level `name:` key; validate the rest on a copy.
    tmp_compose=$(mktemp -d "${TMPDIR:-/tmp}/deploy-lint.XXXXXX")
    grep -v '^name:' "$compose_file" >"$tmp_compose/compose.yaml"
    target="$tmp_compose/compose.yaml"
    extra=(--project-directory "$DEPLOY")
    compose_kind="$compose_kind (v1: top-level name: not checked)"
  fi
  # An empty --env-file: a local deploy/.env must not influence the lint.
  empty_env=$(mktemp "${TMPDIR:-/tmp}/compose-env.XXXXXX")
  out=$(env "${placeholder_env[@]}" "${compose_cmd[@]}" --env-file "$empty_env" -f "$target" ${extra[@]+"${extra[@]}"} config -q 2>&1)
  rc=$?
  if [ $rc -eq 0 ]; then
    pass "compose config ($compose_kind)"
  else
    printf '%s\n' "$out" | sed 's/^/      /'
    fail "compose config ($compose_kind)"
  fi
  # Negative check: without a required secret, compose must refuse to render.
  out=$(env -u POSTGRES_PASSWORD "${placeholder_env[@]/#POSTGRES_PASSWORD=*/POSTGRES_PASSWORD=}" \
    "${compose_cmd[@]}" --env-file "$empty_env" -f "$target" ${extra[@]+"${extra[@]}"} config -q 2>&1)
  rc=$?
  if [ $rc -ne 0 ] && printf '%s' "$out" | grep -q 'POSTGRES_PASSWORD'; then
    pass "compose refuses to render without a required secret"
  else
    printf '%s\n' "$out" | sed 's/^/      /'
    fail "compose rendered although POSTGRES_PASSWORD was empty (\${VAR:?} guard missing?)"
  fi
  rm -f "$empty_env"
  [ -z "$tmp_compose" ] || rm -rf "$tmp_compose"
fi

# ---------------------------------------------------------------------------------------------
# 2. YAML parse + structural checks

if have python3 && python3 -c 'import yaml' >/dev/null 2>&1; then
  if out=$(python3 "$DEPLOY/lint_checks.py" 2>&1); then
    printf '%s\n' "$out" | sed 's/^/      /'
    pass "YAML parse and structural checks (python3 + PyYAML)"
  else
    printf '%s\n' "$out" | sed 's/^/      /'
    fail "YAML parse and structural checks (python3 + PyYAML)"
  fi
elif have node && node -e "require.resolve('yaml', { paths: [process.cwd()] })" >/dev/null 2>&1; then
  skip "structural checks" "python3 with PyYAML is not available; YAML is only parsed (node + yaml)"
  # shellcheck disable=SC2016
  if out=$(node -e '
    const fs = require("fs"), path = require("path");
    const YAML = require(require.resolve("yaml", { paths: [process.cwd()] }));
    const files = ["deploy/compose.yaml", ...fs.readdirSync("deploy/k8s").filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join("deploy/k8s", f))];
    let bad = 0;
    for (const f of files) {
      for (const doc of YAML.parseAllDocuments(fs.readFileSync(f, "utf8"))) {
        for (const e of doc.errors) { console.log(`${f}: ${e.message}`); bad++; }
      }
    }
    process.exit(bad ? 1 : 0);' 2>&1); then
    pass "YAML parse (node + yaml)"
  else
    printf '%s\n' "$out" | sed 's/^/      /'
    fail "YAML parse (node + yaml)"
  fi
else
  skip "YAML parse and structural checks" "neither python3 with PyYAML nor node with the yaml package is available"
fi

# ---------------------------------------------------------------------------------------------
# 3. kustomize render (client-side only; `kubectl apply --dry-run=client` needs an API server)

kustomize_cmd=()
if have kubectl && kubectl kustomize --help >/dev/null 2>&1; then
  kustomize_cmd=(kubectl kustomize "$DEPLOY/k8s")
elif have kustomize; then
  kustomize_cmd=(kustomize build "$DEPLOY/k8s")
fi
if [ ${#kustomize_cmd[@]} -eq 0 ]; then
  skip "kustomize build" "neither kubectl nor kustomize is installed"
elif out=$(limited "${kustomize_cmd[@]}" 2>&1 >/dev/null); then
  pass "kustomize build (${kustomize_cmd[0]})"
else
  printf '%s\n' "$out" | sed 's/^/      /'
  fail "kustomize build (${kustomize_cmd[0]})"
fi

# ---------------------------------------------------------------------------------------------
# 4. hadolint

if have hadolint; then
  if out=$(hadolint --failure-threshold warning "$DEPLOY/Dockerfile" 2>&1); then
    pass "hadolint"
  else
    printf '%s\n' "$out" | sed 's/^/      /'
    fail "hadolint"
  fi
else
  skip "hadolint" "not installed (not packaged in Debian); lint_checks.py applies a subset of its rules"
fi

# ---------------------------------------------------------------------------------------------
# 5. yamllint, shellcheck

if have yamllint; then
  yamllint_config='{extends: default, rules: {line-length: disable, document-start: disable, comments: {min-spaces-from-content: 1}, truthy: {check-keys: false}}}'
  if out=$(yamllint -s -d "$yamllint_config" "$DEPLOY/compose.yaml" "$DEPLOY/k8s" 2>&1); then
    pass "yamllint"
  else
    printf '%s\n' "$out" | sed 's/^/      /'
    fail "yamllint"
  fi
else
  skip "yamllint" "not installed (apt-get install yamllint)"
fi

if have shellcheck; then
  if out=$(shellcheck "$DEPLOY/lint.sh" 2>&1); then
    pass "shellcheck lint.sh"
  else
    printf '%s\n' "$out" | sed 's/^/      /'
    fail "shellcheck lint.sh"
  fi
else
  skip "shellcheck" "not installed (apt-get install shellcheck)"
fi

# ---------------------------------------------------------------------------------------------

note ""
note "deploy lint: ${#passed[@]} passed, ${#failed[@]} failed, ${#skipped[@]} skipped"
for s in ${skipped[@]+"${skipped[@]}"}; do note "  skipped: $s"; done
note "  never checked offline: building the image (needs a Docker engine), Kubernetes schema"
note "  validation (needs an API server or kubeconform), pulling the pinned images."

if [ ${#failed[@]} -gt 0 ]; then
  exit 1
fi
if [ "${LINT_STRICT:-0}" = "1" ] && [ ${#skipped[@]} -gt 0 ]; then
  note "LINT_STRICT=1: failing because checks were skipped"
  exit 1
fi
exit 0
