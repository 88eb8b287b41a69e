//! A real Kubernetes API server for the identity tests: one etcd and one
//! kube-apiserver per test binary on free 127.0.0.1 ports, built by `cargo xtask
//! k8s-lab` (scripts/k8s-lab.sh) into a cache folder outside the repository, and
//! stopped when the test process exits. There is no kubelet: the tests create the
//! objects a controller would (ReplicaSets with owner references, pods with a node
//! name) and play the kubelet by patching pod status.
//!
//! docs/kubernetes.md describes the lab.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{json, Value};

/// Where `scripts/k8s-lab.sh` put the binaries and certificates.
pub fn lab_dir() -> PathBuf {
    std::env::var_os("PLAINSIGHT_K8S_LAB")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/plainsight/k8s-lab"))
}

/// The running lab of this test process.
#[derive(Debug)]
pub struct Lab {
    /// Per-run folder: etcd data, token file, kubeconfig, logs.
    pub run: PathBuf,
    pub api_port: u16,
    pub etcd_port: u16,
    pub kubeconfig: PathBuf,
    admin_token: String,
    apiserver: Mutex<Option<Child>>,
    /// Reaped by `stop_lab` at exit, through its pid.
    _etcd: Child,
}

static LAB: OnceLock<Lab> = OnceLock::new();
static ETCD_PID: AtomicI32 = AtomicI32::new(0);
static APISERVER_PID: AtomicI32 = AtomicI32::new(0);

/// A port the kernel just handed out on 127.0.0.1: unlikely to clash with another run.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
        .expect("/dev/urandom");
    hex::encode(buf)
}

extern "C" fn stop_lab() {
    for pid in [&APISERVER_PID, &ETCD_PID] {
        let p = pid.swap(0, Ordering::SeqCst);
        if p > 0 {
            // SAFETY: signalling a child we started; no memory is involved.
            unsafe {
                libc::kill(p, libc::SIGKILL);
                libc::waitpid(p, std::ptr::null_mut(), 0);
            }
        }
    }
    if let Some(lab) = LAB.get() {
        let _ = std::fs::remove_dir_all(&lab.run);
    }
}

/// Servers left by a test process that was killed before its exit handler ran: each
/// `run/<pid>` folder whose test process is gone. A recorded server pid is signalled
/// only while its command line still names that folder.
fn reap_abandoned_runs(runs: &Path) {
    let Ok(entries) = std::fs::read_dir(runs) else {
        return;
    };
    for e in entries.flatten() {
        let Some(owner) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        for f in ["apiserver.pid", "etcd.pid"] {
            let Some(pid) = std::fs::read_to_string(e.path().join(f))
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
            else {
                continue;
            };
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            // etcd's data dir and the API server's token file are in the run folder.
            if cmdline.contains(&*e.path().to_string_lossy()) {
                // SAFETY: signalling a process this lab started, identified above.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = std::fs::remove_dir_all(e.path());
    }
}

/// The lab, started on first use (about 3 s) and shared by the tests of this binary.
pub fn lab() -> &'static Lab {
    LAB.get_or_init(Lab::start)
}

impl Lab {
    fn start() -> Lab {
        let dir = lab_dir();
        for need in [
            "bin/kube-apiserver",
            "pki/apiserver.crt",
            "pki/sa.key",
            "venv/bin/kubectl",
        ] {
            assert!(
                dir.join(need).exists(),
                "{} is missing: run `cargo xtask k8s-lab` (or scripts/k8s-lab.sh) first",
                dir.join(need).display()
            );
        }
        reap_abandoned_runs(&dir.join("run"));
        let run = dir.join(format!("run/{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(run.join("etcd")).expect("run dir");
        let (etcd_port, peer_port, api_port) = (free_port(), free_port(), free_port());
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let etcd = Command::new("etcd")
            .args(["--name", "lab", "--data-dir"])
            .arg(run.join("etcd"))
            .args([
                "--listen-client-urls",
                &etcd_url,
                "--advertise-client-urls",
                &etcd_url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &format!("lab={peer_url}")])
            .stdout(Stdio::null())
            .stderr(log_file(&run, "etcd.log"))
            .spawn()
            .expect("start etcd (Debian's etcd-server; cargo xtask k8s-lab installs it)");
        ETCD_PID.store(etcd.id() as i32, Ordering::SeqCst);
        let _ = std::fs::write(run.join("etcd.pid"), etcd.id().to_string());
        // SAFETY: registering a plain extern "C" function with no captured state.
        unsafe { libc::atexit(stop_lab) };
        let admin_token = format!("admin-{}", random_hex(16));
        let tokens = run.join("tokens.csv");
        std::fs::write(
            &tokens,
            format!("{admin_token},admin,uid-admin,system:masters\n"),
        )
        .expect("tokens.csv");
        let ca = std::fs::read(dir.join("pki/ca.crt")).expect("ca.crt");
        let kubeconfig = run.join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_text(api_port, &ca, &admin_token))
            .expect("kubeconfig");
        let lab = Lab {
            run,
            api_port,
            etcd_port,
            kubeconfig,
            admin_token,
            apiserver: Mutex::new(None),
            _etcd: etcd,
        };
        lab.wait_etcd();
        let child = lab.spawn_apiserver(api_port, "apiserver.log");
        APISERVER_PID.store(child.id() as i32, Ordering::SeqCst);
        let _ = std::fs::write(lab.run.join("apiserver.pid"), child.id().to_string());
        *lab.apiserver.lock().expect("lock") = Some(child);
        lab.wait_ready(api_port);
        lab
    }

    fn wait_etcd(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.etcd_port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "etcd did not listen on {} within 20 s; see {}",
            self.etcd_port,
            self.run.join("etcd.log").display()
        );
    }

    /// kube-apiserver with the lab's flags: token auth, RBAC, no endpoint reconciler
    /// (no controllers run), and no ServiceAccount admission so pods need no account.
    fn spawn_apiserver(&self, port: u16, log: &str) -> Child {
        let dir = lab_dir();
        let pki = |f: &str| dir.join("pki").join(f).display().to_string();
        Command::new(dir.join("bin/kube-apiserver"))
            .args([
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                "--insecure-port=0",
            ])
            .arg(format!("--secure-port={port}"))
            .arg(format!(
                "--etcd-servers=http://127.0.0.1:{}",
                self.etcd_port
            ))
            .arg(format!("--tls-cert-file={}", pki("apiserver.crt")))
            .arg(format!("--tls-private-key-file={}", pki("apiserver.key")))
            .arg(format!("--client-ca-file={}", pki("ca.crt")))
            .arg(format!(
                "--token-auth-file={}",
                self.run.join("tokens.csv").display()
            ))
            .arg("--authorization-mode=RBAC")
            .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
            .arg(format!("--service-account-key-file={}", pki("sa.pub")))
            .arg(format!(
                "--service-account-signing-key-file={}",
                pki("sa.key")
            ))
            .arg("--api-audiences=https://kubernetes.default.svc.cluster.local")
            .args([
                "--service-cluster-ip-range=10.96.0.0/16",
                "--endpoint-reconciler-type=none",
            ])
            .args([
                "--disable-admission-plugins=ServiceAccount",
                "--profiling=false",
                "--v=1",
            ])
            .stdout(Stdio::null())
            .stderr(log_file(&self.run, log))
            .spawn()
            .expect("start kube-apiserver")
    }

    fn wait_ready(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let out = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
                .arg(lab_dir().join("pki/ca.crt"))
                .args(["-H", &format!("Authorization: Bearer {}", self.admin_token)])
                .arg(format!("https://127.0.0.1:{port}/readyz"))
                .output();
            if out.is_ok_and(|o| o.stdout == b"200") {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "kube-apiserver on {port} not ready within 60 s; see {}",
            self.run.display()
        );
    }

    /// Kills the API server (SIGKILL: no goodbye to the watches).
    pub fn stop_apiserver(&self) {
        let mut g = self.apiserver.lock().expect("lock");
        if let Some(mut c) = g.take() {
            let _ = c.kill();
            let _ = c.wait();
            APISERVER_PID.store(0, Ordering::SeqCst);
        }
    }

    /// Starts the API server again on the same port, with the same etcd.
    pub fn start_apiserver(&self) {
        let mut g = self.apiserver.lock().expect("lock");
        assert!(g.is_none(), "the API server is already running");
        let child = self.spawn_apiserver(self.api_port, "apiserver.log.restarted");
        APISERVER_PID.store(child.id() as i32, Ordering::SeqCst);
        let _ = std::fs::write(self.run.join("apiserver.pid"), child.id().to_string());
        *g = Some(child);
        drop(g);
        self.wait_ready(self.api_port);
    }

    /// A second API server on the same etcd and another port, for changes made while
    /// the first one (the one the watches use) is down. Killed on drop.
    pub fn second_apiserver(&self) -> SecondApiServer {
        let port = free_port();
        let child = self.spawn_apiserver(port, "apiserver2.log");
        let guard = SecondApiServer { child, port };
        self.wait_ready(port);
        let ca = std::fs::read(lab_dir().join("pki/ca.crt")).expect("ca.crt");
        let path = self.run.join("kubeconfig2");
        std::fs::write(&path, kubeconfig_text(port, &ca, &self.admin_token)).expect("kubeconfig2");
        guard
    }

    /// A kubeconfig for this lab that authenticates with `token`.
    pub fn kubeconfig_for_token(&self, token: &str, name: &str) -> PathBuf {
        let ca = std::fs::read(lab_dir().join("pki/ca.crt")).expect("ca.crt");
        let path = self.run.join(format!("kubeconfig-{name}"));
        std::fs::write(&path, kubeconfig_text(self.api_port, &ca, token)).expect("kubeconfig");
        path
    }

    /// `kubectl` from the lab's venv against this lab as admin.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> String {
        use std::io::Write as _;
        let mut child = Command::new(lab_dir().join("venv/bin/kubectl"))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(text.as_bytes())
                .expect("write stdin");
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("kubectl output");
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The second API server of [`Lab::second_apiserver`].
#[derive(Debug)]
pub struct SecondApiServer {
    child: Child,
    pub port: u16,
}

impl SecondApiServer {
    pub async fn client(&self) -> kube::Client {
        let path = lab().run.join("kubeconfig2");
        plainsight::k8s::client(Some(&path))
            .await
            .expect("client of the second API server")
    }
}

impl Drop for SecondApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log_file(run: &Path, name: &str) -> Stdio {
    std::fs::File::create(run.join(name))
        .map(Stdio::from)
        .expect("log file")
}

fn kubeconfig_text(port: u16, ca_pem: &[u8], token: &str) -> String {
    use std::fmt::Write as _;
    let b64 = base64(ca_pem);
    let mut s = String::new();
    let _ = write!(
        s,
        "apiVersion: v1\nkind: Config\n\
         clusters: [{{name: lab, cluster: {{server: \"https://127.0.0.1:{port}\", certificate-authority-data: \"{b64}\"}}}}]\n\
         users: [{{name: user, user: {{token: \"{token}\"}}}}]\n\
         contexts: [{{name: lab, context: {{cluster: lab, user: user}}}}]\n\
         current-context: lab\n"
    );
    s
}

/// RFC 4648 base64 (the kubeconfig's certificate-authority-data).
fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The lab's API server made reachable inside network namespace `ns` at the same
/// address (127.0.0.1 and the same port, so that kubeconfigs and the serving certificate
/// hold there too): an agent running in a lab's hub namespace can then watch it. Bytes
/// are copied both ways by threads of this process; dropping it stops accepting.
#[derive(Debug)]
pub struct ApiForward {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for ApiForward {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Lab {
    pub fn forward_into(&self, ns: &str) -> ApiForward {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        let port = self.api_port;
        let listener =
            crate::lab::in_netns(Some(ns), move || TcpListener::bind(("127.0.0.1", port)))
                .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port} in {ns}: {e}"));
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                let inside = match listener.accept() {
                    Ok((c, _)) => c,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    Err(_) => break,
                };
                // The API server may be down (a restart test): the client sees a reset.
                let Ok(outside) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
                    continue;
                };
                let _ = inside.set_nonblocking(false);
                for (mut from, mut to) in [
                    (inside.try_clone(), outside.try_clone()),
                    (outside.try_clone(), inside.try_clone()),
                ]
                .into_iter()
                .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        ApiForward { stop }
    }
}

/// The admin client of the lab.
pub async fn admin() -> kube::Client {
    plainsight::k8s::client(Some(&lab().kubeconfig))
        .await
        .expect("admin client")
}

/// Object helpers on a client: what controllers and the kubelet would do in a cluster.
#[derive(Clone)]
pub struct Cluster {
    pub client: kube::Client,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cluster")
    }
}

/// A workload with its pod: `(workload uid, pod name)`.
#[derive(Clone, Debug)]
pub struct Chain {
    pub owner_uid: String,
    pub pod: String,
}

fn resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let plural = format!("{}s", kind.to_lowercase());
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), &plural)
}

fn owner(api_version: &str, kind: &str, name: &str, uid: &str) -> Value {
    json!([{ "apiVersion": api_version, "kind": kind, "name": name, "uid": uid,
             "controller": true, "blockOwnerDeletion": true }])
}

fn template(app: &str) -> Value {
    json!({ "metadata": { "labels": { "app": app } },
            "spec": { "containers": [{ "name": "app", "image": "registry.invalid/app:1" }] } })
}

impl Cluster {
    pub async fn admin() -> Cluster {
        Cluster {
            client: admin().await,
        }
    }

    fn api(&self, obj: &Value) -> Api<DynamicObject> {
        let ar = resource(
            obj["apiVersion"].as_str().expect("apiVersion"),
            obj["kind"].as_str().expect("kind"),
        );
        match obj["metadata"]["namespace"].as_str() {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        }
    }

    /// Creates any object; returns its uid.
    pub async fn create(&self, obj: Value) -> String {
        let o: DynamicObject = serde_json::from_value(obj.clone()).expect("object JSON");
        let made = self
            .api(&obj)
            .create(&PostParams::default(), &o)
            .await
            .unwrap_or_else(|e| panic!("create {}: {e}", obj["kind"]));
        made.metadata.uid.expect("uid")
    }

    /// A namespace of its own for one test: `prefix-<random>`.
    pub async fn namespace(&self, prefix: &str) -> String {
        let ns = format!("{prefix}-{}", &random_hex(3));
        self.create(json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": ns } }))
            .await;
        ns
    }

    /// A pod owned by `owner_refs` (or none), labelled `app`, scheduled on `node`
    /// (unscheduled when `node` is empty).
    pub async fn pod(
        &self,
        ns: &str,
        name: &str,
        app: &str,
        node: &str,
        owner_refs: Value,
        host_network: bool,
    ) -> String {
        let mut t = template(app);
        t["apiVersion"] = json!("v1");
        t["kind"] = json!("Pod");
        t["metadata"]["name"] = json!(name);
        t["metadata"]["namespace"] = json!(ns);
        if !owner_refs.is_null() {
            t["metadata"]["ownerReferences"] = owner_refs;
        }
        if !node.is_empty() {
            t["spec"]["nodeName"] = json!(node);
        }
        if host_network {
            t["spec"]["hostNetwork"] = json!(true);
        }
        self.create(t).await
    }

    /// Deployment → ReplicaSet → Pod, as the deployment and replicaset controllers make them.
    pub async fn deployment_pod(&self, ns: &str, name: &str, node: &str) -> Chain {
        let sel = json!({ "matchLabels": { "app": name } });
        let d = self
            .create(json!({ "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": { "name": name, "namespace": ns },
                "spec": { "replicas": 1, "selector": sel, "template": template(name) } }))
            .await;
        let rs_name = format!("{name}-{}", random_hex(4));
        let rs = self
            .create(json!({ "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": { "name": rs_name, "namespace": ns,
                              "ownerReferences": owner("apps/v1", "Deployment", name, &d) },
                "spec": { "replicas": 1, "selector": sel, "template": template(name) } }))
            .await;
        let pod = format!("{rs_name}-{}", random_hex(3));
        self.pod(
            ns,
            &pod,
            name,
            node,
            owner("apps/v1", "ReplicaSet", &rs_name, &rs),
            false,
        )
        .await;
        Chain { owner_uid: d, pod }
    }

    /// StatefulSet → Pod (`name-0`).
    pub async fn statefulset_pod(&self, ns: &str, name: &str, node: &str) -> Chain {
        let uid = self
            .create(json!({ "apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": { "name": name, "namespace": ns },
                "spec": { "replicas": 1, "serviceName": name,
                          "selector": { "matchLabels": { "app": name } }, "template": template(name) } }))
            .await;
        let pod = format!("{name}-0");
        self.pod(
            ns,
            &pod,
            name,
            node,
            owner("apps/v1", "StatefulSet", name, &uid),
            false,
        )
        .await;
        Chain {
            owner_uid: uid,
            pod,
        }
    }

    /// DaemonSet → Pod on `node`; `host_network` as node agents often are.
    pub async fn daemonset_pod(
        &self,
        ns: &str,
        name: &str,
        node: &str,
        host_network: bool,
    ) -> Chain {
        let mut t = template(name);
        if host_network {
            t["spec"]["hostNetwork"] = json!(true);
        }
        let uid = self
            .create(json!({ "apiVersion": "apps/v1", "kind": "DaemonSet",
                "metadata": { "name": name, "namespace": ns },
                "spec": { "selector": { "matchLabels": { "app": name } }, "template": t } }))
            .await;
        let pod = format!("{name}-{}", random_hex(3));
        self.pod(
            ns,
            &pod,
            name,
            node,
            owner("apps/v1", "DaemonSet", name, &uid),
            host_network,
        )
        .await;
        Chain {
            owner_uid: uid,
            pod,
        }
    }

    fn job_spec(app: &str) -> Value {
        let mut t = template(app);
        t["spec"]["restartPolicy"] = json!("Never");
        json!({ "template": t })
    }

    /// Job → Pod, the Job owned by `owner_refs` when given (a CronJob).
    async fn job_with(&self, ns: &str, name: &str, node: &str, owner_refs: Value) -> Chain {
        let mut job = json!({ "apiVersion": "batch/v1", "kind": "Job",
            "metadata": { "name": name, "namespace": ns }, "spec": Self::job_spec(name) });
        if !owner_refs.is_null() {
            job["metadata"]["ownerReferences"] = owner_refs;
        }
        let uid = self.create(job).await;
        let pod = format!("{name}-{}", random_hex(3));
        self.pod(
            ns,
            &pod,
            name,
            node,
            owner("batch/v1", "Job", name, &uid),
            false,
        )
        .await;
        Chain {
            owner_uid: uid,
            pod,
        }
    }

    pub async fn job_pod(&self, ns: &str, name: &str, node: &str) -> Chain {
        self.job_with(ns, name, node, Value::Null).await
    }

    /// CronJob (batch/v1beta1 on 1.20) → Job → Pod.
    pub async fn cronjob_pod(&self, ns: &str, name: &str, node: &str) -> Chain {
        let cj = self
            .create(json!({ "apiVersion": "batch/v1beta1", "kind": "CronJob",
                "metadata": { "name": name, "namespace": ns },
                "spec": { "schedule": "*/5 * * * *", "jobTemplate": { "spec": Self::job_spec(name) } } }))
            .await;
        let job = format!("{name}-{}", random_hex(3));
        let chain = self
            .job_with(ns, &job, node, owner("batch/v1beta1", "CronJob", name, &cj))
            .await;
        Chain {
            owner_uid: cj,
            pod: chain.pod,
        }
    }

    /// A pod without owner.
    pub async fn bare_pod(&self, ns: &str, name: &str, node: &str) -> Chain {
        let uid = self.pod(ns, name, name, node, Value::Null, false).await;
        Chain {
            owner_uid: uid,
            pod: name.to_owned(),
        }
    }

    /// A ClusterIP service selecting `app`; returns the ClusterIP the server allocated.
    pub async fn service(&self, ns: &str, name: &str, app: &str) -> std::net::IpAddr {
        let obj = json!({ "apiVersion": "v1", "kind": "Service",
            "metadata": { "name": name, "namespace": ns },
            "spec": { "selector": { "app": app }, "ports": [{ "port": 80, "protocol": "TCP" }] } });
        self.create(obj).await;
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), ns, &resource("v1", "Service"));
        let s = api.get(name).await.expect("get service");
        s.data["spec"]["clusterIP"]
            .as_str()
            .and_then(|ip| ip.parse().ok())
            .expect("service has a ClusterIP")
    }

    /// The kubelet's part: the pod runs (or ends) with these addresses.
    pub async fn set_pod_status(&self, ns: &str, pod: &str, phase: &str, ip: &str, host_ip: &str) {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), ns, &resource("v1", "Pod"));
        let patch = json!({ "status": { "phase": phase, "podIP": ip, "podIPs": [{ "ip": ip }], "hostIP": host_ip } });
        api.patch_status(pod, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_or_else(|e| panic!("patch status of {ns}/{pod}: {e}"));
    }

    pub async fn set_running(&self, ns: &str, pod: &str, ip: &str, host_ip: &str) {
        self.set_pod_status(ns, pod, "Running", ip, host_ip).await
    }

    /// The scheduler's part: binds an unscheduled pod to `node`.
    pub async fn bind(&self, ns: &str, pod: &str, node: &str) {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), ns, &resource("v1", "Pod"));
        let binding = json!({ "apiVersion": "v1", "kind": "Binding",
            "metadata": { "name": pod, "namespace": ns },
            "target": { "apiVersion": "v1", "kind": "Node", "name": node } });
        let _: Value = api
            .create_subresource("binding", pod, &PostParams::default(), &binding)
            .await
            .unwrap_or_else(|e| panic!("bind {ns}/{pod} to {node}: {e}"));
    }

    /// Deletes a pod at once (nothing would confirm a graceful deletion).
    pub async fn delete_pod(&self, ns: &str, pod: &str) {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), ns, &resource("v1", "Pod"));
        api.delete(pod, &DeleteParams::default().grace_period(0))
            .await
            .unwrap_or_else(|e| panic!("delete {ns}/{pod}: {e}"));
    }
}

/// Polls `f` until it returns `Some` or `secs` pass.
pub async fn eventually<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
