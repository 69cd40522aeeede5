//! The load tool's own cost per delivered frame: what a Switchboard client of
//! `switchboard-bench fanout` does with every event frame it reads (the
//! UTF-8 check, the frame scan, and the notification's creation time read
//! for the latency). The tool shares the machine with the server it
//! measures, so its cost per frame is CPU the server does not get.
//!
//! ```sh
//! cargo bench --manifest-path tools/bench/Cargo.toml --bench client
//! ```

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use switchboard_bench::fanout::frame::{self, Frame};
use switchboard_bench::fanout::latency::rfc3339_unix_micros;

/// A live agent event as the demo's hub stamps it on `all` (docs/protocol.md
/// §5.3, the simulator's user), 412 bytes.
const LIVE: &str = concat!(
    r#"{"channel":"Cisco","topic":"Agent","subtopic":"SetAgentState","data":{"source":"event","#,
    r#""agentId":"1001004","loginName":"aokafor","firstName":"Amara","lastName":"Okafor","#,
    r#""extension":"5004","state":"NOT_READY","reasonCodeId":"10007","#,
    r#""reasonCode":{"id":"10007","code":"10007","label":"Bench 7","category":"NOT_READY"},"#,
    r#""stateChangeTime":"2026-11-24T09:30:00.120Z","roles":["Agent"],"teamId":"5000","#,
    r#""teamName":"Blue Team","event":"NOT_READY"},"stream":"all","offset":123456,"epoch":"19a-3"}"#
);

fn client(c: &mut Criterion) {
    let mut g = c.benchmark_group("client_frame");
    g.throughput(Throughput::Elements(1));
    g.bench_function("scan_live_agent_event", |b| {
        b.iter(|| frame::scan(black_box(LIVE)))
    });
    g.bench_function("scan_and_creation_time", |b| {
        b.iter(|| match frame::scan(black_box(LIVE)) {
            Frame::Event(e) => e.state_change_time.and_then(rfc3339_unix_micros),
            Frame::Control { .. } => None,
        })
    });
    // All a client does with a live frame's text: the UTF-8 check, the scan
    // and the creation time.
    g.bench_function("check_scan_and_creation_time", |b| {
        b.iter(
            || match frame::text(black_box(LIVE.as_bytes())).map(frame::scan) {
                Some(Frame::Event(e)) => e.state_change_time.and_then(rfc3339_unix_micros),
                _ => None,
            },
        )
    });
    g.finish();
}

criterion_group!(benches, client);
criterion_main!(benches);
