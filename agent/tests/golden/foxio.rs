//! FoxIO JA4 Rust insta snapshots: `ja4/rust/ja4/src/snapshots/ja4__insta@<pcap>.snap`.
//!
//! The YAML list after the second `---` has one item per stream with `src`,
//! `dst`, `src_port`, `dst_port` (client first), `transport`,
//! `tls_server_name`, `ja4` and `tls_certs[].x509[]` (first = host cert).

use serde_yaml::Value;

use crate::model::{dn_from_parts, records_to_expects, Expect, Field, FlowKey, Record, Source};

pub fn parse(capture: &str, origin: &str, text: &str) -> Result<Vec<Expect>, String> {
    // Header: "---\nsource: ..\nexpression: ..\n---\n<body>".
    let body = text
        .splitn(3, "\n---")
        .nth(2)
        .or_else(|| {
            text.strip_prefix("---")
                .and_then(|t| t.split_once("\n---").map(|x| x.1))
        })
        .ok_or_else(|| format!("{origin}: no second `---` in snapshot"))?;
    let items: Value =
        serde_yaml::from_str(body).map_err(|e| format!("{origin}: bad YAML: {e}"))?;
    let Some(items) = items.as_sequence() else {
        return Ok(Vec::new());
    };
    let s = |v: &Value, k: &str| -> Option<String> {
        match v.get(k)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    let mut records = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let flow = match (
            s(item, "src"),
            s(item, "src_port"),
            s(item, "dst"),
            s(item, "dst_port"),
        ) {
            (Some(a), Some(ap), Some(b), Some(bp)) => FlowKey::parse(&a, &ap, &b, &bp),
            _ => None,
        };
        let Some(flow) = flow else { continue };
        let order = s(item, "stream")
            .and_then(|x| x.parse::<f64>().ok())
            .unwrap_or(i as f64);
        let mut r = Record::new(Some(flow), order);
        r.transport = match s(item, "transport").as_deref() {
            Some("tcp") => Some("tcp"),
            Some("udp") | Some("quic") => Some("udp"),
            _ => None,
        };
        if let Some(ja4) = s(item, "ja4") {
            r.push(Field::Ja4, &ja4);
        }
        if let Some(sni) = s(item, "tls_server_name") {
            r.push(Field::Sni, &sni);
        }
        let host = item
            .get("tls_certs")
            .and_then(|c| c.get(0))
            .and_then(|c| c.get("x509"))
            .and_then(|x| x.get(0));
        if let Some(h) = host {
            let subj = dn_from_parts(
                s(h, "subjectCommonName").as_deref(),
                s(h, "subjectOrganizationName").as_deref(),
            );
            let iss = dn_from_parts(
                s(h, "issuerCommonName").as_deref(),
                s(h, "issuerOrganizationName").as_deref(),
            );
            if let Some(v) = subj {
                r.push(Field::CertSubject, &v);
            }
            if let Some(v) = iss {
                r.push(Field::CertIssuer, &v);
            }
        }
        records.push(r);
    }
    Ok(records_to_expects(capture, origin, Source::FoxIo, records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_handwritten_snapshot() {
        let text = "---\nsource: ja4/src/lib.rs\nexpression: output\n---\n- stream: 0\n  transport: tcp\n  src: 10.0.0.1\n  dst: 10.0.0.2\n  src_port: 5000\n  dst_port: 443\n  tls_server_name: Example.com\n  ja4: t13d1516h2_8daaf6152771_e5627efa2ab1\n  tls_certs:\n  - x509:\n    - subjectCommonName: example.com\n      issuerOrganizationName: CA Inc\n- stream: 1\n  transport: udp\n  src: 10.0.0.1\n  dst: 10.0.0.2\n  src_port: 5001\n  dst_port: 53\n";
        let e = parse("x.pcap", "x.snap", text).unwrap();
        let get = |f: Field| e.iter().find(|x| x.field == f).map(|x| x.value.as_str());
        assert_eq!(
            get(Field::Ja4),
            Some("t13d1516h2_8daaf6152771_e5627efa2ab1")
        );
        assert_eq!(get(Field::Sni), Some("example.com"));
        assert_eq!(get(Field::CertSubject), Some("CN=example.com"));
        assert_eq!(get(Field::CertIssuer), Some("O=CA Inc"));
        assert!(e.iter().all(|x| x.transport == Some("tcp")));
        assert_eq!(e[0].flow.unwrap().server.1, 443);
    }
}
