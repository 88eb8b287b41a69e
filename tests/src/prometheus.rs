//! A real Prometheus (Debian's package) for end-to-end tests: it scrapes a live agent
//! every second and evaluates `dashboards/alerts.yml` every second, in the lab's hub
//! namespace (where the agent's endpoint is), on loopback only.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::lab::{http_get, which, Lab};
use crate::Guard;

#[derive(Debug)]
pub struct Prometheus {
    _proc: Guard,
    pub listen: String,
    hub_ns: Option<String>,
    pub log: String,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (host:port of an agent) with the repository's
    /// alert rules, and waits until it is ready.
    pub fn start(lab: &Lab, port: u16, target: &str) -> Prometheus {
        let bin = which("prometheus").expect("prometheus missing: run `cargo xtask setup`");
        let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dashboards/alerts.yml");
        let rules = rules.canonicalize().expect("dashboards/alerts.yml");
        let data = lab.path("prometheus-data");
        let _ = std::fs::remove_dir_all(&data);
        let config = lab.path("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {}\n\
                 scrape_configs:\n  - job_name: plainsight\n    static_configs:\n      - targets: ['{target}']\n",
                rules.display()
            ),
        )
        .expect("write prometheus.yml");
        let listen = format!("127.0.0.1:{port}");
        let log = lab.path("prometheus.log");
        let args = [
            bin.as_str(),
            &format!("--config.file={config}"),
            &format!("--storage.tsdb.path={data}"),
            &format!("--web.listen-address={listen}"),
            "--log.level=warn",
        ];
        let child = lab
            .hub_cmd(&args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log"))
            .stderr(std::fs::File::create(format!("{log}.err")).expect("log"))
            .spawn()
            .expect("spawn prometheus");
        let p = Prometheus {
            _proc: Guard(child),
            listen,
            hub_ns: lab.hub_ns.clone(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while p.get("/-/ready").0 != 200 {
            assert!(
                Instant::now() < deadline,
                "prometheus not ready within 60 s: {}",
                std::fs::read_to_string(format!("{}.err", p.log)).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }

    fn get(&self, path: &str) -> (u16, String) {
        http_get(
            self.hub_ns.as_deref(),
            &format!("http://{}{path}", self.listen),
            &[],
        )
    }

    /// `data.result` of an instant query (panics on an API error).
    pub fn query(&self, promql: &str) -> Vec<Value> {
        let url = format!("http://{}/api/v1/query", self.listen);
        let query = format!("query={promql}");
        let (code, body) = http_get(self.hub_ns.as_deref(), &url, &["--data-urlencode", &query]);
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("query {promql:?}: HTTP {code}, not JSON ({e}): {body}"));
        assert_eq!(v["status"], "success", "query {promql:?}: {body}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// `data.result` of a range query from `start` to `end` (Unix seconds) every `step`
    /// seconds (panics on an API error): what a Grafana time-series panel draws.
    pub fn query_range(&self, promql: &str, start: f64, end: f64, step: f64) -> Vec<Value> {
        let url = format!("http://{}/api/v1/query_range", self.listen);
        let args = [
            format!("query={promql}"),
            format!("start={start:.3}"),
            format!("end={end:.3}"),
            format!("step={step}"),
        ];
        let mut extra = Vec::new();
        for a in &args {
            extra.extend_from_slice(&["--data-urlencode", a.as_str()]);
        }
        let (code, body) = http_get(self.hub_ns.as_deref(), &url, &extra);
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| {
            panic!("query_range {promql:?}: HTTP {code}, not JSON ({e}): {body}")
        });
        assert_eq!(v["status"], "success", "query_range {promql:?}: {body}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// The alerting rules Prometheus loaded: (name, PromQL expression), in file order.
    pub fn alert_rules(&self) -> Vec<(String, String)> {
        let (code, body) = self.get("/api/v1/rules?type=alert");
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("rules: HTTP {code}, not JSON ({e}): {body}"));
        let mut out = Vec::new();
        for g in v["data"]["groups"].as_array().into_iter().flatten() {
            for r in g["rules"].as_array().into_iter().flatten() {
                let name = r["name"].as_str().unwrap_or("").to_owned();
                out.push((name, r["query"].as_str().unwrap_or("").to_owned()));
            }
        }
        out
    }

    /// The alerts Prometheus holds now (pending or firing).
    pub fn alerts(&self) -> Vec<Value> {
        let (code, body) = self.get("/api/v1/alerts");
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("alerts: HTTP {code}, not JSON ({e}): {body}"));
        v["data"]["alerts"].as_array().cloned().unwrap_or_default()
    }

    /// Whether the agent's target is up (one scrape succeeded).
    pub fn target_up(&self) -> bool {
        self.query("up{job=\"plainsight\"} == 1").len() == 1
    }
}
