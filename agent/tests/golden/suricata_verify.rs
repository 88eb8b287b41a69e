//! Suricata-verify `test.yaml` checks.
//!
//! Only `filter` checks with `event_type: tls` and `count >= 1` are used, and
//! only their `tls.*` keys (checks are partial). Filters whose `requires` has
//! an `lt-version` (they describe old Suricata releases) are skipped.
//! `UNDETERMINED` versions mean "no version" and are dropped. A check without
//! `src_ip`/`dest_ip`/ports has no flow: any flow of the capture with the
//! value satisfies it.

use serde_yaml::Value;

use crate::model::{records_to_expects, Expect, Field, FlowKey, Record, Source};

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Sequence(seq) => Some(seq.iter().filter_map(scalar).collect::<Vec<_>>().join(",")),
        _ => None,
    }
}

pub fn parse(capture: &str, origin: &str, text: &str) -> Result<Vec<Expect>, String> {
    let doc: Value = serde_yaml::from_str(text).map_err(|e| format!("{origin}: bad YAML: {e}"))?;
    let Some(checks) = doc.get("checks").and_then(Value::as_sequence) else {
        return Ok(Vec::new());
    };
    let mut records = Vec::new();
    for (i, check) in checks.iter().enumerate() {
        let Some(filter) = check.get("filter") else {
            continue;
        };
        if let Some(req) = filter.get("requires") {
            if req.get("lt-version").is_some() {
                continue;
            }
        }
        let count = filter.get("count").and_then(Value::as_u64).unwrap_or(1);
        if count == 0 {
            continue;
        }
        let Some(m) = filter.get("match").and_then(Value::as_mapping) else {
            continue;
        };
        let get = |k: &str| m.get(Value::String(k.to_string())).and_then(scalar);
        if get("event_type").as_deref() != Some("tls") {
            continue;
        }
        let flow = match (
            get("src_ip"),
            get("src_port"),
            get("dest_ip"),
            get("dest_port"),
        ) {
            (Some(a), Some(ap), Some(b), Some(bp)) => FlowKey::parse(&a, &ap, &b, &bp),
            _ => None,
        };
        let mut r = Record::new(flow, i as f64);
        r.transport = match get("proto").as_deref() {
            Some("TCP") => Some("tcp"),
            Some("UDP") => Some("udp"),
            _ => None,
        };
        let map = [
            ("tls.version", Field::Version),
            ("tls.sni", Field::Sni),
            ("tls.ja4", Field::Ja4),
            ("tls.ja3.hash", Field::Ja3),
            ("tls.ja3s.hash", Field::Ja3s),
            ("tls.client_alpns", Field::Alpn),
            ("tls.subject", Field::CertSubject),
            ("tls.issuerdn", Field::CertIssuer),
            ("tls.serial", Field::CertSerial),
            ("tls.notbefore", Field::CertNotBefore),
            ("tls.notafter", Field::CertNotAfter),
            ("tls.server_handshake.cipher", Field::Cipher),
        ];
        for (k, f) in map {
            if let Some(v) = get(k) {
                r.push(f, &v);
            }
        }
        // The server sends at most one ALPN.
        if let Some(v) = get("tls.server_alpns") {
            if !v.contains(',') {
                r.push(Field::AlpnSelected, &v);
            }
        }
        records.push(r);
    }
    Ok(records_to_expects(
        capture,
        origin,
        Source::SuricataVerify,
        records,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_checks_become_expectations() {
        let text = r#"
requires:
  min-version: 8
checks:
- filter:
    count: 1
    match:
      event_type: tls
      src_ip: 192.168.0.253
      src_port: 50282
      dest_ip: 151.101.36.133
      dest_port: 443
      tls.serial: 08:3A:84
      tls.notafter: '2020-05-13T12:00:00'
      tls.version: TLS 1.2
      tls.client_alpns: [h2, http/1.1]
- filter:
    count: 1
    match:
      event_type: tls
      tls.version: UNDETERMINED
      tls.sni: Example.org
- filter:
    requires:
      lt-version: 8
    count: 1
    match:
      event_type: tls
      tls.sni: old.example
- filter:
    count: 0
    match:
      event_type: tls
      tls.sni: never.example
"#;
        let e = parse("c.pcap", "t.yaml", text).unwrap();
        let vals: Vec<(Field, &str, bool)> = e
            .iter()
            .map(|x| (x.field, x.value.as_str(), x.flow.is_some()))
            .collect();
        assert!(vals.contains(&(Field::CertSerial, "83A84", true)));
        assert!(vals.contains(&(Field::CertNotAfter, "1589371200", true)));
        assert!(vals.contains(&(Field::Version, "TLS 1.2", true)));
        assert!(vals.contains(&(Field::Alpn, "h2,http/1.1", true)));
        assert!(vals.contains(&(Field::Sni, "example.org", false)));
        assert_eq!(vals.len(), 5, "{vals:?}");
    }
}
