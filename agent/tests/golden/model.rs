//! Normalised expectations and the value normalisation shared by every loader.
//!
//! Every loader turns one source's expected outputs into [`Expect`]s whose
//! `value` is already in the normal form for its [`Field`]; the comparison
//! normalises our value with the same functions ([`normalize`]), so a field is
//! compared the same way whatever the source.

use std::fmt;
use std::net::IpAddr;

/// Where an expectation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// FoxIO JA4 Rust insta snapshots (`ja4/rust/ja4/src/snapshots`).
    FoxIo,
    /// Zeek btest baselines: `ssl.log`, `x509.log`.
    ZeekSsl,
    /// Zeek btest baselines: `conn.log` `service`.
    ZeekConn,
    /// Suricata-verify `test.yaml` checks.
    SuricataVerify,
    /// Arkime `.test` session documents.
    Arkime,
    /// nDPI `result/*.out` lines.
    Ndpi,
    /// Suricata 7.0.10 peer `eve.json`.
    SuricataEve,
    /// tshark 4.0.17 peer TSV.
    Tshark,
}

impl Source {
    pub const ALL: [Source; 8] = [
        Source::FoxIo,
        Source::ZeekSsl,
        Source::ZeekConn,
        Source::SuricataVerify,
        Source::Arkime,
        Source::Ndpi,
        Source::SuricataEve,
        Source::Tshark,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Source::FoxIo => "foxio",
            Source::ZeekSsl => "zeek-ssl",
            Source::ZeekConn => "zeek-conn",
            Source::SuricataVerify => "suricata-verify",
            Source::Arkime => "arkime",
            Source::Ndpi => "ndpi",
            Source::SuricataEve => "suricata-eve",
            Source::Tshark => "tshark",
        }
    }

    pub fn from_name(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|x| x.name() == s)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A compared per-flow field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Version,
    Cipher,
    Sni,
    Alpn,
    AlpnSelected,
    Ja3,
    Ja3s,
    Ja4,
    CertSubject,
    CertIssuer,
    CertSerial,
    CertNotBefore,
    CertNotAfter,
    CertSan,
    Protocol,
    /// gQUIC `CHLO`'s `UAID` (our `quic.user_agent`).
    UserAgent,
}

impl Field {
    pub const ALL: [Field; 16] = [
        Field::Version,
        Field::Cipher,
        Field::Sni,
        Field::Alpn,
        Field::AlpnSelected,
        Field::Ja3,
        Field::Ja3s,
        Field::Ja4,
        Field::CertSubject,
        Field::CertIssuer,
        Field::CertSerial,
        Field::CertNotBefore,
        Field::CertNotAfter,
        Field::CertSan,
        Field::Protocol,
        Field::UserAgent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Version => "version",
            Field::Cipher => "cipher",
            Field::Sni => "sni",
            Field::Alpn => "alpn",
            Field::AlpnSelected => "alpn_selected",
            Field::Ja3 => "ja3",
            Field::Ja3s => "ja3s",
            Field::Ja4 => "ja4",
            Field::CertSubject => "cert.subject",
            Field::CertIssuer => "cert.issuer",
            Field::CertSerial => "cert.serial",
            Field::CertNotBefore => "cert.not_before",
            Field::CertNotAfter => "cert.not_after",
            Field::CertSan => "cert.san",
            Field::Protocol => "protocol",
            Field::UserAgent => "user_agent",
        }
    }

    pub fn from_name(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|x| x.name() == s)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One endpoint of a flow.
pub type Endpoint = (IpAddr, u16);

/// A flow as (client ip, client port, server ip, server port). Matching
/// ignores the direction: see [`FlowKey::canonical`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub client: Endpoint,
    pub server: Endpoint,
}

impl FlowKey {
    pub fn new(cip: IpAddr, cport: u16, sip: IpAddr, sport: u16) -> FlowKey {
        FlowKey {
            client: (cip, cport),
            server: (sip, sport),
        }
    }

    /// Parses IPs in any textual form (Suricata writes IPv6 fully expanded).
    pub fn parse(cip: &str, cport: &str, sip: &str, sport: &str) -> Option<FlowKey> {
        Some(FlowKey::new(
            cip.trim().parse().ok()?,
            cport.trim().parse().ok()?,
            sip.trim().parse().ok()?,
            sport.trim().parse().ok()?,
        ))
    }

    /// Direction-free key: the smaller endpoint first.
    pub fn canonical(&self) -> (Endpoint, Endpoint) {
        if self.client <= self.server {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        }
    }

    /// Parses the `a:p <-> b:p` form used in reports and the exceptions file
    /// (IPv6 addresses in brackets).
    pub fn parse_display(s: &str) -> Option<FlowKey> {
        let (a, b) = s.split_once("<->")?;
        let a = parse_endpoint(a.trim())?;
        let b = parse_endpoint(b.trim())?;
        Some(FlowKey {
            client: a,
            server: b,
        })
    }
}

/// Parses `1.2.3.4:80` or `[::1]:80`.
pub fn parse_endpoint(s: &str) -> Option<Endpoint> {
    let (ip, port) = s.rsplit_once(':')?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    Some((ip.parse().ok()?, port.parse().ok()?))
}

fn fmt_endpoint(e: &Endpoint) -> String {
    match e.0 {
        IpAddr::V4(ip) => format!("{ip}:{}", e.1),
        IpAddr::V6(ip) => format!("[{ip}]:{}", e.1),
    }
}

impl fmt::Display for FlowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} <-> {}",
            fmt_endpoint(&self.client),
            fmt_endpoint(&self.server)
        )
    }
}

/// One normalised expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// Capture path relative to the corpus root (as in INDEX.tsv).
    pub capture: String,
    /// `None`: the source names no flow (a Suricata-verify check without
    /// addresses); any flow of the capture with that value satisfies it.
    pub flow: Option<FlowKey>,
    pub field: Field,
    /// Normalised with [`normalize`].
    pub value: String,
    pub source: Source,
    /// Rank of this record among the source file's records with the same
    /// direction-free tuple, in time (or file) order: the k-th record is
    /// joined with our k-th event for that tuple.
    pub ordinal: usize,
    /// Expected-output file, relative to the corpus root.
    pub origin: String,
    /// "tcp"/"udp" when the source says.
    pub transport: Option<&'static str>,
    /// The other address pair a source gives for a tunnelled packet when it cannot say
    /// which header is the inner one (tshark's `ip.*` and `ipv6.*` columns for 6in4 and
    /// 4in6): used only when no event has `flow`'s tuple.
    pub alt_flow: Option<FlowKey>,
}

/// One record of a source (one flow / session / log row) before it is split
/// into per-field expectations.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub flow: Option<FlowKey>,
    /// See [`Expect::alt_flow`].
    pub alt_flow: Option<FlowKey>,
    /// Ordering key within the file (time when the source has one, else the
    /// position in the file).
    pub order: f64,
    pub fields: Vec<(Field, String)>,
    pub transport: Option<&'static str>,
}

impl Record {
    pub fn new(flow: Option<FlowKey>, order: f64) -> Record {
        Record {
            flow,
            alt_flow: None,
            order,
            fields: Vec::new(),
            transport: None,
        }
    }

    /// Adds a field after normalising it; empty and unset values are dropped.
    pub fn push(&mut self, field: Field, raw: &str) {
        let raw = raw.trim();
        if raw.is_empty() || raw == "-" || raw == "(empty)" {
            return;
        }
        if let Some(v) = normalize(field, raw) {
            if !self.fields.iter().any(|(f, x)| *f == field && *x == v) {
                self.fields.push((field, v));
            }
        }
    }
}

/// Turns records into expectations, assigning ordinals per tuple.
pub fn records_to_expects(
    capture: &str,
    origin: &str,
    source: Source,
    mut records: Vec<Record>,
) -> Vec<Expect> {
    records.sort_by(|a, b| a.order.total_cmp(&b.order));
    let mut seen: std::collections::HashMap<Option<(Endpoint, Endpoint)>, usize> =
        std::collections::HashMap::new();
    let mut out = Vec::new();
    for r in records {
        if r.fields.is_empty() {
            continue;
        }
        let key = r.flow.map(|f| f.canonical());
        let n = seen.entry(key).or_insert(0);
        let ordinal = *n;
        *n += 1;
        for (field, value) in r.fields {
            out.push(Expect {
                capture: capture.to_string(),
                flow: r.flow,
                field,
                value,
                source,
                ordinal,
                origin: origin.to_string(),
                transport: r.transport,
                alt_flow: r.alt_flow,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------

/// Normal form of a value for a field, or `None` when the value means
/// "unknown" (Suricata's `UNDETERMINED`, unparsable dates…).
pub fn normalize(field: Field, raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match field {
        Field::Version => norm_version(raw),
        Field::Cipher => Some(norm_cipher(raw)),
        Field::Sni => Some(raw.trim_end_matches('.').to_ascii_lowercase()),
        Field::Alpn => Some(raw.to_string()),
        Field::AlpnSelected => Some(raw.to_string()),
        Field::Ja3 | Field::Ja3s => Some(norm_ja3(raw)),
        Field::Ja4 => Some(raw.to_string()),
        Field::CertSubject | Field::CertIssuer => Some(raw.to_string()),
        Field::CertSerial => norm_serial(raw),
        Field::CertNotBefore | Field::CertNotAfter => norm_date(raw).map(|t| t.to_string()),
        Field::CertSan => Some(norm_san(raw)),
        Field::Protocol => Some(raw.to_ascii_lowercase()),
        Field::UserAgent => Some(raw.to_string()),
    }
}

/// Maps every version spelling in the corpus to the schema's names
/// ("SSL 2.0" … "TLS 1.3", "DTLS 1.0", "DTLS 1.2", "DTLS 1.3").
///
/// TLS 1.3 drafts (Zeek `TLSv13-draft14`, Suricata `TLS 1.3 draft-23`) map to
/// "TLS 1.3": the event schema has no draft versions.
pub fn norm_version(raw: &str) -> Option<String> {
    let s = raw.trim();
    let lower = s.to_ascii_lowercase();
    if lower == "undetermined" || lower == "unknown" || lower == "null" {
        return None;
    }
    // Zeek writes versions it has no name for as `unknown-<decimal code>`.
    if let Some(dec) = lower.strip_prefix("unknown-") {
        return dec.parse::<u16>().ok().and_then(version_from_code);
    }
    // Numeric wire codes (tshark, Suricata's fallback `0x7e01`).
    if let Some(hex) = lower.strip_prefix("0x") {
        let code = u16::from_str_radix(hex, 16).ok()?;
        return version_from_code(code);
    }
    let compact: String = lower
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect();
    // Cut draft / implementation suffixes: "tlsv13-draft14", "tls1.3draft-23",
    // "tlsv1.3(fizz)".
    let compact = compact
        .split(['-', '('])
        .next()
        .unwrap_or("")
        .trim_end_matches("draft")
        .to_string();
    let (family, rest) = if let Some(r) = compact.strip_prefix("dtls") {
        ("DTLS", r)
    } else if let Some(r) = compact.strip_prefix("tls") {
        ("TLS", r)
    } else if let Some(r) = compact.strip_prefix("ssl") {
        ("SSL", r)
    } else {
        return Some(s.to_string());
    };
    let digits: String = rest.trim_start_matches('v').replace('.', "");
    let version = match (family, digits.as_str()) {
        ("SSL", "2" | "20") => "SSL 2.0",
        ("SSL", "3" | "30") => "SSL 3.0",
        ("TLS", "1" | "10") => "TLS 1.0",
        ("TLS", "11") => "TLS 1.1",
        ("TLS", "12") => "TLS 1.2",
        ("TLS", "13") => "TLS 1.3",
        ("DTLS", "1" | "10") => "DTLS 1.0",
        ("DTLS", "12") => "DTLS 1.2",
        ("DTLS", "13") => "DTLS 1.3",
        _ => return Some(s.to_string()),
    };
    Some(version.to_string())
}

/// Version name of a wire code; TLS 1.3 drafts (0x7fNN), Google's TLS 1.3
/// experiment codes (0x7e01, 0x7e02) and Facebook's Fizz codes (0xfbNN)
/// count as TLS 1.3.
pub fn version_from_code(code: u16) -> Option<String> {
    let v = match code {
        0x0002 => "SSL 2.0",
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        0xfeff => "DTLS 1.0",
        0xfefd => "DTLS 1.2",
        0xfefc => "DTLS 1.3",
        0x7e01 | 0x7e02 => "TLS 1.3",
        c if c >> 8 == 0x7f || c >> 8 == 0xfb => "TLS 1.3",
        _ => return None,
    };
    Some(v.to_string())
}

/// Cipher suites normalise to the IANA name when the name or code is in
/// tls-parser's IANA table, else to `0xNNNN` (codes) or the name as given.
pub fn norm_cipher(raw: &str) -> String {
    let s = raw.trim();
    let code = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u16::from_str_radix(h, 16).ok()
    } else if s.chars().all(|c| c.is_ascii_digit()) {
        s.parse::<u16>().ok()
    } else {
        None
    };
    if let Some(code) = code {
        return match tls_parser::TlsCipherSuite::from_id(code) {
            Some(cs) => cs.name.to_string(),
            None => format!("0x{code:04x}"),
        };
    }
    // Some tools write SSL_ or lower-case names; the table is keyed on the
    // IANA spelling.
    let upper = s.to_ascii_uppercase();
    if let Some(cs) = tls_parser::TlsCipherSuite::from_name(&upper) {
        return cs.name.to_string();
    }
    if let Some(rest) = upper.strip_prefix("SSL_") {
        let alt = format!("TLS_{rest}");
        if let Some(cs) = tls_parser::TlsCipherSuite::from_name(&alt) {
            return cs.name.to_string();
        }
    }
    upper
}

/// JA3/JA3S compare on the MD5 hash; a full JA3 string is hashed.
pub fn norm_ja3(raw: &str) -> String {
    let s = raw.trim();
    if s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit()) {
        return s.to_ascii_lowercase();
    }
    use md5::Digest;
    hex::encode(md5::Md5::digest(s.as_bytes()))
}

/// Serial numbers: hex digits only, upper case, no leading zeros (`08:3A:..`,
/// `083a..`, `0x83A..` all become `83A..`). Decimal serials (tshark writes
/// small serials as decimal integers) are converted when they have no hex
/// letter and are marked decimal by the caller with a `dec:` prefix.
pub fn norm_serial(raw: &str) -> Option<String> {
    let s = raw.trim();
    if let Some(dec) = s.strip_prefix("dec:") {
        let v: u128 = dec.trim().parse().ok()?;
        return Some(format!("{v:X}"));
    }
    let s = s.strip_prefix("0x").unwrap_or(s);
    let hex: String = s
        .chars()
        .filter(|c| *c != ':' && *c != ' ' && *c != '-')
        .collect();
    if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let t = hex.trim_start_matches('0').to_ascii_uppercase();
    Some(if t.is_empty() { "0".to_string() } else { t })
}

/// SAN lists: sorted, de-duplicated, lower case, comma-joined.
pub fn norm_san(raw: &str) -> String {
    let mut v: Vec<String> = raw
        .split(',')
        .map(|x| x.trim().to_ascii_lowercase())
        .filter(|x| !x.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v.join(",")
}

/// Dates to integer epoch seconds (UTC). Accepts epoch seconds (`1334102677`,
/// `1334102677.000000`), epoch milliseconds (13+ digits, Arkime), RFC 3339
/// (`2019-02-07T12:00:00Z`, `+00:00` offsets), Suricata's offset-free
/// `2019-02-07T12:00:00`, nDPI's `2019-11-19 01:31:22`, and X.509 UTCTime /
/// GeneralizedTime (`190207120000Z`, `20190207120000Z`).
pub fn norm_date(raw: &str) -> Option<i64> {
    let s = raw.trim();
    if s.chars().all(|c| c.is_ascii_digit() || c == '.') && !s.is_empty() && !s.ends_with('Z') {
        let int = s.split('.').next().unwrap_or("");
        if int.len() >= 13 {
            return int.parse::<i64>().ok().map(|ms| ms.div_euclid(1000));
        }
        if int.len() == 12 || int.len() == 14 {
            // Ambiguous with an epoch only above year 5000: treat as ASN.1.
            return asn1_time(int);
        }
        return int.parse::<i64>().ok();
    }
    if let Some(z) = s.strip_suffix('Z') {
        if z.chars().all(|c| c.is_ascii_digit()) {
            return asn1_time(z);
        }
    }
    // Calendar form.
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        r if r.len() >= 5 && (r.starts_with('+') || r.starts_with('-')) => {
            let sign = if r.starts_with('-') { -1 } else { 1 };
            let digits: String = r[1..].chars().filter(|c| c.is_ascii_digit()).collect();
            let hh: i64 = digits.get(0..2)?.parse().ok()?;
            let mm: i64 = digits.get(2..4)?.parse().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset)
}

fn asn1_time(d: &str) -> Option<i64> {
    let (y, rest) = match d.len() {
        12 => {
            let yy: i64 = d[0..2].parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &d[2..])
        }
        14 => (d[0..4].parse().ok()?, &d[4..]),
        _ => return None,
    };
    let n = |r: std::ops::Range<usize>| rest.get(r)?.parse::<i64>().ok();
    Some(
        days_from_civil(y, n(0..2)?, n(2..4)?) * 86400
            + n(4..6)? * 3600
            + n(6..8)? * 60
            + n(8..10)?,
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Attributes of a distinguished name, in any of the corpus's formats:
/// Zeek/OpenSSL RFC 2253 (`CN=a,O=b\, Inc.`), Suricata/nDPI (`C=US, O=GitHub,
/// Inc., CN=x`, commas unescaped) or `/C=US/O=x/CN=y`. Keys are upper-cased.
pub fn dn_attrs(dn: &str) -> Vec<(String, String)> {
    let s = dn.trim();
    if s.starts_with('/') {
        return s
            .split('/')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_uppercase(), v.trim().to_string()))
            .collect();
    }
    // Split at commas (or semicolons/plus) that are not escaped and are
    // followed by `KEY=`.
    let chars: Vec<char> = s.chars().collect();
    let mut parts: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            cur.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c == ',' || c == ';' || c == '+' {
            let tail: String = chars[i + 1..].iter().collect();
            let tail = tail.trim_start();
            let key_len = tail
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '.'))
                .unwrap_or(tail.len());
            if key_len > 0 && tail[key_len..].starts_with('=') {
                parts.push(std::mem::take(&mut cur));
                i += 1;
                continue;
            }
        }
        cur.push(c);
        i += 1;
    }
    parts.push(cur);
    parts
        .iter()
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            let k = k.trim().to_ascii_uppercase();
            let k = match k.as_str() {
                "COMMONNAME" | "2.5.4.3" => "CN".to_string(),
                "ORGANIZATIONNAME" | "2.5.4.10" => "O".to_string(),
                _ => k,
            };
            (k, v.trim().to_string())
        })
        .collect()
}

/// Builds the `CN=…, O=…` form used for sources that give attributes
/// separately (FoxIO, Arkime).
pub fn dn_from_parts(cn: Option<&str>, o: Option<&str>) -> Option<String> {
    let mut v = Vec::new();
    if let Some(o) = o.filter(|x| !x.is_empty()) {
        v.push(format!("O={}", o.replace(',', "\\,")));
    }
    if let Some(cn) = cn.filter(|x| !x.is_empty()) {
        v.push(format!("CN={}", cn.replace(',', "\\,")));
    }
    if v.is_empty() {
        None
    } else {
        Some(v.join(","))
    }
}

/// Distinguished names agree when the strings are equal, or else when every
/// CN and O attribute of the expected DN appears, case-insensitively, in ours
/// (DN string formats differ between tools; Arkime lower-cases CNs).
pub fn dn_agrees(expected: &str, ours: &str) -> bool {
    if expected == ours {
        return true;
    }
    let e = dn_attrs(expected);
    let o = dn_attrs(ours);
    let keyed: Vec<&(String, String)> = e.iter().filter(|(k, _)| k == "CN" || k == "O").collect();
    if keyed.is_empty() {
        return false;
    }
    keyed.iter().all(|(k, v)| {
        o.iter()
            .any(|(k2, v2)| k2 == k && v2.trim().eq_ignore_ascii_case(v.trim()))
    })
}

/// Field-aware equality of a normalised expected value with our normalised
/// value.
pub fn values_agree(field: Field, expected: &str, ours: &str) -> bool {
    match field {
        Field::CertSubject | Field::CertIssuer => dn_agrees(expected, ours),
        // Sources that know several names for a flow's protocol (Zeek
        // `smtp,ssl`, Arkime `[http, tls]`) give `|`-separated alternatives.
        Field::Protocol => expected.split('|').any(|alt| alt == ours),
        _ => expected == ours,
    }
}

/// Maps the protocol names of Zeek, Arkime, nDPI and Suricata to the event
/// schema's names; `None` for names the schema has no counterpart for.
pub fn map_protocol(name: &str) -> Option<&'static str> {
    let n = name.trim().to_ascii_lowercase();
    Some(match n.as_str() {
        "ssl" | "tls" | "dtls" | "ssl/tls" | "smtps" | "imaps" | "pop3s" | "ftps" | "ldaps" => {
            "tls"
        }
        "http" => "http",
        "http2" => "http2",
        "smtp" | "esmtp" => "smtp",
        "postgresql" | "pgsql" | "postgres" => "postgres",
        "mysql" => "mysql",
        "redis" => "redis",
        "ftp" | "ftp_control" => "ftp",
        "imap" => "imap",
        "pop3" => "pop3",
        "ldap" | "ldap_tcp" => "ldap",
        "telnet" => "telnet",
        "kafka" => "kafka",
        "mongo" | "mongodb" => "mongodb",
        "amqp" => "amqp",
        "mqtt" => "mqtt",
        "memcached" => "memcached",
        "dns" => "dns",
        "ssh" => "ssh",
        "quic" => "quic",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_normalise_across_sources() {
        for (raw, want) in [
            ("TLSv12", "TLS 1.2"),
            ("TLSv10", "TLS 1.0"),
            ("SSLv3", "SSL 3.0"),
            ("SSLv2", "SSL 2.0"),
            ("DTLSv12", "DTLS 1.2"),
            ("TLSv13-draft14", "TLS 1.3"),
            ("TLS 1.2", "TLS 1.2"),
            ("TLSv1", "TLS 1.0"),
            ("TLSv1.2", "TLS 1.2"),
            ("TLSv1.3 (Fizz)", "TLS 1.3"),
            ("TLS 1.3 draft-23", "TLS 1.3"),
            ("0x0303", "TLS 1.2"),
            ("0x7f1c", "TLS 1.3"),
            ("DTLSv1.0", "DTLS 1.0"),
            ("unknown-32257", "TLS 1.3"),
        ] {
            assert_eq!(norm_version(raw).as_deref(), Some(want), "{raw}");
        }
        assert_eq!(norm_version("UNDETERMINED"), None);
    }

    #[test]
    fn ciphers_normalise_to_iana_names() {
        assert_eq!(
            norm_cipher("0xc02b"),
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(
            norm_cipher("49200"),
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
        );
        assert_eq!(
            norm_cipher("TLS_RSA_WITH_RC4_128_SHA"),
            "TLS_RSA_WITH_RC4_128_SHA"
        );
        assert_eq!(norm_cipher("0xfefe"), "0xfefe");
    }

    #[test]
    fn serials_dates_and_dns() {
        assert_eq!(
            norm_serial("08:3A:84:59:2F:77:F2:E7:95:1B:F8:87:CE:DE:C9:66").as_deref(),
            Some("83A84592F77F2E7951BF887CEDEC966")
        );
        assert_eq!(norm_serial("0b6771").as_deref(), Some("B6771"));
        assert_eq!(norm_serial("dec:255").as_deref(), Some("FF"));
        let t = 1_549_540_800; // 2019-02-07T12:00:00Z
        assert_eq!(norm_date("2019-02-07T12:00:00"), Some(t));
        assert_eq!(norm_date("2019-02-07T12:00:00Z"), Some(t));
        assert_eq!(norm_date("2019-02-07T13:00:00+01:00"), Some(t));
        assert_eq!(norm_date("2019-02-07 12:00:00"), Some(t));
        assert_eq!(norm_date("1549540800.000000"), Some(t));
        assert_eq!(norm_date("1549540800000"), Some(t));
        assert_eq!(norm_date("190207120000Z"), Some(t));
        assert_eq!(norm_date("20190207120000Z"), Some(t));
        assert!(dn_agrees(
            "C=US, ST=California, L=San Francisco, O=GitHub, Inc., CN=www.github.com",
            "CN=www.github.com,O=GitHub\\, Inc.,L=San Francisco,ST=California,C=US"
        ));
        assert!(dn_agrees(
            "O=SANS,CN=sans isc dshield test",
            "CN=SANS ISC DShield Test, O=SANS"
        ));
        assert!(!dn_agrees("CN=a,O=b", "CN=a,O=c"));
        assert_eq!(
            norm_ja3("771,4865,51-43"),
            hex::encode(<md5::Md5 as md5::Digest>::digest(b"771,4865,51-43"))
        );
    }

    #[test]
    fn flow_keys_match_in_either_direction() {
        let a = FlowKey::parse("10.0.0.1", "1234", "10.0.0.2", "443").unwrap();
        let b = FlowKey::parse("10.0.0.2", "443", "10.0.0.1", "1234").unwrap();
        assert_eq!(a.canonical(), b.canonical());
        let v6 =
            FlowKey::parse("2607:f8b0:400a:0800:0000:0000:0000:200e", "443", "::1", "5").unwrap();
        assert_eq!(FlowKey::parse_display(&v6.to_string()), Some(v6));
    }
}
