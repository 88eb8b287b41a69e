//! Peer tool outputs: Suricata 7.0.10 `eve.json` and tshark 4.0.17 TSV.
//!
//! Suricata: events are grouped by `flow_id` (only meaningful within one
//! file), one record per flow ordered by its first timestamp. `tls` events
//! give version, sni, ja3/ja3s hashes, ja4, subject, issuerdn, serial,
//! notbefore, notafter; `flow` events give `app_proto`; the client's `quic`
//! event gives sni, ja3, ja4 and (gQUIC) ua. Suricata 7 logs no cipher and no
//! ALPN.
//!
//! tshark: rows are grouped by `tcp.stream` (rows without one, i.e. DTLS and
//! QUIC, carry no ports in the TSV and are skipped). The first ClientHello
//! of a stream gives the flow (its source is the client), JA3 (hash), SNI and
//! the ALPN list; the first ServerHello gives JA3S, the cipher (numeric code
//! → IANA name) and the version (`supported_version` when present, else
//! `handshake.version`) and the selected ALPN.

use std::collections::HashMap;

use serde_json::Value;

use crate::model::{
    map_protocol, norm_date, records_to_expects, Expect, Field, FlowKey, Record, Source,
};

pub fn parse_eve(capture: &str, origin: &str, text: &str) -> Result<Vec<Expect>, String> {
    let mut by_flow: HashMap<String, Record> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let ev: Value =
            serde_json::from_str(line).map_err(|e| format!("{origin}:{}: bad JSON: {e}", i + 1))?;
        let s = |k: &str| -> Option<String> {
            match ev.get(k)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let Some(flow) = (|| {
            FlowKey::parse(
                &s("src_ip")?,
                &s("src_port")?,
                &s("dest_ip")?,
                &s("dest_port")?,
            )
        })() else {
            continue;
        };
        let id = s("flow_id").unwrap_or_else(|| format!("line{i}"));
        let ts = s("timestamp")
            .and_then(|t| norm_date(&t))
            .map(|t| t as f64)
            .unwrap_or(0.0);
        let rec = by_flow.entry(id.clone()).or_insert_with(|| {
            order.push(id.clone());
            Record::new(Some(flow), ts)
        });
        rec.order = rec.order.min(ts);
        rec.transport = match s("proto").as_deref() {
            Some("TCP") => Some("tcp"),
            Some("UDP") => Some("udp"),
            _ => rec.transport,
        };
        match s("event_type").as_deref() {
            Some("tls") => {
                let Some(tls) = ev.get("tls") else { continue };
                // The tls event's src is the client.
                rec.flow = Some(flow);
                let t = |k: &str| tls.get(k).and_then(Value::as_str).map(str::to_string);
                let h = |k: &str| {
                    tls.get(k)
                        .and_then(|x| x.get("hash"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                };
                for (v, f) in [
                    (t("version"), Field::Version),
                    (t("sni"), Field::Sni),
                    (h("ja3"), Field::Ja3),
                    (h("ja3s"), Field::Ja3s),
                    (t("ja4"), Field::Ja4),
                    (t("subject"), Field::CertSubject),
                    (t("issuerdn"), Field::CertIssuer),
                    (t("serial"), Field::CertSerial),
                    (t("notbefore"), Field::CertNotBefore),
                    (t("notafter"), Field::CertNotAfter),
                ] {
                    if let Some(v) = v {
                        rec.push(f, &v);
                    }
                }
            }
            Some("quic") => {
                // The client's Initial gives the event with `sni` (its src is the client);
                // the server's carries only the version.
                let Some(q) = ev.get("quic").filter(|q| q.get("sni").is_some()) else {
                    continue;
                };
                rec.flow = Some(flow);
                let t = |k: &str| q.get(k).and_then(Value::as_str).map(str::to_string);
                let ja3 = q
                    .get("ja3")
                    .and_then(|x| x.get("hash"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                for (v, f) in [
                    (t("sni"), Field::Sni),
                    (ja3, Field::Ja3),
                    (t("ja4"), Field::Ja4),
                    (t("ua"), Field::UserAgent),
                ] {
                    if let Some(v) = v {
                        rec.push(f, &v);
                    }
                }
            }
            Some("flow") => {
                if let Some(p) = s("app_proto").as_deref().and_then(map_protocol) {
                    rec.push(Field::Protocol, p);
                }
            }
            _ => {}
        }
    }
    let records: Vec<Record> = order
        .into_iter()
        .filter_map(|id| by_flow.remove(&id))
        .collect();
    Ok(records_to_expects(
        capture,
        origin,
        Source::SuricataEve,
        records,
    ))
}

pub fn parse_tshark(capture: &str, origin: &str, text: &str) -> Result<Vec<Expect>, String> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok(Vec::new());
    };
    let cols: Vec<&str> = header.split('\t').collect();
    let idx = |name: &str| cols.iter().position(|c| *c == name);
    let col = |row: &[&str], name: &str| -> String {
        idx(name)
            .and_then(|i| row.get(i))
            .map(|s| s.to_string())
            .unwrap_or_default()
    };
    let first = |v: String| v.split(',').next().unwrap_or("").to_string();

    struct Stream {
        rec: Record,
        client: bool,
        server: bool,
    }
    let mut streams: HashMap<String, Stream> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for line in lines {
        let row: Vec<&str> = line.split('\t').collect();
        let stream = col(&row, "tcp.stream");
        if stream.is_empty() {
            continue;
        }
        let types: Vec<String> = col(&row, "tls.handshake.type")
            .split(',')
            .map(str::to_string)
            .collect();
        // An IP-in-IP packet (6in4, 4in6) has both columns filled and the TSV does not say
        // which header is the inner one: the IPv4 pair is the flow, the IPv6 pair the
        // alternative the join falls back to (Expect::alt_flow).
        let (v4s, v6s) = (col(&row, "ip.src"), col(&row, "ipv6.src"));
        let (v4d, v6d) = (col(&row, "ip.dst"), col(&row, "ipv6.dst"));
        // Several values in one column (IPv4 in IPv4, GTP-U): the last header is the inner.
        let last = |v: &String| v.rsplit(',').next().unwrap_or("").to_string();
        let (src, dst) = if v4s.is_empty() {
            (last(&v6s), last(&v6d))
        } else {
            (last(&v4s), last(&v4d))
        };
        let alt = if !v4s.is_empty() && !v6s.is_empty() {
            FlowKey::parse(
                &last(&v6s),
                &first(col(&row, "tcp.srcport")),
                &last(&v6d),
                &first(col(&row, "tcp.dstport")),
            )
        } else {
            None
        };
        let frame: f64 = col(&row, "frame.number").parse().unwrap_or(0.0);
        let Some(flow) = FlowKey::parse(
            &first(src),
            &first(col(&row, "tcp.srcport")),
            &first(dst),
            &first(col(&row, "tcp.dstport")),
        ) else {
            continue;
        };
        let st = streams.entry(stream.clone()).or_insert_with(|| {
            order.push(stream.clone());
            let mut rec = Record::new(Some(flow), frame);
            rec.transport = Some("tcp");
            rec.alt_flow = alt;
            Stream {
                rec,
                client: false,
                server: false,
            }
        });
        if types.iter().any(|t| t == "1") && !st.client {
            st.client = true;
            st.rec.flow = Some(flow);
            st.rec.alt_flow = alt;
            st.rec
                .push(Field::Ja3, &first(col(&row, "tls.handshake.ja3")));
            st.rec.push(
                Field::Sni,
                &first(col(&row, "tls.handshake.extensions_server_name")),
            );
            st.rec
                .push(Field::Alpn, &col(&row, "tls.handshake.extensions_alpn_str"));
        } else if types.iter().any(|t| t == "2") && !st.server {
            st.server = true;
            st.rec
                .push(Field::Ja3s, &first(col(&row, "tls.handshake.ja3s")));
            st.rec.push(
                Field::Cipher,
                &first(col(&row, "tls.handshake.ciphersuite")),
            );
            let sv = first(col(&row, "tls.handshake.extensions.supported_version"));
            let v = if sv.is_empty() {
                first(col(&row, "tls.handshake.version"))
            } else {
                sv
            };
            st.rec.push(Field::Version, &v);
            st.rec.push(
                Field::AlpnSelected,
                &first(col(&row, "tls.handshake.extensions_alpn_str")),
            );
        }
    }
    let records: Vec<Record> = order
        .into_iter()
        .filter_map(|id| streams.remove(&id))
        .map(|s| s.rec)
        .collect();
    Ok(records_to_expects(capture, origin, Source::Tshark, records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eve_groups_tls_and_flow_events() {
        let text = r#"{"timestamp":"2023-08-23T21:19:39.634709+0000","flow_id":1,"event_type":"tls","src_ip":"2600:1f13:00f8:d400:03a6:303c:e011:18eb","src_port":60202,"dest_ip":"2607:f8b0:400a:0800:0000:0000:0000:200e","dest_port":443,"proto":"TCP","tls":{"sni":"ipv6.google.com","version":"TLS 1.3","ja3":{"hash":"e690df036922288311144cc96acf6515"},"ja3s":{"hash":"907bf3ecef1c987c889946b737b43de8"},"ja4":"t13d3613h2_018971650b2c_e7e754ef087b","serial":"0A:0B"}}
{"timestamp":"2023-08-23T21:19:39.634709+0000","flow_id":1,"event_type":"flow","src_ip":"2600:1f13:f8:d400:3a6:303c:e011:18eb","src_port":60202,"dest_ip":"2607:f8b0:400a:800::200e","dest_port":443,"proto":"TCP","app_proto":"tls"}
"#;
        let e = parse_eve("c", "o", text).unwrap();
        assert!(e.iter().all(|x| x.ordinal == 0));
        let vals: Vec<(Field, &str)> = e.iter().map(|x| (x.field, x.value.as_str())).collect();
        assert!(vals.contains(&(Field::Protocol, "tls")));
        assert!(vals.contains(&(Field::Version, "TLS 1.3")));
        assert!(vals.contains(&(Field::CertSerial, "A0B")));
        assert!(vals.contains(&(Field::Ja4, "t13d3613h2_018971650b2c_e7e754ef087b")));
    }

    #[test]
    fn eve_quic_events_give_the_client_hello_facts() {
        // Shaped as peers/suricata-7.0.10/ndpi/tests/cfgs/default/pcap/quic-29.pcap.eve.json:
        // the client's event has sni and ja3, the server's only the version.
        let text = r#"{"timestamp":"2020-06-14T21:54:31.664832+0000","flow_id":7,"event_type":"quic","src_ip":"10.9.0.1","src_port":36588,"dest_ip":"10.9.0.2","dest_port":443,"proto":"UDP","quic":{"version":"ff00001d","sni":"localhost","ja3":{"hash":"b3e43d74f4b790abca2f5fe7dd06e7cf"}}}
{"timestamp":"2020-06-14T21:54:31.665593+0000","flow_id":7,"event_type":"quic","src_ip":"10.9.0.2","src_port":443,"dest_ip":"10.9.0.1","dest_port":36588,"proto":"UDP","quic":{"version":"ff00001d"}}
{"timestamp":"2020-06-14T21:54:31.664832+0000","flow_id":7,"event_type":"flow","src_ip":"10.9.0.1","src_port":36588,"dest_ip":"10.9.0.2","dest_port":443,"proto":"UDP","app_proto":"quic"}
"#;
        let e = parse_eve("c", "o", text).unwrap();
        let vals: Vec<(Field, &str)> = e.iter().map(|x| (x.field, x.value.as_str())).collect();
        assert!(vals.contains(&(Field::Protocol, "quic")), "{vals:?}");
        assert!(vals.contains(&(Field::Sni, "localhost")));
        assert!(vals.contains(&(Field::Ja3, "b3e43d74f4b790abca2f5fe7dd06e7cf")));
        assert!(e.iter().all(|x| x.transport == Some("udp")));
        assert_eq!(e[0].flow.unwrap().server.1, 443);
    }

    #[test]
    fn eve_gquic_events_give_sni_and_user_agent() {
        // Shaped as peers/suricata-7.0.10/ndpi/tests/cfgs/default/pcap/quic_q50.pcap.eve.json.
        let text = r#"{"timestamp":"2020-06-17T10:01:28.469619+0000","flow_id":4,"event_type":"quic","src_ip":"10.0.0.1","src_port":39203,"dest_ip":"10.0.0.2","dest_port":443,"proto":"UDP","quic":{"version":"51303530","sni":"www.googletagmanager.com","ua":"Chrome/83.0.4103.101 Android 8.0.0; LDN-L21"}}
"#;
        let e = parse_eve("c", "o", text).unwrap();
        let vals: Vec<(Field, &str)> = e.iter().map(|x| (x.field, x.value.as_str())).collect();
        assert!(vals.contains(&(Field::Sni, "www.googletagmanager.com")));
        assert!(
            vals.contains(&(
                Field::UserAgent,
                "Chrome/83.0.4103.101 Android 8.0.0; LDN-L21"
            )),
            "{vals:?}"
        );
    }

    #[test]
    fn tshark_rows_group_by_stream() {
        let text = "frame.number\ttcp.stream\tip.src\tipv6.src\ttcp.srcport\tip.dst\tipv6.dst\ttcp.dstport\ttls.record.version\ttls.handshake.type\ttls.handshake.version\ttls.handshake.extensions.supported_version\ttls.handshake.ciphersuite\ttls.handshake.extensions_server_name\ttls.handshake.extensions_alpn_str\ttls.handshake.extensions_supported_group\ttls.handshake.ja3\ttls.handshake.ja3_full\ttls.handshake.ja3s\ttls.handshake.ja3s_full
4\t0\t172.130.128.76\t\t55318\t54.226.182.138\t\t443\t0x0301\t1\t0x0303\t0x2a2a,0x0304\t0xaaaa,0x1301\tbad.curveballtest.com\tH2,http/1.1\t0xcaca\t66918128f1b9b03303d77c6f2eefd128\t771,...\t\t
6\t0\t54.226.182.138\t\t443\t172.130.128.76\t\t55318\t0x0303\t2,11\t0x0303\t\t0xc02b\t\thttp/1.1\t\t\t\t2d1eb5817ece335c24904f516ad5da12\t771,49195,0-65281-11-35-16
";
        let e = parse_tshark("c", "o", text).unwrap();
        let vals: Vec<(Field, &str)> = e.iter().map(|x| (x.field, x.value.as_str())).collect();
        for want in [
            (Field::Ja3, "66918128f1b9b03303d77c6f2eefd128"),
            (Field::Ja3s, "2d1eb5817ece335c24904f516ad5da12"),
            (Field::Cipher, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
            (Field::Version, "TLS 1.2"),
            (Field::Sni, "bad.curveballtest.com"),
            (Field::Alpn, "H2,http/1.1"),
            (Field::AlpnSelected, "http/1.1"),
        ] {
            assert!(vals.contains(&want), "{want:?} not in {vals:?}");
        }
        let f = e[0].flow.unwrap();
        assert_eq!(f.client.1, 55318);
    }
}
