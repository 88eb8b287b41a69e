//! End to end: the real kube-apiserver of the lab, the live agent with `[kubernetes]
//! enabled = true` (the agent's own ServiceAccount token and RBAC from deploy/), and
//! Debian's Prometheus scraping it and evaluating `dashboards/alerts.yml`. Two
//! scenarios, each its own lab, agent and Prometheus: weak (TLS 1.0/1.1 and CBC
//! suites, plain HTTP with credentials, psql in the clear, SMTP without STARTTLS and
//! past an offered one, handshake failures) and hardened (`hardened_mtls_curl` only:
//! mutual TLS). The lab client is a pod of Deployment `web`, the server a pod of
//! StatefulSet `db`, in one test namespace.
//!
//! Every panel query of `dashboards/plainsight.json` (with `$namespace` = the test
//! namespace and `$workload` = `.*`, `web` and `db`), both variable queries and every
//! alert expression run through Prometheus's HTTP API and are held to [`TABLE`]; the
//! weak scenario's alerts are active, the hardened one's none. [`TABLE`] must name
//! every panel target and alert: `every_panel_and_alert_has_an_expectation`.
//!
//! `PLAINSIGHT_DASHBOARD_OUT=<dir>` also writes each scenario's panel results (range
//! queries over the run, instant ones for tables) as `<dir>/<scenario>.json`, which
//! `scripts/render-dashboard.py` draws (`cargo xtask dashboards-render`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use plainsight_tests::k8s::{lab as k8s_lab, Cluster};
use plainsight_tests::lab::{
    Hub, Lab, LiveAgent, CLIENT_IP, SERVER_IP, SMTP_PLAIN_PORT, SMTP_STARTTLS_PORT,
};
use plainsight_tests::prometheus::Prometheus;
use serde_json::{json, Value};

/// What a query returns in a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// At least one series with a value other than 0.
    Any,
    /// At least one series other than 0 labelled with the test namespace's web → db pair
    /// (`src_workload="web"`, `dst_workload="db"`, both namespaces the test's).
    Pair,
    /// A series other than 0 at some time since the scenario's traffic started (the
    /// range query a time-series panel draws): for gauges that are back to 0 by the time
    /// the test looks (flows in the table, the recent failure ratio).
    Seen,
    /// No series, or only zeros: nothing to show or to alert on.
    Nothing,
    /// A variable query: the names it offers include the test's (namespace; web and db).
    Names,
}
use Want::{Any, Names, Nothing, Pair, Seen};

/// Every panel target (`<title> [<refId>]`), variable (`variable <name>`) and alert
/// (`alert <name>`), with what the weak and the hardened scenario produce.
const TABLE: &[(&str, Want, Want)] = &[
    ("variable namespace", Names, Names),
    ("variable workload", Names, Names),
    // Overview
    ("Share of flows encrypted [A]", Any, Any),
    ("Credentials in cleartext (24h) [A]", Any, Nothing),
    (
        "Plaintext internal traffic: worst workload pairs (1h) [A]",
        Pair,
        Nothing,
    ),
    ("Cleartext flows by protocol (per second) [A]", Any, Nothing),
    (
        "Cleartext bytes by protocol and direction [A]",
        Any,
        Nothing,
    ),
    // TLS posture
    ("Encrypted share by workload pair (1h) [A]", Pair, Pair),
    ("TLS handshakes by version [A]", Any, Any),
    ("TLS handshakes by cipher class [A]", Any, Any),
    ("Key exchange: post-quantum vs classical [A]", Any, Any),
    // Findings
    ("Findings by id (per second) [A]", Any, Nothing),
    ("Findings by workload pair (24h) [A]", Pair, Nothing),
    // Failures and spikes
    ("Handshake failures by reason [A]", Any, Nothing),
    ("Handshake-failure spikes [A]", Any, Nothing),
    ("Handshake-failure spikes [B]", Seen, Nothing),
    (
        "Failed TLS handshakes by workload pair (1h) [A]",
        Pair,
        Nothing,
    ),
    // Certificates: the lab's are valid for a year.
    ("Certificates closest to expiry [A]", Any, Any),
    ("Certificates expiring within 30 days [A]", Nothing, Nothing),
    ("Certificate series expired (24h) [A]", Nothing, Nothing),
    // Agent health
    ("Agent: drops by stage and reason [A]", Nothing, Nothing),
    ("Agent: events read, flows tracked [A]", Any, Any),
    ("Agent: events read, flows tracked [B]", Seen, Seen),
    (
        "Agent: attached interfaces and attach failures [A]",
        Any,
        Any,
    ),
    (
        "Agent: attached interfaces and attach failures [B]",
        Nothing,
        Nothing,
    ),
    ("Agent: resident memory [A]", Any, Any),
    ("Agent: resident memory [B]", Any, Any),
    // Without kernel.bpf_stats_enabled=1 the kernel counts nothing: 0/0, no value.
    ("Agent: kernel time per packet [A]", Nothing, Nothing),
    ("Agent: parse errors [A]", Nothing, Nothing),
    ("Kubernetes: watches up [A]", Any, Any),
    ("Kubernetes: watch errors and objects [A]", Nothing, Nothing),
    ("Kubernetes: watch errors and objects [B]", Any, Any),
    // Alerts
    ("alert PlainsightCleartextCredentials", Any, Nothing),
    ("alert PlainsightPlaintextInternal", Pair, Nothing),
    ("alert PlainsightStarttlsNotUsed", Pair, Nothing),
    ("alert PlainsightStarttlsNotOffered", Pair, Nothing),
    ("alert PlainsightDeprecatedTls", Any, Nothing),
    // The lab's weak server allows no suite tls.cipher.weak names (no RC4 or 3DES here).
    ("alert PlainsightWeakCipher", Nothing, Nothing),
    ("alert PlainsightHandshakeFailureSpike", Any, Nothing),
    (
        "alert PlainsightCertificateExpiresIn30Days",
        Nothing,
        Nothing,
    ),
    (
        "alert PlainsightCertificateExpiresIn7Days",
        Nothing,
        Nothing,
    ),
    ("alert PlainsightDropping", Nothing, Nothing),
    ("alert PlainsightAgentDown", Nothing, Nothing),
    ("alert PlainsightAttachFailing", Nothing, Nothing),
];

/// Alerts the weak scenario must make active (pending or firing).
const WEAK_ALERTS: &[&str] = &[
    "PlainsightPlaintextInternal",
    "PlainsightCleartextCredentials",
    "PlainsightDeprecatedTls",
    "PlainsightStarttlsNotUsed",
    "PlainsightStarttlsNotOffered",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A query the dashboard runs, keyed as in [`TABLE`].
#[derive(Debug, Clone)]
struct PanelQuery {
    key: String,
    title: String,
    panel_type: String,
    unit: String,
    ref_id: String,
    legend: String,
    expr: String,
}

fn dashboard() -> Value {
    let text = std::fs::read_to_string(repo().join("dashboards/plainsight.json")).unwrap();
    serde_json::from_str(&text).expect("dashboards/plainsight.json is JSON")
}

/// Every target of every panel (rows hold none).
fn panel_queries(d: &Value) -> Vec<PanelQuery> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or("").to_owned();
            let ref_id = t["refId"].as_str().unwrap_or("").to_owned();
            out.push(PanelQuery {
                key: format!("{title} [{ref_id}]"),
                title,
                panel_type: p["type"].as_str().unwrap_or("").to_owned(),
                unit: p["fieldConfig"]["defaults"]["unit"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                ref_id,
                legend: t["legendFormat"].as_str().unwrap_or("").to_owned(),
                expr: t["expr"].as_str().expect("expr").to_owned(),
            });
        }
    }
    out
}

/// The query variables: (key, PromQL inside `query_result(...)`, label the regex takes).
fn variable_queries(d: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for v in d["templating"]["list"].as_array().expect("templating") {
        if v["type"] != "query" {
            continue;
        }
        let q = v["query"]["query"].as_str().expect("variable query");
        let inner = q
            .strip_prefix("query_result(")
            .and_then(|r| r.strip_suffix(')'))
            .expect("variables are query_result(...)");
        // The regex is /<label>="([^"]+)"/.
        let regex = v["regex"].as_str().expect("regex");
        let label = regex
            .trim_start_matches('/')
            .split('=')
            .next()
            .unwrap()
            .to_owned();
        out.push((
            format!("variable {}", v["name"].as_str().unwrap()),
            inner.to_owned(),
            label,
        ));
    }
    out
}

/// Alert names in `dashboards/alerts.yml`, in order.
fn alert_names() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("dashboards/alerts.yml")).unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("- alert:"))
        .map(|n| n.trim().to_owned())
        .collect()
}

#[test]
fn every_panel_and_alert_has_an_expectation() {
    let d = dashboard();
    let mut wanted: BTreeSet<String> = panel_queries(&d).into_iter().map(|q| q.key).collect();
    wanted.extend(variable_queries(&d).into_iter().map(|v| v.0));
    wanted.extend(alert_names().into_iter().map(|a| format!("alert {a}")));
    let table: BTreeSet<String> = TABLE.iter().map(|t| t.0.to_owned()).collect();
    assert_eq!(TABLE.len(), table.len(), "TABLE has a key twice");
    let missing: Vec<_> = wanted.difference(&table).collect();
    let stale: Vec<_> = table.difference(&wanted).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "e2e TABLE is out of step with the dashboard and alerts.yml:\n\
         without an expectation: {missing:#?}\nno longer in the files: {stale:#?}"
    );
    for (key, ..) in TABLE.iter().filter(|t| t.1 == Names || t.2 == Names) {
        assert!(
            key.starts_with("variable "),
            "{key}: Names is for variables"
        );
    }
}

fn value(s: &Value) -> f64 {
    s["value"][1]
        .as_str()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

fn nonzero(s: &Value) -> bool {
    let v = value(s);
    v.is_finite() && v != 0.0
}

fn label<'a>(s: &'a Value, k: &str) -> &'a str {
    s["metric"][k].as_str().unwrap_or("")
}

/// Whether `result` is what `want` says; `Err` explains why not.
fn check(want: Want, result: &[Value], ns: &str, var_label: &str) -> Result<(), String> {
    let shown = || serde_json::to_string(result).unwrap_or_default();
    let ok = match want {
        Any => result.iter().any(nonzero),
        Seen => result.iter().any(|s| {
            s["values"].as_array().into_iter().flatten().any(|v| {
                v[1].as_str()
                    .and_then(|x| x.parse::<f64>().ok())
                    .is_some_and(|x| x.is_finite() && x != 0.0)
            })
        }),
        Nothing => !result.iter().any(nonzero),
        Pair => result.iter().any(|s| {
            nonzero(s)
                && label(s, "src_namespace") == ns
                && label(s, "src_workload") == "web"
                && label(s, "dst_namespace") == ns
                && label(s, "dst_workload") == "db"
        }),
        Names => {
            let names: BTreeSet<&str> = result.iter().map(|s| label(s, var_label)).collect();
            if var_label == "ns" {
                names.contains(ns)
            } else {
                names.contains("web") && names.contains("db")
            }
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("wanted {want:?}, got {}", shown()))
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Weak,
    Hardened,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Weak => "weak",
            Scenario::Hardened => "hardened",
        }
    }

    fn want(self, row: &(&str, Want, Want)) -> Want {
        match self {
            Scenario::Weak => row.1,
            Scenario::Hardened => row.2,
        }
    }

    /// The scenario's traffic, once.
    fn traffic(self, lab: &Lab) {
        match self {
            Scenario::Weak => {
                lab.weak_all();
                lab.basic_auth_get("alice", "e2e-pw");
                lab.psql();
                // SMTP: AUTH in clear to a server without STARTTLS (not_offered), mail
                // in clear past an offered STARTTLS (not_used).
                lab.smtp(SMTP_PLAIN_PORT, "auth", "e2e", "e2e-smtp-pw");
                lab.smtp(SMTP_STARTTLS_PORT, "clear", "e2e", "e2e-smtp-pw");
                // One spike window (10 s) must hold min_failures (10).
                let took = lab.failing_handshakes(12);
                assert!(took < Duration::from_secs(9), "failures took {took:?}");
            }
            // Hardened is mutual TLS too: internal TLS without a client certificate
            // raises tls.mtls.absent (the default `[mtls] require = "internal"`).
            Scenario::Hardened => {
                lab.hardened_mtls_curl(false);
                lab.hardened_mtls_curl(true);
            }
        }
    }
}

const NODE: &str = "ps-e2e-node-a";

/// The agent's ServiceAccount and ClusterRole from deploy/, and a token for it.
fn agent_token(k: &plainsight_tests::k8s::Lab) -> String {
    k.kubectl(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: plainsight\n"),
    );
    let rbac = repo().join("deploy/base/rbac.yaml");
    k.kubectl(&["apply", "-f", rbac.to_str().unwrap()], None);
    k.kubectl(&["create", "token", "plainsight", "-n", "plainsight"], None)
        .trim()
        .to_owned()
}

/// The pods of one scenario: web (the lab client) and db (the lab server), deleted on
/// drop so that the next scenario's pods may take the same addresses.
struct Pods {
    rt: tokio::runtime::Runtime,
    ns: String,
    pods: Vec<String>,
}

impl Pods {
    fn create() -> Pods {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (ns, pods) = rt.block_on(async {
            let c = Cluster::admin().await;
            let ns = c.namespace("ps-e2e").await;
            let web = c.deployment_pod(&ns, "web", NODE).await;
            c.set_running(&ns, &web.pod, CLIENT_IP, "192.0.2.1").await;
            let db = c.statefulset_pod(&ns, "db", "ps-e2e-node-b").await;
            c.set_running(&ns, &db.pod, SERVER_IP, "192.0.2.2").await;
            (ns, vec![web.pod, db.pod])
        });
        Pods { rt, ns, pods }
    }
}

impl Drop for Pods {
    fn drop(&mut self) {
        self.rt.block_on(async {
            let c = Cluster::admin().await;
            for p in &self.pods {
                c.delete_pod(&self.ns, p).await;
            }
        });
    }
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s: {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The scenarios share the API server and the lab addresses: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(scenario: Scenario) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let k = k8s_lab();
    let token = agent_token(k);
    let pods = Pods::create();
    let ns = pods.ns.clone();

    let mut lab = Lab::new(
        &format!("ps-e2e-{}{}", &scenario.name()[..1], std::process::id()),
        Hub::Netns,
    );
    lab.start_servers();
    let _smtp = (scenario == Scenario::Weak).then(|| lab.start_smtp());
    let hub = lab.hub_ns.clone().expect("hub netns");
    let _forward = k.forward_into(&hub);
    let kubeconfig = k.kubeconfig_for_token(&token, &format!("e2e-{}", scenario.name()));
    let config = lab.path("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[kubernetes]\nenabled = true\nkubeconfig = \"{}\"\nnode_name = \"{NODE}\"\n",
            kubeconfig.display()
        ),
    )
    .unwrap();
    let agent = LiveAgent::start(&lab, 9940, &["--config", &config]);
    let prom = Prometheus::start(&lab, 9941, &agent.listen);
    wait_for("Prometheus scrapes the agent", 30, || prom.target_up());
    wait_for("the agent's watches are up", 30, || {
        let up = prom.query("plainsight_kubernetes_watch_up");
        !up.is_empty() && up.iter().all(|s| value(s) == 1.0)
    });
    let start = now();

    // Twice, a few scrapes apart: a counter's first sample is where rate() starts.
    scenario.traffic(&lab);
    std::thread::sleep(Duration::from_secs(4));
    scenario.traffic(&lab);
    let pair = format!(
        "plainsight_flows_total{{src_namespace=\"{ns}\",src_workload=\"web\",dst_namespace=\"{ns}\",dst_workload=\"db\"}}"
    );
    wait_for("Prometheus holds the web → db flows", 30, || {
        !prom.query(&pair).is_empty()
    });
    // The last flows finish, are scraped (1 s) and the rules evaluated (1 s).
    std::thread::sleep(Duration::from_secs(5));

    let d = dashboard();
    let mut failures = Vec::new();
    let mut checked = 0;
    let want_of = |key: &str| {
        TABLE
            .iter()
            .find(|t| t.0 == key)
            .map(|t| scenario.want(t))
            .unwrap_or_else(|| panic!("{key} has no TABLE entry"))
    };
    for (key, q, label) in variable_queries(&d) {
        let q = q.replace("$namespace", &ns);
        let r = prom.query(&q);
        checked += 1;
        if let Err(e) = check(want_of(&key), &r, &ns, &label) {
            failures.push(format!("{key}: {e}\n  {q}"));
        }
    }
    let queries = panel_queries(&d);
    for q in &queries {
        for workload in [".*", "web", "db"] {
            let expr = q
                .expr
                .replace("$namespace", &ns)
                .replace("$workload", workload);
            let want = want_of(&q.key);
            let r = if want == Seen {
                prom.query_range(&expr, start, now(), 1.0)
            } else {
                prom.query(&expr)
            };
            checked += 1;
            if let Err(e) = check(want, &r, &ns, "") {
                failures.push(format!("{} ($workload={workload}): {e}\n  {expr}", q.key));
            }
        }
    }
    let rules = prom.alert_rules();
    assert_eq!(
        rules.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        alert_names(),
        "Prometheus loaded other rules than alerts.yml names"
    );
    for (name, expr) in &rules {
        let key = format!("alert {name}");
        let r = prom.query(expr);
        checked += 1;
        if let Err(e) = check(want_of(&key), &r, &ns, "") {
            failures.push(format!("{key}: {e}\n  {expr}"));
        }
    }
    eprintln!(
        "{}: {checked} queries checked against Prometheus, {} off",
        scenario.name(),
        failures.len()
    );

    // The alerts as Prometheus holds them (pending: rules with `for:`; firing otherwise).
    let active = prom.alerts();
    let names: BTreeSet<&str> = active
        .iter()
        .filter_map(|a| a["labels"]["alertname"].as_str())
        .collect();
    match scenario {
        Scenario::Weak => {
            for a in WEAK_ALERTS {
                if !names.contains(a) {
                    failures.push(format!("alert {a} is not active: {names:?}"));
                }
            }
            let named = active.iter().any(|a| {
                a["labels"]["alertname"] == "PlainsightPlaintextInternal"
                    && a["labels"]["src_workload"] == "web"
                    && a["labels"]["dst_workload"] == "db"
                    && a["annotations"]["summary"]
                        .as_str()
                        .is_some_and(|s| s.contains(&format!("{ns}/web to {ns}/db")))
            });
            if !named {
                failures.push(format!(
                    "no PlainsightPlaintextInternal naming {ns}/web → {ns}/db: {active:#?}"
                ));
            }
        }
        Scenario::Hardened => {
            if !active.is_empty() {
                failures.push(format!(
                    "alerts active for the hardened scenario: {active:#?}"
                ));
            }
        }
    }

    if let Some(dir) = std::env::var_os("PLAINSIGHT_DASHBOARD_OUT") {
        // A minute more of the same traffic, so the rendered panels show rates over
        // time rather than a single step.
        for _ in 0..6 {
            std::thread::sleep(Duration::from_secs(8));
            scenario.traffic(&lab);
        }
        std::thread::sleep(Duration::from_secs(5));
        write_results(&prom, &queries, scenario, &ns, start, &PathBuf::from(dir));
    }
    assert!(
        failures.is_empty(),
        "{} scenario, namespace {ns}:\n{}\n\nagent /metrics:\n{}",
        scenario.name(),
        failures.join("\n"),
        agent
            .metrics()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.ends_with(" 0"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    drop(prom);
    drop(agent);
    drop(pods);
}

/// Each panel's results as the dashboard shows them ($workload = All): range queries
/// from the scenario's start, instant ones for tables.
fn write_results(
    prom: &Prometheus,
    queries: &[PanelQuery],
    scenario: Scenario,
    ns: &str,
    start: f64,
    dir: &std::path::Path,
) {
    let end = now();
    let from = start - 20.0;
    let panels: Vec<Value> = queries
        .iter()
        .map(|q| {
            let expr = q.expr.replace("$namespace", ns).replace("$workload", ".*");
            let result = if q.panel_type == "table" {
                prom.query(&expr)
            } else {
                prom.query_range(&expr, from, end, 1.0)
            };
            json!({ "title": q.title, "type": q.panel_type, "unit": q.unit, "refId": q.ref_id,
                    "legend": q.legend, "expr": expr, "result": result })
        })
        .collect();
    std::fs::create_dir_all(dir).unwrap();
    let out = json!({ "scenario": scenario.name(), "namespace": ns, "start": from, "end": end,
                      "panels": panels });
    let path = dir.join(format!("{}.json", scenario.name()));
    std::fs::write(&path, serde_json::to_string_pretty(&out).unwrap()).unwrap();
    eprintln!("wrote {}", path.display());
}

#[test]
fn weak_scenario_fills_the_dashboard_and_fires_the_alerts() {
    run(Scenario::Weak);
}

#[test]
fn hardened_scenario_leaves_the_alerts_silent() {
    run(Scenario::Hardened);
}
