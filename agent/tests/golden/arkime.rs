//! Arkime `.test` session documents (`arkime/tests/pcap/<name>.test`).
//!
//! `sessions3[].body`: `source`/`destination` {ip, port} (client first),
//! `firstPacket` (ms, used to order sessions with the same tuple),
//! `protocol[]`, `tls` {version[], cipher[], ja3[], ja3s[], ja4[]},
//! `cert[0]` (host certificate: subjectCN/ON, issuerCN/ON, serial,
//! notBefore/notAfter in ms, alt[]). `http.host` is the SNI only in TLS
//! sessions. Protocol: the schema names of `protocol[]` as alternatives.

use serde_json::Value;

use crate::model::{
    dn_from_parts, map_protocol, records_to_expects, Expect, Field, FlowKey, Record, Source,
};

fn first_str(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Array(a) => a.first().and_then(|x| first_str(Some(x))),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn parse(capture: &str, origin: &str, text: &str) -> Result<Vec<Expect>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("{origin}: bad JSON: {e}"))?;
    let Some(sessions) = doc.get("sessions3").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    let mut records = Vec::new();
    for (i, s) in sessions.iter().enumerate() {
        let Some(b) = s.get("body") else { continue };
        let ep = |k: &str| -> Option<(String, String)> {
            let e = b.get(k)?;
            Some((first_str(e.get("ip"))?, first_str(e.get("port"))?))
        };
        let (Some((sip, sport)), Some((dip, dport))) = (ep("source"), ep("destination")) else {
            continue;
        };
        let Some(flow) = FlowKey::parse(&sip, &sport, &dip, &dport) else {
            continue;
        };
        let order = b
            .get("firstPacket")
            .and_then(Value::as_f64)
            .unwrap_or(i as f64);
        let mut r = Record::new(Some(flow), order);
        r.transport = match b.get("ipProtocol").and_then(Value::as_u64) {
            Some(6) => Some("tcp"),
            Some(17) => Some("udp"),
            _ => None,
        };
        let protocols: Vec<String> = b
            .get("protocol")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut alts: Vec<&str> = protocols.iter().filter_map(|p| map_protocol(p)).collect();
        alts.dedup();
        if !alts.is_empty() {
            r.push(Field::Protocol, &alts.join("|"));
        }
        let is_tls = protocols.iter().any(|p| p == "tls");
        if let Some(tls) = b.get("tls") {
            for (k, f) in [
                ("version", Field::Version),
                ("cipher", Field::Cipher),
                ("ja3", Field::Ja3),
                ("ja3s", Field::Ja3s),
                ("ja4", Field::Ja4),
            ] {
                if let Some(v) = first_str(tls.get(k)) {
                    r.push(f, &v);
                }
            }
        }
        if is_tls {
            if let Some(h) = first_str(b.get("http").and_then(|h| h.get("host"))) {
                r.push(Field::Sni, &h);
            }
        }
        if let Some(c) = b.get("cert").and_then(|c| c.get(0)) {
            let f = |k: &str| first_str(c.get(k));
            if let Some(v) = dn_from_parts(f("subjectCN").as_deref(), f("subjectON").as_deref()) {
                r.push(Field::CertSubject, &v);
            }
            if let Some(v) = dn_from_parts(f("issuerCN").as_deref(), f("issuerON").as_deref()) {
                r.push(Field::CertIssuer, &v);
            }
            if let Some(v) = f("serial") {
                r.push(Field::CertSerial, &v);
            }
            if let Some(v) = f("notBefore") {
                r.push(Field::CertNotBefore, &v);
            }
            if let Some(v) = f("notAfter") {
                r.push(Field::CertNotAfter, &v);
            }
            if let Some(alt) = c.get("alt").and_then(Value::as_array) {
                let v: Vec<&str> = alt.iter().filter_map(Value::as_str).collect();
                r.push(Field::CertSan, &v.join(","));
            }
        }
        records.push(r);
    }
    Ok(records_to_expects(capture, origin, Source::Arkime, records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_become_expectations() {
        let text = r#"{"sessions3":[{"body":{"source":{"ip":"10.0.0.1","port":5000},
          "destination":{"ip":"10.0.0.2","port":443},"ipProtocol":6,"firstPacket":2000,
          "protocol":["tcp","tls"],"http":{"host":["a.example"]},
          "tls":{"version":["TLSv1.2"],"cipher":["TLS_RSA_WITH_RC4_128_SHA"],"ja4":["t12d_x"]},
          "cert":[{"subjectCN":["a.example"],"issuerON":["CA"],"serial":"00ab",
                   "notBefore":1521875742000,"alt":["b.example","a.example"]}]}},
          {"body":{"source":{"ip":"10.0.0.1","port":5000},
          "destination":{"ip":"10.0.0.2","port":443},"firstPacket":1000,"protocol":["tcp","http"],
          "http":{"host":["plain.example"]}}}]}"#;
        let e = parse("c", "o", text).unwrap();
        let find = |f: Field| {
            e.iter()
                .find(|x| x.field == f)
                .map(|x| (x.value.as_str(), x.ordinal))
        };
        assert_eq!(find(Field::Version), Some(("TLS 1.2", 1)));
        assert_eq!(find(Field::Protocol), Some(("http", 0)));
        assert_eq!(find(Field::Sni), Some(("a.example", 1)));
        assert_eq!(find(Field::CertSerial), Some(("AB", 1)));
        assert_eq!(find(Field::CertNotBefore), Some(("1521875742", 1)));
        assert_eq!(find(Field::CertSan), Some(("a.example,b.example", 1)));
        assert_eq!(find(Field::CertSubject), Some(("CN=a.example", 1)));
    }
}
