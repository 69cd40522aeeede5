//! The state cache with many agents in it. Figures and the commands are in
//! docs/performance.md.
//!
//! - `cache_call/<agents>`: one agent's call in a cache that already holds
//!   `<agents>` other agents, each with a call of its own: the Dialogs POST
//!   that adds the call, a Dialog PUT that changes it, the Dialogs DELETE that
//!   removes it (`StateCache::apply`, which clones the notification; the
//!   clone costs the same at every size). What grows with the size of the
//!   cache is what the cache does per agent it holds.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use switchboard_core::{CacheConfig, StateCache};
use switchboard_finesse::{
    Dialog, DialogState, Notification, Participant, ParticipantState, Update, UpdateData,
    UpdateEvent,
};

/// The allocator the `switchboard` binary runs with.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn dialog(id: &str, extension: &str, state: DialogState) -> Dialog {
    Dialog {
        id: id.into(),
        state,
        participants: vec![Participant {
            media_address: extension.into(),
            state: ParticipantState::Active,
            ..Participant::default()
        }],
        ..Dialog::default()
    }
}

fn notification(event: UpdateEvent, data: UpdateData) -> Notification {
    Notification {
        update: Update {
            event,
            request_id: None,
            source: String::new(),
            data,
        },
        ..Notification::default()
    }
}

/// A cache in which `agents` agents each have one active call.
fn cache_with(agents: usize) -> StateCache {
    let cache = StateCache::new(CacheConfig::default());
    for i in 0..agents {
        let d = dialog(
            &format!("{}", 10_000_000 + i),
            &format!("{}", 20_000 + i),
            DialogState::Active,
        );
        let n = notification(UpdateEvent::Post, UpdateData::Dialogs(vec![d]));
        let changes = cache.apply(&format!("{}", 1_000_000 + i), &n);
        assert_eq!(changes.len(), 1);
    }
    cache
}

fn cache_call(c: &mut Criterion) {
    let agent = "999999";
    let alerting = dialog("77777777", "5000", DialogState::Alerting);
    let active = dialog("77777777", "5000", DialogState::Active);
    let call = [
        notification(UpdateEvent::Post, UpdateData::Dialogs(vec![alerting])),
        notification(
            UpdateEvent::Put,
            UpdateData::Dialog(Box::new(active.clone())),
        ),
        notification(UpdateEvent::Delete, UpdateData::Dialogs(vec![active])),
    ];
    let mut g = c.benchmark_group("cache_call");
    g.throughput(Throughput::Elements(call.len() as u64));
    for agents in [1usize, 1_000, 10_000] {
        let cache = cache_with(agents);
        // Every notification makes one change, and the call is gone after it.
        for n in &call {
            assert_eq!(cache.apply(agent, n).len(), 1);
        }
        assert!(cache.dialog("77777777").is_none());
        assert_eq!(cache.dialog_count(), agents);
        g.bench_with_input(BenchmarkId::from_parameter(agents), &agents, |b, _| {
            b.iter(|| {
                for n in &call {
                    black_box(cache.apply(agent, black_box(n)));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, cache_call);
criterion_main!(benches);
