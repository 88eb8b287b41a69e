//! The lab's traffic, captured with tcpdump on the hub and analysed with
//! `plainsight pcap`: proves the lab produces what the live tests expect, with no
//! eBPF involved (when a live test fails and this passes, look at the live path).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use plainsight_tests::expect::assert_lab_events;
use plainsight_tests::lab::{parse_events, pcap_stdout, Hub, Lab};
use plainsight_tests::start_tcpdump;

#[test]
fn lab_traffic_analysed_offline_gives_the_expected_findings() {
    let mut lab = Lab::new(&format!("ps-lab-off{}", std::process::id()), Hub::Netns);
    lab.start_servers();
    let pcap = lab.path("offline.pcap");
    let mut tcpdump = start_tcpdump(lab.hub_ns.as_deref().unwrap(), &lab.client_hub_if, &pcap);
    lab.hardened_curl(false);
    lab.hardened_curl(true);
    lab.weak_all();
    lab.plain_http();
    lab.psql();
    lab.failing_handshakes(25);
    std::thread::sleep(Duration::from_millis(300));
    let st = tcpdump.interrupt();
    assert!(st.success() || st.code().is_none(), "tcpdump: {st}");
    let text = pcap_stdout(&pcap, &[]);
    assert!(!text.contains(&lab.pg_password), "password in the events");
    assert_lab_events(&parse_events(&text), 25);
}
