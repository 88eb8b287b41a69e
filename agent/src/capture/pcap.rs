//! Offline capture: pcap and pcapng files (optionally gzip-compressed) into [`Segment`]s.
