//! Ingest benchmark: the golden Finesse notification (the seed's Dialog PUT,
//! as it arrives over XMPP) through parse, and through parse + map + encode.
//! Figures and the command are in docs/performance.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use switchboard_core::{SignedInAgent, map_notification};
use switchboard_finesse::parse_notification;

const STANZA: &str =
    include_str!("../../../tests/fixtures/seed/finesse/dialog-put-outbound-active.stanza.xml");
const UPDATE: &str =
    include_str!("../../../tests/fixtures/seed/finesse/dialog-put-outbound-active.update.xml");

const USER_PUT: &str =
    include_str!("../../../tests/fixtures/finesse/user-put-not-ready.update.xml");

fn ingest(c: &mut Criterion) {
    let agent = SignedInAgent {
        id: "311640960".into(),
        extension: "5068".into(),
    };
    let mut g = c.benchmark_group("golden_notification");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_stanza", |b| {
        b.iter(|| parse_notification(black_box(STANZA)).expect("parses"))
    });
    g.bench_function("parse_bare_update", |b| {
        b.iter(|| parse_notification(black_box(UPDATE)).expect("parses"))
    });
    let parsed = parse_notification(STANZA).expect("parses");
    g.bench_function("map_encode", |b| {
        b.iter(|| map_notification(black_box(&parsed), &agent))
    });
    g.bench_function("parse_map_encode_stanza", |b| {
        b.iter(|| {
            let n = parse_notification(black_box(STANZA)).expect("parses");
            map_notification(&n, &agent)
        })
    });
    g.finish();

    // A User PUT (agent state change), the most frequent notification, as
    // Finesse sends it: compact and escaped inside an XMPP message.
    let user = parse_notification(USER_PUT).expect("parses").update;
    let user_stanza = user.to_stanza_xml(
        "pubsub.finesse.local",
        "1001001@finesse.local",
        "/finesse/api/User/1001001",
        "item-1",
    );
    let mut g = c.benchmark_group("user_put_notification");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_map_encode_stanza", |b| {
        b.iter(|| {
            let n = parse_notification(black_box(&user_stanza)).expect("parses");
            map_notification(&n, &agent)
        })
    });
    g.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
