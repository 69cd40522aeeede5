//! Ingest benchmarks. Figures and the commands are in docs/performance.md.
//!
//! - `golden_notification/*`, `user_put_notification/parse_map_encode_stanza`:
//!   the golden Finesse notification (the seed's Dialog PUT, as it arrives over
//!   XMPP) through parse, and through parse + map + encode (`route::translate`:
//!   a fresh cache that knows the agent, apply, `route::publish`).
//! - `whole_ingest/*`: the whole ingest path of one notification on one thread,
//!   as the connector and the gateway's pipeline run it: XMPP stanza text ->
//!   `parse_notification` -> `StateCache::apply` -> for each change
//!   `route::publish` (event JSON and topics) -> `Hub::publish` on
//!   each topic of a `Hub` over a `MemoryBroker` with one client queue subscribed to every
//!   topic, so each publish stamps, records history and really enqueues.
//! - `whole_ingest_item/*`: the same notifications from the point where the
//!   connector takes them since the XMPP client delivers items: the item's
//!   `<Update>` text (unescaped by the XMPP client) -> `parse_item` -> the
//!   same steps. Reading the XMPP stanza itself is the XMPP client's work
//!   (tokio-xmpp), measured end to end by `switchboard-bench ingest-xmpp`.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// The allocator the `switchboard` binary runs with (crates/switchboard's
/// `main.rs`), so that the figures are the server's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use switchboard_core::hub::{ClientQueue, HistoryLimits, Hub, MemoryBroker};
use switchboard_core::route::{self, Delivery, translate};
use switchboard_core::{CacheConfig, StateCache};
use switchboard_finesse::{
    Action, Dialog, DialogState, Node, Notification, ParticipantState, Update, UpdateData,
    UpdateEvent, User, UserState, parse_item, parse_notification,
};
use switchboard_protocol::Topic;

const STANZA: &str =
    include_str!("../../../tests/fixtures/seed/finesse/dialog-put-outbound-active.stanza.xml");
const UPDATE: &str =
    include_str!("../../../tests/fixtures/seed/finesse/dialog-put-outbound-active.update.xml");

const USER_PUT: &str =
    include_str!("../../../tests/fixtures/finesse/user-put-not-ready.update.xml");

/// The golden notification's agent (its participant on extension 5068).
const AGENT: &str = "311640960";
const EXTENSION: &str = "5068";
const TEAM: &str = "5000";

fn ingest(c: &mut Criterion) {
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
        b.iter(|| translate(black_box(parsed.clone()), AGENT, EXTENSION))
    });
    g.bench_function("parse_map_encode_stanza", |b| {
        b.iter(|| {
            let n = parse_notification(black_box(STANZA)).expect("parses");
            translate(n, AGENT, EXTENSION)
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
            translate(n, AGENT, EXTENSION)
        })
    });
    g.finish();
}

/// The golden dialog, parsed.
fn golden_dialog() -> Dialog {
    match parse_notification(STANZA).expect("parses").update.data {
        UpdateData::Dialog(d) => *d,
        _ => panic!("the golden notification carries a <dialog>"),
    }
}

/// The agent's user (from the User PUT fixture), on the golden agent's id,
/// extension and team.
fn agent_user(state: UserState) -> User {
    let UpdateData::User(u) = parse_notification(USER_PUT).expect("parses").update.data else {
        panic!("the User PUT carries a <user>");
    };
    let mut u = *u;
    u.login_id = AGENT.into();
    u.extension = Some(EXTENSION.into());
    u.team_id = Some(TEAM.into());
    u.uri = Some(Node::User(AGENT.into()).to_string());
    u.dialogs = Some(Node::Dialogs(AGENT.into()).to_string());
    if state != UserState::NotReady {
        u.reason_code_id = None;
        u.reason_code = None;
    }
    u.state = state;
    u
}

/// A pubsub message as Finesse sends it: the Update escaped in `<notification>`.
fn stanza(update: &Update, node: &Node, item: usize) -> String {
    update.to_stanza_xml(
        "pubsub.finesse1.example.com",
        &format!("{AGENT}@finesse1.example.com"),
        &node.to_string(),
        &format!("0b6afdb5-5870-4b69-b649-{item:012}"),
    )
}

fn user_put(state: UserState, item: usize) -> String {
    let node = Node::User(AGENT.into());
    let update = Update {
        event: UpdateEvent::Put,
        request_id: None,
        source: node.to_string(),
        data: UpdateData::User(Box::new(agent_user(state))),
    };
    stanza(&update, &node, item)
}

fn dialog_put(d: &Dialog, item: usize) -> String {
    let update = Update {
        event: UpdateEvent::Put,
        request_id: None,
        source: format!("/finesse/api/Dialog/{}", d.id),
        data: UpdateData::Dialog(Box::new(d.clone())),
    };
    stanza(&update, &Node::Dialogs(AGENT.into()), item)
}

fn dialogs(event: UpdateEvent, d: &Dialog, item: usize) -> String {
    let node = Node::Dialogs(AGENT.into());
    let update = Update {
        event,
        request_id: None,
        source: node.to_string(),
        data: UpdateData::Dialogs(vec![d.clone()]),
    };
    stanza(&update, &node, item)
}

fn set_agent(d: &mut Dialog, state: ParticipantState, actions: Vec<Action>) {
    if let Some(p) = d.participants.first_mut() {
        p.state = state;
        p.actions = actions;
    }
}

/// The golden Dialog PUT as captured, and the same call with the agent's
/// participant held: applied alternately, each makes one cache change.
fn golden_pair() -> Vec<String> {
    let mut held = golden_dialog();
    set_agent(
        &mut held,
        ParticipantState::Held,
        vec![Action::Retrieve, Action::UpdateCallData, Action::Drop],
    );
    vec![STANZA.to_owned(), dialog_put(&held, 1)]
}

/// User PUTs on the agent's node, alternately NOT_READY (reason code 12) and READY.
fn user_pair() -> Vec<String> {
    vec![
        user_put(UserState::NotReady, 1),
        user_put(UserState::Ready, 2),
    ]
}

/// One outbound call of the golden agent as Finesse notifies it, with the
/// agent's state changes around it (11 notifications, 6 dialog and 5 user,
/// each making one cache change; the cache is back where it started after
/// the DELETE and the READY):
/// User RESERVED, Dialogs POST (alerting), User TALKING, Dialog PUT active,
/// PUT held, User HOLD, PUT retrieved (a call variable changed), User TALKING,
/// PUT dropped, Dialogs DELETE, User READY.
fn call_mix() -> Vec<String> {
    let golden = golden_dialog();
    let mut item = 0;
    let mut next = || {
        item += 1;
        item
    };
    let mut alerting = golden.clone();
    alerting.state = DialogState::Alerting;
    set_agent(
        &mut alerting,
        ParticipantState::Alerting,
        vec![Action::Answer],
    );
    if let Some(p) = alerting.participants.get_mut(1) {
        p.state = ParticipantState::Initiated;
        p.actions.clear();
    }
    let mut held = golden.clone();
    set_agent(
        &mut held,
        ParticipantState::Held,
        vec![Action::Retrieve, Action::UpdateCallData, Action::Drop],
    );
    let mut retrieved = golden.clone();
    if let Some(v) = retrieved.media_properties.call_variables.first_mut() {
        v.value = "retrieved".into();
    }
    let mut dropped = retrieved.clone();
    dropped.state = DialogState::Dropped;
    for p in &mut dropped.participants {
        p.state = ParticipantState::Dropped;
        p.actions.clear();
    }
    vec![
        user_put(UserState::Reserved, next()),
        dialogs(UpdateEvent::Post, &alerting, next()),
        user_put(UserState::Talking, next()),
        dialog_put(&golden, next()),
        dialog_put(&held, next()),
        user_put(UserState::Hold, next()),
        dialog_put(&retrieved, next()),
        user_put(UserState::Talking, next()),
        dialog_put(&dropped, next()),
        dialogs(UpdateEvent::Delete, &dropped, next()),
        user_put(UserState::Ready, next()),
    ]
}

/// Parse, apply, `route::publish`, hub publish: one notification through the whole
/// ingest path (the gateway's `pipeline::publish` for Dialog and User changes).
/// Returns how many frames were published.
fn ingest_one(stanza: &str, cache: &StateCache, hub: &Hub) -> usize {
    publish_changes(parse_notification(stanza).expect("parses"), cache, hub)
}

/// Apply, `route::publish`, hub publish.
fn publish_changes(n: Notification, cache: &StateCache, hub: &Hub) -> usize {
    let mut published = 0;
    for change in cache.apply_owned(AGENT, n) {
        if let Delivery::Streams { topics, json } = route::publish(&change, cache) {
            for topic in &topics {
                hub.publish(topic, &json);
                published += 1;
            }
        }
    }
    published
}

/// One pubsub item as the XMPP client hands it to the connector
/// (`switchboard_xmpp::ReceivedItem`): the `<Update>` text, unescaped, with
/// the item's node, id and sender.
struct Item {
    update: String,
    node: String,
    item_id: String,
    from: String,
}

/// The item of a stanza, read with quick-xml (outside the timed part).
fn item_of(stanza: &str) -> Item {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(stanza);
    let attr = |e: &quick_xml::events::BytesStart, name: &[u8]| -> String {
        e.try_get_attribute(name)
            .expect("attributes")
            .map(|a| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .expect("value")
                    .into_owned()
            })
            .unwrap_or_default()
    };
    let (mut node, mut item_id, mut from) = (String::new(), String::new(), String::new());
    loop {
        match r.read_event().expect("the stanza is well-formed") {
            Event::Start(e) => match e.name().as_ref() {
                b"message" => from = attr(&e, b"from"),
                b"items" => node = attr(&e, b"node"),
                b"item" => item_id = attr(&e, b"id"),
                b"notification" => {
                    let raw = r.read_text(e.name()).expect("text");
                    let raw = std::str::from_utf8(&raw).expect("UTF-8");
                    let update = quick_xml::escape::unescape(raw).expect("entities");
                    return Item {
                        update: update.into_owned(),
                        node,
                        item_id,
                        from,
                    };
                }
                _ => {}
            },
            Event::Eof => panic!("no <notification> in the stanza"),
            _ => {}
        }
    }
}

/// [`ingest_one`] from the item, as the connector runs it.
fn ingest_item(item: &Item, cache: &StateCache, hub: &Hub) -> usize {
    publish_changes(parse_item_of(item), cache, hub)
}

/// `parse_item` as the connector calls it: the strings move into the
/// notification (cloned here, since the bench's items are used again).
fn parse_item_of(item: &Item) -> Notification {
    parse_item(
        &item.update,
        Some(item.node.clone()),
        Some(item.item_id.clone()),
        Some(item.from.clone()),
    )
    .expect("parses")
}

/// Notifications run against one hub before it is replaced (untimed) by a
/// fresh one with a fresh queue; 2,000 golden notifications queue about 40 MB.
const CHUNK: u64 = 2_000;

/// A hub with one client queue subscribed to every topic the stanzas publish on.
fn fresh_hub() -> (Hub, Arc<ClientQueue>) {
    let hub = Hub::new(Arc::new(MemoryBroker::new(HistoryLimits::default())));
    let queue = Arc::new(ClientQueue::new(1, 1 << 30));
    hub.connect(queue.clone());
    let topics: Vec<(Topic, Option<_>)> = [
        Topic::Agent(AGENT.into()),
        Topic::Team(TEAM.into()),
        Topic::Dialog(golden_dialog().id),
        Topic::Queue("5620".into()),
        Topic::All,
    ]
    .into_iter()
    .map(|t| (t, None))
    .collect();
    hub.subscribe(&queue, &topics, &mut |_| Vec::new())
        .expect("subscribes");
    (hub, queue)
}

/// A cache that knows the agent (extension, team), as after its session's resync.
fn primed_cache() -> StateCache {
    let cache = StateCache::new(CacheConfig::default());
    cache.reconcile(AGENT, agent_user(UserState::Ready), Vec::new());
    cache
}

fn whole_ingest(c: &mut Criterion) {
    let inputs = [
        ("golden_dialog_put", golden_pair()),
        ("user_put", user_pair()),
        ("call_mix", call_mix()),
    ];
    let mut g = c.benchmark_group("whole_ingest");
    g.throughput(Throughput::Elements(1));
    for (name, stanzas) in &inputs {
        // Every notification must make exactly one change, else the cache
        // would be skipping work that a live feed does.
        {
            let cache = primed_cache();
            let (hub, _queue) = fresh_hub();
            for s in stanzas.iter().chain(stanzas) {
                assert!(ingest_one(s, &cache, &hub) > 0, "{name}: no change");
            }
        }
        bench_chunks(&mut g, name, stanzas, |s: &String, c, h| {
            ingest_one(s, c, h)
        });
    }
    g.finish();

    let mut g = c.benchmark_group("whole_ingest_item");
    g.throughput(Throughput::Elements(1));
    for (name, stanzas) in &inputs {
        let items: Vec<Item> = stanzas.iter().map(|s| item_of(s)).collect();
        check_items(name, stanzas, &items, parse_item_of);
        bench_chunks(&mut g, name, &items, ingest_item);
    }
    g.finish();
}

/// Before timing: each item, parsed with `parse`, gives what its whole
/// stanza gives, and makes one change (twice through the list).
fn check_items(
    name: &str,
    stanzas: &[String],
    items: &[Item],
    mut parse: impl FnMut(&Item) -> Notification,
) {
    let cache = primed_cache();
    let (hub, _queue) = fresh_hub();
    for (s, item) in stanzas.iter().zip(items).chain(stanzas.iter().zip(items)) {
        let n = parse(item);
        assert_eq!(n, parse_notification(s).expect("parses"), "{name}");
        assert!(publish_changes(n, &cache, &hub) > 0, "{name}: no change");
    }
}

/// Times `one` over `inputs` in turn, on a fresh hub every [`CHUNK`]
/// notifications (replaced outside the timed part).
fn bench_chunks<T>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    inputs: &[T],
    mut one: impl FnMut(&T, &StateCache, &Hub) -> usize,
) {
    let cache = primed_cache();
    let mut i = 0usize;
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(CHUNK);
                left -= n;
                let (hub, queue) = fresh_hub();
                let start = Instant::now();
                for _ in 0..n {
                    black_box(one(black_box(&inputs[i]), &cache, &hub));
                    i = (i + 1) % inputs.len();
                }
                total += start.elapsed();
                drop((hub, queue));
            }
            total
        })
    });
}

criterion_group!(benches, ingest, whole_ingest);
criterion_main!(benches);
