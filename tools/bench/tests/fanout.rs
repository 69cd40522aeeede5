//! The pure parts of `switchboard-bench fanout`: offset accounting (gaps,
//! duplicates, events missing at the end), the tokens the clients sign in
//! with, frame and NATS payload reading, and the percentile and median
//! reports. No sockets, no timing assertions.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use switchboard_bench::fanout::accounting::{OffsetCheck, StreamOffsets};
use switchboard_bench::fanout::board::Board;
use switchboard_bench::fanout::client::{change_code, reason_code_id, state_key};
use switchboard_bench::fanout::frame::{Frame, scan};
use switchboard_bench::fanout::latency;
use switchboard_bench::fanout::nats::{Stamp, payload, read_stamp};
use switchboard_bench::fanout::report::{Percentiles, RunReport, Summary, median, table};
use switchboard_bench::fanout::switchboard::change_body;
use switchboard_bench::fanout::token::{
    Claims, ClientKind, ClientTopic, Population, TokenSigner, TopicKind,
};

fn agents() -> Vec<String> {
    (1..=10).map(|i| format!("10010{i:02}")).collect()
}

#[test]
fn gaps_and_duplicates_per_stream() {
    let mut s = StreamOffsets::new();
    s.start("all", 100);
    s.start("agent/1001001", 7);
    assert_eq!(s.event("all", 101), OffsetCheck::Next);
    assert_eq!(s.event("all", 102), OffsetCheck::Next);
    // 103 and 104 never came.
    assert_eq!(s.event("all", 105), OffsetCheck::Gap(2));
    assert_eq!(s.event("all", 105), OffsetCheck::Duplicate);
    assert_eq!(s.event("all", 101), OffsetCheck::Duplicate);
    assert_eq!(s.event("all", 106), OffsetCheck::Next);
    // The other stream is independent.
    assert_eq!(s.event("agent/1001001", 8), OffsetCheck::Next);
    assert_eq!((s.in_order, s.lost, s.duplicated), (5, 2, 2));
    // A stream never started is taken from its first event, and counted.
    assert_eq!(s.event("team/5000", 40), OffsetCheck::Unanchored);
    assert_eq!(s.event("team/5000", 41), OffsetCheck::Next);
    assert_eq!(s.unanchored, 1);
    // At the end, the streams reached 110 and 8: four events missing on `all`.
    let reached = |stream: &str| match stream {
        "all" => Some(110),
        "agent/1001001" => Some(8),
        _ => None,
    };
    assert_eq!(s.tail_lost(reached), 4);
    // A snapshot moves the position (a resubscription starts over).
    s.start("all", 200);
    assert_eq!(s.event("all", 201), OffsetCheck::Next);
}

#[test]
fn tokens_carry_the_claims_of_each_subscription() {
    let agents = agents();
    let signer = TokenSigner::hs256("s3cret");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    let key = DecodingKey::from_secret(b"s3cret");
    let day = std::time::Duration::from_secs(86_400);
    let decode = |c: &Claims| {
        let token = signer.sign(c).unwrap();
        assert_eq!(token.split('.').count(), 3);
        jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
            .unwrap()
            .claims
    };

    let all = decode(&Claims::for_client(
        ClientKind::All,
        3,
        &agents,
        "5000",
        day,
    ));
    assert_eq!(all["sub"], "bench-all-3");
    assert_eq!(all["role"], "admin");
    assert!(all.get("agentId").is_none() && all.get("teams").is_none());
    assert!(all["exp"].as_u64().unwrap() > 1_700_000_000);

    let team = decode(&Claims::for_client(
        ClientKind::Team,
        4,
        &agents,
        "5000",
        day,
    ));
    assert_eq!(team["role"], "supervisor");
    assert_eq!(team["teams"], serde_json::json!(["5000"]));

    let agent = decode(&Claims::for_client(
        ClientKind::Agent,
        12,
        &agents,
        "5000",
        day,
    ));
    assert_eq!(agent["role"], "agent");
    assert_eq!(agent["agentId"], "1001003");

    // Another secret does not verify.
    let wrong = TokenSigner::hs256("other")
        .sign(&Claims::for_client(
            ClientKind::All,
            0,
            &agents,
            "5000",
            day,
        ))
        .unwrap();
    assert!(jsonwebtoken::decode::<serde_json::Value>(&wrong, &key, &validation).is_err());

    // What each client subscribes to, and which agents' events it receives.
    let t = ClientTopic::for_client(ClientKind::Agent, 12, &agents, "5000");
    assert_eq!(t.topic, "agent/1001003");
    assert_eq!(t.subject, "agent.1001003");
    assert!(t.covers(2) && !t.covers(3));
    let t = ClientTopic::for_client(ClientKind::Team, 0, &agents, "5000");
    assert_eq!(
        (t.topic.as_str(), t.subject.as_str()),
        ("team/5000", "team.5000")
    );
    assert!(t.covers(0) && t.covers(9));
}

#[test]
fn a_mixed_population_follows_its_weights() {
    // One kind for everyone unless mixed.
    let agents_only = Population::new(TopicKind::Agent, [90, 9, 1]);
    assert_eq!(agents_only.counts(1000), [1000, 0, 0]);
    assert_eq!(agents_only.describe(1000), "agent");
    assert_eq!(agents_only.place(7), (ClientKind::Agent, 7));
    // 90 agents, 9 supervisors, 1 wallboard in every 100 consecutive clients.
    let mixed = Population::new(TopicKind::Mixed, [90, 9, 1]);
    assert_eq!(mixed.counts(1000), [900, 90, 10]);
    assert_eq!(mixed.describe(1000), "mixed: 900 agent, 90 team, 10 all");
    assert_eq!(mixed.kind_of(0), ClientKind::All);
    assert_eq!(mixed.kind_of(1), ClientKind::Team);
    assert_eq!(mixed.kind_of(9), ClientKind::Team);
    assert_eq!(mixed.kind_of(10), ClientKind::Agent);
    assert_eq!(mixed.kind_of(100), ClientKind::All);
    // A partial block takes its kinds in the block's order (wallboards,
    // supervisors, agents): 2 x (6, 3, 1), then 1 wallboard, 3 supervisors, 1 agent.
    assert_eq!(
        Population::new(TopicKind::Mixed, [6, 3, 1]).counts(25),
        [13, 9, 3]
    );
    // A zero weight leaves that kind out.
    assert_eq!(
        Population::new(TopicKind::Mixed, [1, 0, 0]).counts(7),
        [7, 0, 0]
    );
    // Each client's place among its kind: wallboards, supervisors and agents
    // are numbered on their own, so agent clients take the agents in turn
    // whatever the weights (here the block, 10, equals the number of agents),
    // and every token names a different subject.
    let agents: Vec<String> = (1..=10).map(|i| format!("100100{i}")).collect();
    let day = std::time::Duration::from_secs(86_400);
    let tens = Population::new(TopicKind::Mixed, [6, 3, 1]);
    assert_eq!(tens.place(0), (ClientKind::All, 0));
    assert_eq!(tens.place(10), (ClientKind::All, 1));
    assert_eq!(tens.place(13), (ClientKind::Team, 5));
    assert_eq!(tens.place(14), (ClientKind::Agent, 6));
    let mut per_agent = [0usize; 10];
    let mut subs = std::collections::BTreeSet::new();
    for i in 0..1000 {
        let (kind, place) = tens.place(i);
        let claims = Claims::for_client(kind, place, &agents, "5000", day);
        assert!(subs.insert(claims.sub.clone()), "{} twice", claims.sub);
        if kind == ClientKind::Agent {
            let t = ClientTopic::for_client(kind, place, &agents, "5000");
            let a = t.agent.expect("an agent topic");
            assert_eq!(claims.agent_id.as_deref(), Some(agents[a].as_str()));
            per_agent[a] += 1;
        }
    }
    assert_eq!(per_agent, [60; 10]);
}

#[test]
fn frames_and_payloads() {
    let live = r#"{"channel":"Cisco","topic":"Agent","subtopic":"SetAgentState","data":{"source":"event","agentId":"1001004","firstName":"A \"quoted\" name","state":"NOT_READY","reasonCode":{"id":"12","label":"Break","category":"NOT_READY"},"stateChangeTime":"2026-11-24T09:30:00.120Z","event":"NOT_READY"},"stream":"team/5000","offset":77,"epoch":"19a-3"}"#;
    match scan(live) {
        Frame::Event(e) => {
            assert_eq!((e.stream, e.offset), ("team/5000", 77));
            assert_eq!(e.agent_id, Some("1001004"));
            assert_eq!(e.state, Some("NOT_READY"));
            assert!(e.is_live());
        }
        other => panic!("{other:?}"),
    }
    let snapshot = live.replace(r#""source":"event""#, r#""source":"snapshot""#);
    match scan(&snapshot) {
        Frame::Event(e) => assert!(!e.is_live()),
        other => panic!("{other:?}"),
    }
    let subscribed = r#"{"channel":"Broker","topic":"Subscription","subtopic":"Subscribed","data":{"topics":["all"]},"requestId":"bench-sub"}"#;
    assert_eq!(
        scan(subscribed),
        Frame::Control {
            subtopic: "Subscribed"
        }
    );

    let stamp = Stamp {
        seq: 123_456_789,
        agent: 9,
        offset: 42,
        nanos: 9_876_543_210,
    };
    let p = payload(stamp, 1024);
    assert_eq!(p.len(), 1024);
    assert_eq!(read_stamp(&p).unwrap(), stamp);
    assert!(read_stamp(b"hello world").is_err());
}

#[test]
fn events_complete_when_every_subscriber_has_them() {
    // Two agents, 8 change codes each (reused cyclically), a window of 4.
    let board = Board::new(2, 8, Some(4));
    // Three clients receive agent 0, one of them agent 1 as well.
    board.client_ready(|_| true);
    board.client_ready(|a| a == 0);
    board.client_ready(|a| a == 0);
    assert_eq!(board.subscribers_of(0), 3);
    assert_eq!(board.subscribers_of(1), 1);
    let window = board.window.as_ref().unwrap();
    window.try_acquire().unwrap().forget();
    let (first, code) = board.publish(0).unwrap();
    assert_eq!(code, 0);
    assert_eq!(board.lookup(0, 0), Some(first));
    assert_eq!(board.lookup(0, 1), None);
    assert_eq!(board.lookup(1, 0), None);
    // A client's read gathers the latencies and records them together.
    let mut batch = latency::Batch::default();
    for i in 0..3 {
        assert_eq!(board.completed(), 0, "after {i} deliveries");
        let us = board.delivered(0, first, first.nanos + 1_500_000);
        assert_eq!(us, 1_500);
        batch.push(latency::Clock::Sent, us);
    }
    assert_eq!(board.completed(), 1);
    assert_eq!(window.available_permits(), 4);
    let (second, code) = board.publish(1).unwrap();
    assert_eq!(code, 0);
    assert_ne!(second.seq, first.seq);
    batch.push(
        latency::Clock::Sent,
        board.delivered(1, second, second.nanos + 2_000),
    );
    assert_eq!(board.completed(), 2);
    assert_eq!(
        Percentiles::of(&latency::take()[0]).count,
        0,
        "nothing is recorded before the batch is"
    );
    batch.record();
    // The four deliveries were recorded on this thread: 1.5 ms three times, 2 µs once.
    let [sent, created] = latency::take();
    let p = Percentiles::of(&sent);
    assert_eq!(p.count, 4);
    assert!(created.is_empty());
    assert!((1_499..=1_501).contains(&p.p50), "{p:?}");
    assert!((1_499..=1_501).contains(&p.max), "{p:?}");
    assert_eq!(Percentiles::of(&latency::take()[0]).count, 0);
}

#[test]
fn changes_are_named_by_their_reason_code() {
    let board = Board::new(1, 3, None);
    let codes: Vec<usize> = (0..7).map(|_| board.publish(0).unwrap().1).collect();
    assert_eq!(codes, vec![0, 1, 2, 0, 1, 2, 0]);
    // The record of a code is its latest use.
    assert_eq!(board.lookup(0, 0).unwrap().seq, 6);
    assert_eq!(reason_code_id(2), "10002");
    assert_eq!(change_code("10002", 3), Some(2));
    assert_eq!(change_code("10003", 3), None);
    assert_eq!(change_code("12", 3), None);
    assert_eq!(
        change_body(5),
        "<User><state>NOT_READY</state><reasonCodeId>10005</reasonCodeId></User>"
    );
    // A repeat has the same state and reason; any other change does not.
    assert_eq!(
        state_key("NOT_READY", Some("10002")),
        state_key("NOT_READY", Some("10002"))
    );
    assert_ne!(
        state_key("NOT_READY", Some("10002")),
        state_key("NOT_READY", Some("10003"))
    );
    assert_ne!(state_key("NOT_READY", None), state_key("READY", None));
}

#[test]
fn percentiles_medians_and_the_table() {
    let mut h = latency::new_histogram();
    for us in 1..=1000u64 {
        h.record(us).unwrap();
    }
    let p = Percentiles::of(&h);
    assert_eq!(p.count, 1000);
    assert_eq!(p.p50, 500);
    assert_eq!(p.p99, 990);
    assert_eq!(p.p999, 999);
    assert_eq!(p.max, 1000);
    assert_eq!(
        Percentiles::of(&latency::new_histogram()),
        Percentiles::default()
    );

    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    assert_eq!(median(&[]), 0.0);

    let run = |n: usize, rate: f64, lost: u64| RunReport {
        target: "switchboard".into(),
        scenario: "s1".into(),
        run: n,
        topic: "all".into(),
        clients: 1000,
        connected: 1000,
        window: Some(64),
        deliveries_per_s: rate,
        latency_us: Percentiles {
            count: 10,
            p50: 1000 * n as u64,
            p99: 2000,
            p999: 3000,
            max: 4000,
        },
        lost,
        ..RunReport::default()
    };
    let runs = [
        run(1, 300_000.0, 0),
        run(2, 100_000.0, 2),
        run(3, 200_000.0, 0),
    ];
    let s = Summary::of(&runs);
    assert_eq!(s.runs, 3);
    assert_eq!(s.deliveries_per_s, 200_000.0);
    assert_eq!(
        s.deliveries_per_s_runs,
        vec![300_000.0, 100_000.0, 200_000.0]
    );
    assert_eq!(s.latency_us.p50, 2000);
    assert_eq!(s.latency_us.count, 30);
    assert_eq!(s.lost, 2);
    let text = table(&runs, &s);
    assert!(text.contains("median"), "{text}");
    assert!(text.contains("200000"), "{text}");
    let json: serde_json::Value = serde_json::to_value(&s).unwrap();
    assert_eq!(json["window"], 64);
    assert_eq!(json["latency_us"]["p50"], 2000);
}
