//! Plainsight's JSON-lines events (the public event schema), reduced to the
//! compared fields in normal form.

use std::collections::HashMap;

use serde_json::Value;

use crate::model::{normalize, Field, FlowKey};

#[derive(Debug, Clone)]
pub struct Event {
    pub ts: f64,
    pub flow: FlowKey,
    pub transport: String,
    /// The event has a `tls` object.
    pub has_tls: bool,
    /// Normalised values; absent = null/missing in the event.
    pub values: HashMap<Field, String>,
    /// Finding ids raised on the flow.
    pub findings: Vec<String>,
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(a) => Some(a.iter().filter_map(as_text).collect::<Vec<_>>().join(",")),
        _ => None,
    }
}

/// Parses one line; the error says which required key is wrong.
pub fn parse_event(line: &str) -> Result<Event, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let req = |k: &str| -> Result<String, String> {
        v.get(k)
            .and_then(as_text)
            .ok_or_else(|| format!("missing or non-scalar `{k}`"))
    };
    let flow = FlowKey::parse(
        &req("src_ip")?,
        &req("src_port")?,
        &req("dst_ip")?,
        &req("dst_port")?,
    )
    .ok_or("unparsable src/dst ip or port")?;
    let ts = v
        .get("ts")
        .and_then(Value::as_f64)
        .ok_or("missing or non-numeric `ts`")?;
    let transport = req("transport")?;
    let mut values = HashMap::new();
    let mut put = |f: Field, raw: Option<String>| {
        if let Some(n) = raw.and_then(|r| normalize(f, &r)) {
            values.insert(f, n);
        }
    };
    put(Field::Protocol, v.get("protocol").and_then(as_text));
    let tls_obj = v.get("tls").filter(|t| t.is_object());
    if let Some(tls) = tls_obj {
        let t = |k: &str| tls.get(k).and_then(as_text);
        put(Field::Version, t("version"));
        put(Field::Cipher, t("cipher"));
        put(Field::Sni, t("sni"));
        put(Field::Alpn, t("alpn"));
        put(Field::AlpnSelected, t("alpn_selected"));
        put(Field::Ja3, t("ja3"));
        put(Field::Ja3s, t("ja3s"));
        put(Field::Ja4, t("ja4"));
        if let Some(c) = tls.get("cert").filter(|c| c.is_object()) {
            let c = |k: &str| c.get(k).and_then(as_text);
            put(Field::CertSubject, c("subject"));
            put(Field::CertIssuer, c("issuer"));
            put(Field::CertSerial, c("serial"));
            put(Field::CertNotBefore, c("not_before"));
            put(Field::CertNotAfter, c("not_after"));
            put(Field::CertSan, c("san"));
        }
    }
    // gQUIC (Q046, Q050) has no TLS handshake: its CHLO's server name is `quic.sni`, and
    // `tls` is null. Sources report it as the flow's SNI all the same.
    if tls_obj.is_none() {
        let quic_sni = v.get("quic").and_then(|q| q.get("sni")).and_then(as_text);
        put(Field::Sni, quic_sni);
    }
    let quic_ua = v.get("quic").and_then(|q| q.get("user_agent"));
    put(Field::UserAgent, quic_ua.and_then(as_text));
    let findings = v
        .get("findings")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(Event {
        ts,
        flow,
        transport,
        has_tls: tls_obj.is_some(),
        values,
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_fields_are_read_and_normalised() {
        let line = include_str!("fixtures/events.jsonl")
            .lines()
            .next()
            .unwrap();
        let e = parse_event(line).unwrap();
        assert_eq!(e.flow.server.1, 443);
        assert_eq!(e.values[&Field::Version], "TLS 1.2");
        assert_eq!(e.values[&Field::Alpn], "h2,http/1.1");
        assert_eq!(
            e.values[&Field::CertSerial],
            "5ECB7CEE8CA206BF9EC00728889AD99F4362CFD9"
        );
        assert_eq!(e.values[&Field::CertNotAfter], "1584947742");
        assert_eq!(e.values[&Field::CertSan], "bad.curveballtest.com");
        assert!(e.has_tls);
        assert!(parse_event("{\"ts\": 1}").unwrap_err().contains("src_ip"));
    }

    #[test]
    fn gquic_sni_is_read_from_the_quic_object_when_tls_is_null() {
        let ev = |tls: &str| {
            format!(
                r#"{{"ts":1.5,"src_ip":"10.0.0.1","src_port":40000,"dst_ip":"10.0.0.2","dst_port":443,"transport":"udp","protocol":"quic","tls":{tls},"quic":{{"version":"Q050","sni":"WWW.Example.com","user_agent":"Chrome/83"}}}}"#
            )
        };
        let e = parse_event(&ev("null")).unwrap();
        assert!(!e.has_tls);
        assert_eq!(e.values[&Field::Sni], "www.example.com");
        assert_eq!(e.values[&Field::UserAgent], "Chrome/83");
        // With a `tls` object its SNI is the one compared, never the `quic` object's.
        let e = parse_event(&ev(r#"{"sni":"tls.example"}"#)).unwrap();
        assert_eq!(e.values[&Field::Sni], "tls.example");
        let e = parse_event(&ev("{}")).unwrap();
        assert!(!e.values.contains_key(&Field::Sni));
    }
}
