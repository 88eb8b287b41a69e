//! Joins our events to expectations and tallies agreement.
//!
//! Join: on the direction-free 5-tuple (and the transport when the source
//! names it). Our events with the same tuple are ordered by `ts`; the
//! expectation with ordinal k (the source's k-th record for that tuple, in
//! time or file order) is compared with our k-th event. For TLS fields only
//! our events with a `tls` object count when there is any (so a failed
//! connection attempt that reuses the tuple, which TLS logs do not list,
//! does not shift the pairing); likewise protocol expectations skip our
//! events with protocol `none` (no payload) when there is another. An expectation
//! without a flow (Suricata-verify checks without addresses) agrees when any
//! event of the capture has the value.

use std::collections::{BTreeMap, HashMap};

use crate::exceptions::Exceptions;
use crate::model::{values_agree, Endpoint, Expect, Field, Source};
use crate::ours::Event;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Agree,
    Disagree,
    /// No event for the flow, or the event has no value for the field.
    Missing,
    /// Disagree or missing, but listed in the exceptions file.
    Excused,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub expect: Expect,
    pub verdict: Verdict,
    /// Our normalised value (None: no event, or null).
    pub ours: Option<String>,
    /// Why it is missing, or the exception's reason.
    pub note: String,
}

pub fn compare(expects: &[Expect], events: &[Event], exceptions: &Exceptions) -> Vec<Outcome> {
    let mut by_tuple: HashMap<(Endpoint, Endpoint), Vec<&Event>> = HashMap::new();
    for e in events {
        by_tuple.entry(e.flow.canonical()).or_default().push(e);
    }
    for v in by_tuple.values_mut() {
        v.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    }
    let mut out = Vec::with_capacity(expects.len());
    for x in expects {
        // A tunnelled flow named by both headers' addresses: take the pair we report.
        let flow = match (x.flow, x.alt_flow) {
            (Some(f), Some(alt))
                if !by_tuple.contains_key(&f.canonical())
                    && by_tuple.contains_key(&alt.canonical()) =>
            {
                Some(alt)
            }
            (f, _) => f,
        };
        let (verdict, ours, note) = match flow {
            Some(flow) => {
                let mut cands: Vec<&Event> = by_tuple
                    .get(&flow.canonical())
                    .map(|v| {
                        v.iter()
                            .filter(|e| x.transport.is_none_or(|t| e.transport == t))
                            .copied()
                            .collect()
                    })
                    .unwrap_or_default();
                if x.field != Field::Protocol && cands.iter().any(|e| e.has_tls) {
                    cands.retain(|e| e.has_tls);
                }
                // A source names a flow's protocol only when it saw payload.
                let payload =
                    |e: &&Event| e.values.get(&Field::Protocol).is_some_and(|p| p != "none");
                if x.field == Field::Protocol && cands.iter().any(payload) {
                    cands.retain(payload);
                }
                match cands.get(x.ordinal) {
                    None if cands.is_empty() => {
                        (Verdict::Missing, None, "no event for this flow".to_string())
                    }
                    None => (
                        Verdict::Missing,
                        None,
                        format!(
                            "source has flow #{} for this tuple, we have {} event(s)",
                            x.ordinal + 1,
                            cands.len()
                        ),
                    ),
                    Some(ev) => match ev.values.get(&x.field) {
                        None => (Verdict::Missing, None, "field is null".to_string()),
                        Some(v) if values_agree(x.field, &x.value, v) => {
                            (Verdict::Agree, Some(v.clone()), String::new())
                        }
                        Some(v) => (Verdict::Disagree, Some(v.clone()), String::new()),
                    },
                }
            }
            None => {
                let vals: Vec<&String> = events
                    .iter()
                    .filter_map(|e| e.values.get(&x.field))
                    .collect();
                if let Some(v) = vals.iter().find(|v| values_agree(x.field, &x.value, v)) {
                    (Verdict::Agree, Some((*v).clone()), String::new())
                } else if vals.is_empty() {
                    (
                        Verdict::Missing,
                        None,
                        "no event has this field".to_string(),
                    )
                } else {
                    let mut d: Vec<&str> = vals.iter().map(|s| s.as_str()).collect();
                    d.sort();
                    d.dedup();
                    d.truncate(5);
                    (
                        Verdict::Disagree,
                        Some(d.join(" / ")),
                        "any flow".to_string(),
                    )
                }
            }
        };
        let (verdict, note) = match verdict {
            Verdict::Disagree | Verdict::Missing => match exceptions.find(x, ours.as_deref()) {
                Some(ex) => (Verdict::Excused, ex.reason.clone()),
                None => (verdict, note),
            },
            v => (v, note),
        };
        out.push(Outcome {
            expect: x.clone(),
            verdict,
            ours,
            note,
        });
    }
    out
}

/// Source pairs whose overlap is checked (`loaders_agree_across_sources`)
/// and shown in the report, with the lowest acceptable agreement rate.
pub const PEER_PAIRS: [(Source, Field, Source, f64); 15] = [
    (Source::Tshark, Field::Ja3, Source::SuricataEve, 0.99),
    (Source::Tshark, Field::Ja3, Source::Ndpi, 0.99),
    (Source::Tshark, Field::Ja3s, Source::SuricataEve, 0.99),
    (Source::Tshark, Field::Sni, Source::SuricataEve, 0.99),
    (Source::Tshark, Field::Sni, Source::FoxIo, 0.99),
    (Source::Tshark, Field::Version, Source::SuricataEve, 0.99),
    (Source::Tshark, Field::Cipher, Source::Ndpi, 0.99),
    (Source::Tshark, Field::Alpn, Source::Ndpi, 0.95),
    (Source::Tshark, Field::AlpnSelected, Source::Ndpi, 0.99),
    (Source::ZeekSsl, Field::Version, Source::Tshark, 0.99),
    (Source::ZeekSsl, Field::Cipher, Source::Tshark, 0.99),
    (Source::ZeekSsl, Field::Sni, Source::SuricataEve, 0.99),
    (Source::FoxIo, Field::Ja4, Source::SuricataEve, 0.97),
    (Source::ZeekConn, Field::Protocol, Source::SuricataEve, 0.95),
    (Source::Arkime, Field::Protocol, Source::SuricataEve, 0.95),
];

/// How two sources agree where both have a value for the same flow.
#[derive(Debug, Default, Clone)]
pub struct Cross {
    pub agree: usize,
    pub total: usize,
    pub examples: Vec<String>,
}

pub fn crosscheck<'a>(
    captures: impl Iterator<Item = &'a [Expect]>,
    a: Source,
    field: Field,
    b: Source,
) -> Cross {
    let mut c = Cross::default();
    for x in captures {
        for ea in x.iter().filter(|e| e.source == a && e.field == field) {
            for eb in x.iter().filter(|e| {
                e.source == b
                    && e.field == field
                    && e.ordinal == ea.ordinal
                    && e.flow.is_some()
                    && e.flow.map(|f| f.canonical()) == ea.flow.map(|f| f.canonical())
            }) {
                c.total += 1;
                if values_agree(field, &ea.value, &eb.value)
                    || values_agree(field, &eb.value, &ea.value)
                {
                    c.agree += 1;
                } else if c.examples.len() < 5 {
                    c.examples.push(format!(
                        "{} {}: {a} {:?} vs {b} {:?}",
                        ea.capture,
                        ea.flow.map(|f| f.to_string()).unwrap_or_default(),
                        ea.value,
                        eb.value
                    ));
                }
            }
        }
    }
    c
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub agree: usize,
    pub disagree: usize,
    pub missing: usize,
    pub excused: usize,
}

impl Tally {
    pub fn compared(&self) -> usize {
        self.agree + self.disagree + self.missing + self.excused
    }
}

pub fn tally<'a>(
    outcomes: impl IntoIterator<Item = &'a Outcome>,
) -> BTreeMap<(Source, Field), Tally> {
    let mut t: BTreeMap<(Source, Field), Tally> = BTreeMap::new();
    for o in outcomes {
        let e = t.entry((o.expect.source, o.expect.field)).or_default();
        match o.verdict {
            Verdict::Agree => e.agree += 1,
            Verdict::Disagree => e.disagree += 1,
            Verdict::Missing => e.missing += 1,
            Verdict::Excused => e.excused += 1,
        }
    }
    t
}

/// One line per outcome, for failure messages and the report.
pub fn describe(o: &Outcome) -> String {
    let flow = o
        .expect
        .flow
        .map(|f| f.to_string())
        .unwrap_or_else(|| "(any flow)".to_string());
    format!(
        "{} | {} | {}#{} | {} | expected {:?} | ours {} | {}{}",
        o.expect.capture,
        flow,
        o.expect.source,
        o.expect.ordinal,
        o.expect.field,
        o.expect.value,
        o.ours
            .as_deref()
            .map(|v| format!("{v:?}"))
            .unwrap_or_else(|| "null".to_string()),
        o.expect.origin,
        if o.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", o.note)
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{records_to_expects, FlowKey, Record};

    fn ev(ts: f64, port: u16, proto: &str) -> Event {
        let mut values = HashMap::new();
        values.insert(Field::Protocol, proto.to_string());
        Event {
            ts,
            flow: FlowKey::parse("10.0.0.2", "80", "10.0.0.1", &port.to_string()).unwrap(),
            transport: "tcp".to_string(),
            has_tls: false,
            values,
            findings: Vec::new(),
        }
    }

    #[test]
    fn same_tuple_flows_match_in_time_order_and_either_direction() {
        let flow = FlowKey::parse("10.0.0.1", "1234", "10.0.0.2", "80").unwrap();
        let mut a = Record::new(Some(flow), 2.0);
        a.push(Field::Protocol, "redis");
        let mut b = Record::new(Some(flow), 1.0);
        b.push(Field::Protocol, "http");
        let mut c = Record::new(Some(flow), 3.0);
        c.push(Field::Protocol, "smtp");
        let x = records_to_expects("cap", "o", Source::Arkime, vec![a, b, c]);
        // Ours: later event listed first.
        let events = vec![ev(20.0, 1234, "redis"), ev(10.0, 1234, "http")];
        let o = compare(&x, &events, &Exceptions::default());
        let v: Vec<(String, Verdict)> = o
            .iter()
            .map(|o| (o.expect.value.clone(), o.verdict))
            .collect();
        assert_eq!(
            v,
            vec![
                ("http".to_string(), Verdict::Agree),
                ("redis".to_string(), Verdict::Agree),
                ("smtp".to_string(), Verdict::Missing),
            ]
        );
        let t = tally(&o);
        let t = t[&(Source::Arkime, Field::Protocol)];
        assert_eq!((t.agree, t.disagree, t.missing, t.compared()), (2, 0, 1, 3));
    }

    #[test]
    fn tls_fields_skip_non_tls_events_with_the_same_tuple() {
        let flow = FlowKey::parse("10.0.0.1", "1234", "10.0.0.2", "80").unwrap();
        let mut r = Record::new(Some(flow), 0.0);
        r.push(Field::Version, "TLSv12");
        r.push(Field::Protocol, "tls");
        let x = records_to_expects("cap", "o", Source::ZeekSsl, vec![r]);
        let mut tls = ev(20.0, 1234, "tls");
        tls.has_tls = true;
        tls.values.insert(Field::Version, "TLS 1.2".to_string());
        // An earlier attempt without payload reuses the tuple.
        let events = vec![ev(10.0, 1234, "none"), tls];
        let o = compare(&x, &events, &Exceptions::default());
        assert_eq!(o[0].verdict, Verdict::Agree, "{:?}", o[0]);
        // Protocol skips the payload-less attempt too.
        assert_eq!(o[1].verdict, Verdict::Agree);
    }

    #[test]
    fn flowless_expectations_match_any_flow() {
        let mut r = Record::new(None, 0.0);
        r.push(Field::Protocol, "http");
        let mut r2 = Record::new(None, 1.0);
        r2.push(Field::Protocol, "ftp");
        let x = records_to_expects("cap", "o", Source::SuricataVerify, vec![r, r2]);
        let o = compare(
            &x,
            &[ev(1.0, 1, "smtp"), ev(2.0, 2, "http")],
            &Exceptions::default(),
        );
        assert_eq!(o[0].verdict, Verdict::Agree);
        assert_eq!(o[1].verdict, Verdict::Disagree);
        assert_eq!(o[1].ours.as_deref(), Some("http / smtp"));
    }
}
