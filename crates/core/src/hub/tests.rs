use super::*;

fn agent(id: &str) -> Topic {
    Topic::Agent(id.to_owned())
}

fn event(n: u64) -> String {
    format!(
        r#"{{"channel":"Cisco","topic":"Agent","subtopic":"SetAgentState","data":{{"source":"event","n":{n}}}}}"#
    )
}

fn memory_hub(limits: HistoryLimits) -> Hub {
    Hub::new(Arc::new(MemoryBroker::new(limits)))
}

/// A stream's position, as a client that saw everything so far holds it.
fn position(hub: &Hub, topic: &Topic) -> StreamPosition {
    hub.broker.position(topic)
}

fn client(hub: &Hub, id: u64, max: usize) -> Arc<ClientQueue> {
    let q = Arc::new(ClientQueue::new(id, max));
    hub.connect(q.clone());
    q
}

async fn drain(q: &ClientQueue) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut frames = std::collections::VecDeque::new();
    while q.queued_bytes() > 0 {
        frames.clear();
        q.next_batch(&mut frames, usize::MAX).await;
        out.extend(
            frames
                .iter()
                .map(|f| serde_json::from_str::<serde_json::Value>(text_of(f).unwrap()).unwrap()),
        );
    }
    out
}

fn no_prelude() -> impl FnMut(&[Recovery]) -> Vec<Wire> {
    |_| Vec::new()
}

#[tokio::test]
async fn live_events_reach_subscribers_once_stamped() {
    let hub = memory_hub(HistoryLimits::default());
    let a = client(&hub, 1, 1 << 20);
    let b = client(&hub, 2, 1 << 20);
    hub.subscribe(&a, &[(agent("1"), None)], &mut no_prelude())
        .unwrap();
    hub.subscribe(&b, &[(Topic::All, None)], &mut no_prelude())
        .unwrap();
    hub.publish(&agent("1"), &event(1));
    hub.publish(&agent("2"), &event(2));
    hub.publish(&Topic::All, &event(3));
    let got_a = drain(&a).await;
    assert_eq!(got_a.len(), 1);
    assert_eq!(got_a[0]["stream"], "agent/1");
    assert_eq!(got_a[0]["offset"], 1);
    let got_b = drain(&b).await;
    assert_eq!(got_b.len(), 1);
    assert_eq!(got_b[0]["data"]["n"], 3);
}

#[tokio::test]
async fn resume_replays_exactly_the_missed_events_then_live_ones() {
    let hub = memory_hub(HistoryLimits::default());
    let topic = agent("1");
    let first = client(&hub, 1, 1 << 20);
    hub.subscribe(&first, &[(topic.clone(), None)], &mut no_prelude())
        .unwrap();
    for n in 1..=10 {
        hub.publish(&topic, &event(n));
    }
    let seen = drain(&first).await;
    let last = seen.last().unwrap();
    let since = StreamPosition {
        offset: last["offset"].as_u64().unwrap(),
        epoch: last["epoch"].as_str().unwrap().to_owned(),
    };
    hub.disconnect(1);
    for n in 11..=60 {
        hub.publish(&topic, &event(n));
    }
    let again = client(&hub, 2, 1 << 20);
    let rec = hub
        .subscribe(
            &again,
            &[(topic.clone(), Some(since))],
            &mut |r: &[Recovery]| r[0].replay.clone().unwrap_or_default(),
        )
        .unwrap();
    assert!(rec[0].replay.is_some());
    hub.publish(&topic, &event(61));
    let got = drain(&again).await;
    let ns: Vec<u64> = got
        .iter()
        .map(|v| v["data"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, (11..=61).collect::<Vec<_>>());
    let offsets: Vec<u64> = got.iter().map(|v| v["offset"].as_u64().unwrap()).collect();
    assert_eq!(offsets, (11..=61).collect::<Vec<_>>());
    assert!(got[..50].iter().all(|v| v["data"]["source"] == "replay"));
    assert_eq!(got[50]["data"]["source"], "event");
}

/// A client closed with 4408 comes back with the position it reached; the
/// replay of what it missed is larger than its queue's limit (call events are
/// 3-4 KB and the history holds hundreds), and must arrive whole rather than
/// close the client again: a resume that overflows would loop, reconnect
/// after reconnect.
#[tokio::test]
async fn a_replay_larger_than_the_queue_limit_is_delivered_whole() {
    let hub = memory_hub(HistoryLimits::default());
    let topic = Topic::All;
    let since = position(&hub, &topic);
    for n in 1..=200 {
        hub.publish(&topic, &event(n));
    }
    let replay_bytes: usize = 200 * event(0).len();
    // The queue holds a quarter of the replay.
    let c = client(&hub, 1, replay_bytes / 4);
    let rec = hub
        .subscribe(
            &c,
            &[(topic.clone(), Some(since))],
            &mut |r: &[Recovery]| r[0].replay.clone().unwrap_or_default(),
        )
        .unwrap();
    assert!(rec[0].replay.is_some());
    assert_eq!(c.close_code(), None);
    // A live event after the replay is queued too (the replay is exempt).
    hub.publish(&topic, &event(201));
    assert_eq!(c.close_code(), None);
    let got = drain(&c).await;
    let ns: Vec<u64> = got
        .iter()
        .map(|v| v["data"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, (1..=201).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_position_beyond_the_history_is_not_recovered() {
    let hub = memory_hub(HistoryLimits {
        size: 5,
        ..HistoryLimits::default()
    });
    let topic = agent("1");
    let pos = position(&hub, &topic);
    for n in 1..=20 {
        hub.publish(&topic, &event(n));
    }
    let c = client(&hub, 1, 1 << 20);
    let rec = hub
        .subscribe(&c, &[(topic.clone(), Some(pos))], &mut no_prelude())
        .unwrap();
    assert!(rec[0].replay.is_none());
    assert!(rec[0].resumed);
    assert_eq!(rec[0].position.offset, 20);
}

#[tokio::test]
async fn a_slow_client_is_closed_and_the_others_get_everything() {
    let hub = memory_hub(HistoryLimits::default());
    let topic = Topic::All;
    let slow = client(&hub, 0, 4096);
    hub.subscribe(&slow, &[(topic.clone(), None)], &mut no_prelude())
        .unwrap();
    let fast: Vec<_> = (1..=100).map(|i| client(&hub, i, 1 << 20)).collect();
    for c in &fast {
        hub.subscribe(c, &[(topic.clone(), None)], &mut no_prelude())
            .unwrap();
    }
    for n in 0..200 {
        hub.publish(&topic, &event(n));
    }
    assert_eq!(slow.close_code(), Some(CloseCode::TooSlow));
    for c in &fast {
        assert_eq!(drain(c).await.len(), 200);
    }
    assert_eq!(hub.stats().subscriptions, 100);
}

#[tokio::test]
async fn prelude_frames_come_before_live_events_and_resubscribing_is_a_no_op() {
    let hub = memory_hub(HistoryLimits::default());
    let c = client(&hub, 1, 1 << 20);
    let topic = agent("1");
    hub.publish(&topic, &event(1));
    let mut calls = 0;
    hub.subscribe(&c, &[(topic.clone(), None)], &mut |r: &[Recovery]| {
        calls += 1;
        vec![stamp(
            &event(100),
            &r[0].topic,
            r[0].position.offset,
            &r[0].position.epoch,
        )]
    })
    .unwrap();
    hub.subscribe(&c, &[(topic.clone(), None)], &mut |r: &[Recovery]| {
        assert!(r.is_empty());
        Vec::new()
    })
    .unwrap();
    hub.publish(&topic, &event(2));
    let got = drain(&c).await;
    assert_eq!(calls, 1);
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0]["data"]["n"].as_u64(), got[0]["offset"].as_u64()),
        (Some(100), Some(1))
    );
    assert_eq!(
        (got[1]["data"]["n"].as_u64(), got[1]["offset"].as_u64()),
        (Some(2), Some(2))
    );
}

#[tokio::test]
async fn unsubscribe_disconnect_and_sweep_clean_up() {
    let hub = memory_hub(HistoryLimits {
        size: 10,
        ttl: std::time::Duration::from_secs(1),
    });
    let c = client(&hub, 1, 1 << 20);
    hub.subscribe(
        &c,
        &[(agent("1"), None), (agent("2"), None)],
        &mut no_prelude(),
    )
    .unwrap();
    assert_eq!(
        hub.unsubscribe(1, &[agent("1"), agent("9")]),
        vec![agent("1")]
    );
    hub.publish(&agent("1"), &event(1));
    assert_eq!(drain(&c).await.len(), 0);
    assert_eq!(hub.subscriptions(1), vec![agent("2")]);
    hub.disconnect(1);
    assert_eq!(hub.stats().subscriptions, 0);
    let later = Instant::now() + std::time::Duration::from_secs(5);
    assert_eq!(hub.sweep(later), 2);
    assert_eq!(hub.stats().topics, 0);
}

#[tokio::test]
async fn clients_leaving_from_anywhere_in_a_topic_leave_the_others_whole() {
    let hub = memory_hub(HistoryLimits::default());
    let clients: Vec<_> = (1..=50).map(|id| client(&hub, id, 1 << 20)).collect();
    for c in &clients {
        hub.subscribe(c, &[(Topic::All, None)], &mut no_prelude())
            .unwrap();
    }
    // Leave from the front, the middle and the end, by disconnect and by
    // unsubscribe, between publishes.
    hub.publish(&Topic::All, &event(1));
    for id in [1, 25, 50, 2] {
        hub.disconnect(id);
    }
    hub.publish(&Topic::All, &event(2));
    assert_eq!(hub.unsubscribe(30, &[Topic::All]), vec![Topic::All]);
    hub.publish(&Topic::All, &event(3));
    assert_eq!(hub.stats().subscriptions, 45);
    for c in &clients {
        let got: Vec<u64> = drain(c)
            .await
            .iter()
            .map(|e| e["data"]["n"].as_u64().unwrap())
            .collect();
        let want: &[u64] = match c.id() {
            1 | 2 | 25 | 50 => &[1],
            30 => &[1, 2],
            _ => &[1, 2, 3],
        };
        assert_eq!(got, want, "client {}", c.id());
    }
}

#[tokio::test]
async fn broadcast_reaches_every_client_and_close_all_flushes() {
    let hub = memory_hub(HistoryLimits::default());
    let a = client(&hub, 1, 1 << 20);
    let b = client(&hub, 2, 1 << 20);
    hub.broadcast(Wire::from_static("{\"x\":1}"));
    hub.close_all(CloseCode::Shutdown);
    for q in [&a, &b] {
        let mut out = std::collections::VecDeque::new();
        assert_eq!(q.next_batch(&mut out, usize::MAX).await, Batch::Frames);
        assert_eq!(
            q.next_batch(&mut out, usize::MAX).await,
            Batch::Closed(CloseCode::Shutdown)
        );
    }
}

#[tokio::test]
async fn unsubscribing_many_topics_is_one_pass() {
    let hub = memory_hub(HistoryLimits::default());
    let q = client(&hub, 1, 1 << 20);
    let n = 50_000;
    let topics: Vec<(Topic, Option<StreamPosition>)> =
        (0..n).map(|i| (agent(&i.to_string()), None)).collect();
    hub.subscribe(&q, &topics, &mut no_prelude()).unwrap();
    assert_eq!(hub.subscriptions(1).len(), n);
    // Every other topic, in reverse order, with a duplicate and one the
    // client does not have.
    let mut gone: Vec<Topic> = topics
        .iter()
        .step_by(2)
        .map(|(t, _)| t.clone())
        .rev()
        .collect();
    gone.push(gone[0].clone());
    gone.push(agent("not-mine"));
    STEPS.with(|s| s.set(0));
    let removed = hub.unsubscribe(1, &gone);
    let steps = STEPS.with(std::cell::Cell::get);
    assert_eq!(removed.len(), n / 2);
    assert_eq!(hub.subscriptions(1).len(), n / 2);
    // Linear: each of the client's topics and each topic asked for is looked
    // at about once (removing them one at a time moved n/2 topics per
    // removal: about n * n / 8 steps, 300 million here).
    assert!(
        steps <= n + gone.len(),
        "{steps} steps for {n} topics and {} to remove",
        gone.len()
    );
    // The others are still subscribed, and the removed ones are gone.
    hub.publish(&agent("1"), &event(1));
    hub.publish(&agent("0"), &event(2));
    let got = drain(&q).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["stream"], "agent/1");
}

/// The hub drops a topic only when the broker drops its stream: a stream
/// keeps its epoch while it holds history (a client may resume from it) or
/// has a subscriber, and goes once it has neither.
#[tokio::test]
async fn sweep_keeps_a_stream_while_it_has_history_or_subscribers() {
    let hub = memory_hub(HistoryLimits {
        size: 10,
        ttl: std::time::Duration::from_secs(60),
    });
    let kept = agent("1");
    hub.publish(&kept, &event(1));
    let watched = agent("2");
    let c = client(&hub, 1, 1 << 20);
    hub.subscribe(&c, &[(watched.clone(), None)], &mut no_prelude())
        .unwrap();
    let before = (position(&hub, &kept), position(&hub, &watched));
    assert_eq!(hub.sweep(Instant::now()), 0);
    assert_eq!(hub.stats().topics, 2);
    assert_eq!(
        (position(&hub, &kept), position(&hub, &watched)),
        before,
        "same epochs and offsets"
    );
    // Past the TTL: the history is gone, and with it the stream nobody
    // subscribes to; the subscribed one stays.
    let later = Instant::now() + std::time::Duration::from_secs(120);
    assert_eq!(hub.sweep(later), 1);
    assert_eq!(hub.stats().topics, 1);
    assert_eq!(hub.stats().history_bytes, 0);
    assert_eq!(position(&hub, &watched), before.1);
    assert_ne!(position(&hub, &kept).epoch, before.0.epoch, "a new stream");
}
