//! Parser benchmark against its floor: the golden notification's compact
//! `<Update>` (what Finesse sends inside `<notification>`) parsed into the
//! model, next to quick-xml merely iterating the same document's events.
//! Figures and the command are in docs/performance.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quick_xml::Reader;
use quick_xml::events::Event;
use std::hint::black_box;
use switchboard_finesse::{parse_notification, parse_update};

const STANZA: &str =
    include_str!("../../../tests/fixtures/seed/finesse/dialog-put-outbound-active.stanza.xml");

fn parse(c: &mut Criterion) {
    let compact = parse_notification(STANZA)
        .expect("golden parses")
        .update
        .to_xml();
    let mut g = c.benchmark_group("golden_update_compact");
    g.throughput(Throughput::Bytes(compact.len() as u64));
    g.bench_function("quick_xml_events_only", |b| {
        b.iter(|| {
            let mut r = Reader::from_str(black_box(&compact));
            let mut n = 0usize;
            loop {
                match r.read_event() {
                    Ok(Event::Eof) | Err(_) => break,
                    Ok(_) => n += 1,
                }
            }
            n
        })
    });
    g.bench_function("parse_update", |b| {
        b.iter(|| parse_update(black_box(&compact)).expect("parses"))
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
