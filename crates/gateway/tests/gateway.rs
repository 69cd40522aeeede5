//! End-to-end tests of the gateway (issue 5): real WebSocket clients, the
//! Finesse simulator over HTTP, Prosody over XMPP, the connector's sessions.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_finesse::UserState;
use switchboard_harness::*;
use switchboard_sim::CallKind;
use tokio_tungstenite::tungstenite::Message;

const A1: (&str, &str) = ("1001001", "5001");
const A2: (&str, &str) = ("1001002", "5002");
const A3: (&str, &str) = ("1001003", "5003");
const SUP: (&str, &str) = ("2001001", "5999");

fn items(ev: &Value, key: &str) -> BTreeSet<String> {
    ev["data"]["call"][key]["items"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sequence_and_every_outbound_command() {
    let env = GatewayEnv::start(|_| {}).await;

    // Sign-in: SetAgentState, the snapshot, then Ready.
    let mut a1 = WsClient::connect(&env.url).await;
    let ready = a1.sign_in(A1.0, A1.1).await;
    assert_eq!(ready["agentId"], A1.0);
    assert_eq!(ready["extension"], A1.1);
    assert_eq!(ready["roles"], json!(["agent"]));
    assert!(ready["resumeToken"].as_str().is_some_and(|t| t.len() >= 16));
    let state_at = a1
        .frames
        .iter()
        .position(|v| is(v, "Cisco", "Agent", "SetAgentState"))
        .expect("SetAgentState before Ready");
    let ready_at = a1
        .frames
        .iter()
        .position(|v| is(v, "Broker", "Session", "Ready"))
        .unwrap();
    assert!(state_at < ready_at);
    assert_eq!(a1.frames[state_at]["data"]["source"], "snapshot");
    assert_eq!(a1.frames[state_at]["stream"], "agent/1001001");

    let r = a1
        .command("Cisco", "Agent", "SetReadyState", json!({}))
        .await;
    assert_eq!(response_type(&r), 0, "{r}");
    a1.wait_for("READY event", |v| {
        is(v, "Cisco", "Agent", "SetAgentState")
            && v["data"]["state"] == "READY"
            && v["data"]["source"] != "snapshot"
    })
    .await;

    // A preview reservation offers accept, reject and close.
    let d1 = env.start_call(A1.0, CallKind::Preview);
    let ev = a1.call_event(&d1, "ALERTING").await;
    assert_eq!(ev["subtopic"], "OutBoundCallStateChange");
    assert_eq!(
        items(&ev, "ActionsAllowed"),
        ["SetACCEPT", "SetCLOSE", "SetREJECT"]
            .map(String::from)
            .into()
    );

    // Answer -> ACCEPT.
    let r = a1.call("SetANSWER", json!({"CallID": d1})).await;
    assert_eq!(response_type(&r), 0, "{r}");
    let fid = r["data"]["finesseRequestId"].as_str().unwrap().to_owned();
    let put = env
        .dialog_puts()
        .into_iter()
        .find(|p| p.request_id.as_deref() == Some(fid.as_str()))
        .expect("the ACCEPT reached the simulator");
    assert_eq!(put.path, format!("/finesse/api/Dialog/{d1}"));
    assert_eq!(put.action.as_deref(), Some("ACCEPT"));
    a1.wait_for("the ACCEPT's call event", |v| {
        v["data"]["call"]["ResponseActual"]["requestId"] == fid.as_str()
    })
    .await;

    // The customer call follows: hold, schedule a callback, cancel it.
    let (_, live) = a1
        .wait_from(0, "the customer call", |v| {
            v["subtopic"] == "OutBoundCallStateChange"
                && v["data"]["event"] == "ACTIVE"
                && v["data"]["call"]["id"] != d1.as_str()
        })
        .await;
    let d2 = live["data"]["call"]["id"].as_str().unwrap().to_owned();
    let r = a1.call("SetHOLD", json!({"CallID": d2})).await;
    assert_eq!(response_type(&r), 0, "{r}");
    a1.call_event(&d2, "HELD").await;
    let r = a1
        .call(
            "SetUPDATE_SCHEDULED_CALLBACK",
            json!({"callID": d2, "callbackTime": "2026-12-01T10:30", "callbackNumber": "6125551234"}),
        )
        .await;
    assert_eq!(response_type(&r), 0, "{r}");
    let fid = r["data"]["finesseRequestId"].as_str().unwrap().to_owned();
    let ev = a1
        .wait_for("scheduled callback event", |v| {
            v["data"]["call"]["ResponseActual"]["requestId"] == fid.as_str()
        })
        .await;
    let info = &ev["data"]["call"]["ResponseActual"]["dialog"]["scheduledCallbackInfo"];
    assert_eq!(info["callbackTime"], "2026-12-01T10:30", "{ev}");
    assert_eq!(info["callbackNumber"], "6125551234");
    assert!(items(&ev, "ActionsAllowed").contains("SetCANCEL_SCHEDULED_CALLBACK"));
    let r = a1
        .call("SetCANCEL_SCHEDULED_CALLBACK", json!({"callID": d2}))
        .await;
    assert_eq!(response_type(&r), 0, "{r}");
    let fid = r["data"]["finesseRequestId"].as_str().unwrap().to_owned();
    let ev = a1
        .wait_for("cancelled callback event", |v| {
            v["data"]["call"]["ResponseActual"]["requestId"] == fid.as_str()
        })
        .await;
    assert!(ev["data"]["call"]["ResponseActual"]["dialog"]["scheduledCallbackInfo"].is_null());
    assert!(!items(&ev, "ActionsAllowed").contains("SetCANCEL_SCHEDULED_CALLBACK"));

    // Reject and close, by two other agents.
    for ((id, ext), subtopic) in [(A2, "SetREJECT"), (A3, "SetCLOSE")] {
        let mut c = env.ready_agent((id, ext)).await;
        let d = env.start_call(id, CallKind::Preview);
        c.call_event(&d, "ALERTING").await;
        let r = c.call(subtopic, json!({"CallID": d})).await;
        assert_eq!(response_type(&r), 0, "{r}");
        let fid = r["data"]["finesseRequestId"].as_str().unwrap().to_owned();
        let put = env
            .dialog_puts()
            .into_iter()
            .find(|p| p.request_id.as_deref() == Some(fid.as_str()))
            .unwrap();
        assert_eq!(put.action.as_deref(), Some(&subtopic[3..]));
        c.wait_for("the reservation removed", |v| {
            v["data"]["call"]["id"] == d.as_str() && v["data"]["event"] == "DELETED"
        })
        .await;
    }

    // A later CTI error for a command carries the client's requestId.
    env.finesse
        .sim
        .sim
        .apply(|w| w.fail_next_action(A1.0).map(|()| ((), Vec::new())))
        .unwrap();
    let rid = a1.request_id();
    a1.send(
        json!({"channel":"Cisco","topic":"OutboundCall","subtopic":"SetRETRIEVE",
        "data":{"CallID": d2},"requestId": rid}),
    )
    .await;
    let err = a1
        .wait_for("the CTI error", |v| {
            is(v, "Cisco", "Error", "SetAPIError") && v["requestId"] == rid.as_str()
        })
        .await;
    assert!(err["data"]["data"]["finesseRequestId"].is_string(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_commands_never_reach_finesse() {
    let env = GatewayEnv::start(|_| {}).await;
    let mut before = WsClient::connect(&env.url).await;
    let r = before
        .command("Cisco", "Agent", "SetReadyState", json!({}))
        .await;
    assert_eq!(response_type(&r), 10);
    before
        .wait_for("Not Signed In error", |v| {
            v["data"]["data"]["errorType"] == "Not Signed In" && v["requestId"] == r["requestId"]
        })
        .await;

    let mut a1 = env.ready_agent(A1).await;
    let mut a2 = env.ready_agent(A2).await;
    let d = env.start_call(A2.0, CallKind::Preview);
    a2.call_event(&d, "ALERTING").await;
    let puts_before = env.dialog_puts().len();

    for (who, subtopic, call, expected, error_type) in [
        (1, "SetANSWER", d.as_str(), 3, "Authorization Failure"),
        (1, "SetREJECT", "99999999", 2, "Dialog Not Found"),
        (2, "SetHOLD", d.as_str(), 4, "Action Not Allowed"),
        (2, "SetANSWER", "99999999", 2, "Dialog Not Found"),
        (
            1,
            "SetUPDATE_SCHEDULED_CALLBACK",
            d.as_str(),
            3,
            "Authorization Failure",
        ),
    ] {
        let client = if who == 1 { &mut a1 } else { &mut a2 };
        let data = json!({"CallID": call, "callbackTime": "2026-12-01T10:30"});
        let r = client.call(subtopic, data).await;
        assert_eq!(response_type(&r), expected, "{subtopic} on {call}: {r}");
        let rid = r["requestId"].as_str().unwrap().to_owned();
        let err = client
            .wait_for("the SetAPIError", |v| {
                is(v, "Cisco", "Error", "SetAPIError") && v["requestId"] == rid.as_str()
            })
            .await;
        assert_eq!(err["data"]["data"]["errorType"], error_type);
    }
    // Another agent's call variables and wrap-up are refused too.
    let r = a1
        .command(
            "Cisco",
            "Agent",
            "UpdateCallVariables",
            json!({"callID": d, "key": "callVariable1", "value": "x"}),
        )
        .await;
    assert_eq!(response_type(&r), 3);
    // A supervisor command from an agent.
    let r = a1
        .command(
            "Cisco",
            "Team",
            "SetTeamAgentLogout",
            json!({"Username": A2.0}),
        )
        .await;
    assert_eq!(response_type(&r), 5);
    assert_eq!(
        env.dialog_puts().len(),
        puts_before,
        "no Dialog PUT reached Finesse"
    );
    let user_puts = env
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "PUT"
                && r.path == format!("/finesse/api/User/{}", A2.0)
                && r.user.as_deref() == Some(A1.0)
        })
        .count();
    assert_eq!(user_puts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_sees_the_team_and_agents_only_themselves() {
    let env = GatewayEnv::start(|_| {}).await;
    let mut sup = WsClient::connect(&env.url).await;
    let ready = sup.sign_in(SUP.0, SUP.1).await;
    assert_eq!(ready["roles"], json!(["supervisor"]));
    assert_eq!(ready["teams"], json!(["5000"]));
    sup.send(
        json!({"channel":"Broker","topic":"Subscription","subtopic":"Subscribe",
        "data":{"topics":["team/5000"]}}),
    )
    .await;
    let sub = sup
        .wait_for("Subscribed", |v| {
            is(v, "Broker", "Subscription", "Subscribed")
        })
        .await;
    assert_eq!(sub["data"]["topics"], json!(["team/5000"]));

    let mut a1 = env.ready_agent(A1).await;
    sup.wait_for("agent READY on the team stream", |v| {
        v["stream"] == "team/5000" && v["data"]["agentId"] == A1.0 && v["data"]["state"] == "READY"
    })
    .await;
    let d = env.start_call(A1.0, CallKind::Inbound);
    a1.call_event(&d, "ALERTING").await;
    let ev = sup.call_event(&d, "ALERTING").await;
    assert_eq!(ev["stream"], "team/5000");
    assert_eq!(
        ev["data"]["call"]["ResponseActual"]["user"]["username"],
        A1.0
    );
    let r = a1.call("SetANSWER", json!({"CallID": d})).await;
    assert_eq!(response_type(&r), 0);
    sup.wait_for("agent TALKING", |v| {
        v["stream"] == "team/5000"
            && v["data"]["agentId"] == A1.0
            && v["data"]["state"] == "TALKING"
    })
    .await;

    // An agent may not subscribe to another agent, the team or everything.
    for topic in ["agent/1001002", "team/5000", "all", "dialog/424242"] {
        let rid = a1.request_id();
        a1.send(
            json!({"channel":"Broker","topic":"Subscription","subtopic":"Subscribe",
            "data":{"topics":[topic, "agent/1001001"]},"requestId":rid}),
        )
        .await;
        let err = a1
            .wait_for("refusal", |v| {
                is(v, "Cisco", "Error", "SetAPIError") && v["requestId"] == rid.as_str()
            })
            .await;
        assert_eq!(
            err["data"]["data"]["errorType"], "Authorization Failure",
            "{topic}"
        );
        let sub = a1
            .wait_for("Subscribed", |v| {
                is(v, "Broker", "Subscription", "Subscribed") && v["requestId"] == rid.as_str()
            })
            .await;
        assert_eq!(sub["data"]["topics"], json!(["agent/1001001"]));
    }
    // The agent's own dialog is allowed.
    let rid = a1.request_id();
    a1.send(
        json!({"channel":"Broker","topic":"Subscription","subtopic":"Subscribe",
        "data":{"topics":[format!("dialog/{d}")]},"requestId":rid}),
    )
    .await;
    let sub = a1
        .wait_for("Subscribed", |v| {
            is(v, "Broker", "Subscription", "Subscribed") && v["requestId"] == rid.as_str()
        })
        .await;
    assert_eq!(sub["data"]["topics"], json!([format!("dialog/{d}")]));

    // The supervisor signs the agent out: the agent is closed with 4403.
    let r = sup
        .command(
            "Cisco",
            "Team",
            "SetTeamAgentNotReadyState",
            json!({"Username": A2.0}),
        )
        .await;
    assert_ne!(
        response_type(&r),
        5,
        "a supervisor may act on its team: {r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_in_any_frame_log_or_metric() {
    let env = GatewayEnv::start(|_| {}).await;
    let wrong = "Wr0ng-e2e-Secret-4471";
    let mut c = WsClient::connect(&env.url).await;
    c.send(
        json!({"channel":"Cisco","topic":"Agent","subtopic":"SetUserInfo",
        "data":{"username":A1.0,"password":wrong,"extension":A1.1},"requestId":"bad"}),
    )
    .await;
    let err = c
        .wait_for("auth failure", |v| v["requestId"] == "bad")
        .await;
    assert_eq!(err["data"]["data"]["errorType"], "Authorization Failure");
    // The connection stays open: sign in properly now.
    c.sign_in(A1.0, A1.1).await;
    let r = c
        .command("Cisco", "Agent", "SetReadyState", json!({}))
        .await;
    assert_eq!(response_type(&r), 0);
    let d = env.start_call(A1.0, CallKind::Preview);
    c.call_event(&d, "ALERTING").await;
    let r = c.call("SetANSWER", json!({"CallID": d})).await;
    assert_eq!(response_type(&r), 0);
    let metrics = env.metrics().await;
    assert!(metrics.contains("switchboard_commands_total"), "{metrics}");
    // The recorder is the process's: other tests' SetANSWERs count too.
    let answered = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                "switchboard_command_duration_seconds_bucket{command=\"SetANSWER\",le=\"10\"} ",
            )
        })
        .and_then(|n| n.parse::<u64>().ok());
    assert!(
        answered >= Some(1),
        "the command's duration in the histogram: {metrics}"
    );

    let frames = all_frames();
    let logs = logs();
    assert!(!frames.is_empty() && !logs.is_empty());
    for secret in [PASSWORD, wrong] {
        assert!(
            !frames.iter().any(|f| f.contains(secret)),
            "a frame holds a password"
        );
        assert!(!logs.contains(secret), "the log holds a password");
        assert!(!metrics.contains(secret), "a metric holds a password");
    }
}

/// Alternates an agent between READY and NOT_READY `n` times in the simulator.
fn toggle(env: &GatewayEnv, agent: &str, n: usize, start_ready: bool) {
    for i in 0..n {
        let ready = (i % 2 == 0) == start_ready;
        env.set_state(
            agent,
            if ready {
                UserState::Ready
            } else {
                UserState::NotReady
            },
        );
    }
}

fn position(v: &Value) -> (u64, String) {
    (
        v["offset"].as_u64().expect("offset"),
        v["epoch"].as_str().expect("epoch").to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_replays_exactly_the_missed_events() {
    let env = GatewayEnv::start(|c| c.hub.history_size = 60).await;
    let mut a1 = env.agent(A1.0, A1.1).await;
    a1.wait_for("NOT_READY", |v| v["data"]["state"] == "NOT_READY")
        .await;

    let subscribe = |since: Option<(u64, String)>| {
        let mut data = json!({"topics": ["team/5000"]});
        if let Some((offset, epoch)) = since {
            data["since"] = json!({"team/5000": {"offset": offset, "epoch": epoch}});
        }
        json!({"channel":"Broker","topic":"Subscription","subtopic":"Subscribe","data":data,"requestId":"sub"})
    };

    let mut sup = env.agent(SUP.0, SUP.1).await;
    sup.send(subscribe(None)).await;
    sup.wait_for("Subscribed", |v| v["subtopic"] == "Subscribed")
        .await;
    // One live change, seen on the team stream: the position to resume from.
    toggle(&env, A1.0, 1, true);
    let last = sup
        .wait_for("agent READY on the team stream", |v| {
            v["stream"] == "team/5000"
                && v["data"]["agentId"] == A1.0
                && v["data"]["state"] == "READY"
                && v["data"]["source"] != "snapshot"
        })
        .await;
    let since = position(&last);
    sup.close().await;
    let own = |v: &Value| {
        v["stream"] == "agent/1001001"
            && is(v, "Cisco", "Agent", "SetAgentState")
            && v["data"]["source"] != "snapshot"
    };
    let (seen_ready, _) = a1
        .wait_from(0, "READY on the agent's own stream", |v| {
            own(v) && v["data"]["state"] == "READY"
        })
        .await;

    // 50 events while the supervisor is away.
    let mark = seen_ready + 1;
    toggle(&env, A1.0, 50, false);
    let mut from = mark;
    for _ in 0..50 {
        from = a1.wait_from(from, "the agent's own events", own).await.0 + 1;
    }

    let mut sup = env.agent(SUP.0, SUP.1).await;
    let mark = sup.frames.len();
    sup.send(subscribe(Some(since.clone()))).await;
    let (at, sub) = sup
        .wait_from(mark, "Subscribed", |v| v["subtopic"] == "Subscribed")
        .await;
    assert_eq!(sub["data"]["recovered"], true, "{sub}");
    // Every event of the team stream after `since`, in order: the 50 of agent
    // 1001001 (and any other team member's that happened meanwhile).
    // Then a live change: everything between Subscribed and it is the replay.
    toggle(&env, A1.0, 1, false);
    let (live_at, live) = sup
        .wait_from(at, "a live event", |v| {
            v["stream"] == "team/5000" && v["data"]["source"] != "replay"
        })
        .await;
    let replay: Vec<Value> = sup.frames[at + 1..live_at].to_vec();
    assert!(
        replay
            .iter()
            .all(|v| v["stream"] == "team/5000" && v["data"]["source"] == "replay"),
        "the replay follows Subscribed directly: {replay:#?}"
    );
    let offsets: Vec<u64> = replay
        .iter()
        .map(|v| v["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(
        offsets,
        (since.0 + 1..=since.0 + replay.len() as u64).collect::<Vec<_>>()
    );
    let mine: Vec<&str> = replay
        .iter()
        .filter(|v| v["data"]["agentId"] == A1.0)
        .map(|v| v["data"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        mine.len(),
        50,
        "exactly the 50 missed changes of agent 1001001: {replay:#?}"
    );
    for (i, s) in mine.iter().enumerate() {
        assert_eq!(
            *s,
            if i % 2 == 0 { "NOT_READY" } else { "READY" },
            "event {i}"
        );
    }
    // The live event continues the stream: no gap, no duplicate.
    assert_eq!(
        live["offset"].as_u64(),
        Some(since.0 + replay.len() as u64 + 1)
    );
    assert_eq!(live["data"]["source"], "event");
    let last = position(&live);
    sup.close().await;

    // Beyond the history (60): a snapshot and recovered: false.
    let mark = a1.frames.len();
    toggle(&env, A1.0, 70, true);
    let mut from = mark;
    for _ in 0..70 {
        from = a1.wait_from(from, "the agent's own events", own).await.0 + 1;
    }
    let mut sup = env.agent(SUP.0, SUP.1).await;
    let mark = sup.frames.len();
    sup.send(subscribe(Some(last))).await;
    let (at, sub) = sup
        .wait_from(mark, "Subscribed", |v| v["subtopic"] == "Subscribed")
        .await;
    assert_eq!(sub["data"]["recovered"], false);
    let (_, snap) = sup
        .wait_from(at, "snapshot", |v| {
            v["stream"] == "team/5000" && v["data"]["agentId"] == A1.0
        })
        .await;
    assert_eq!(snap["data"]["source"], "snapshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_is_closed_with_4408_and_100_others_get_every_event() {
    let env = GatewayEnv::start(|c| {
        c.hub.queue_max_bytes = 256 * 1024;
        c.limits.socket_send_buffer = Some(8 * 1024);
        // The slow client reads its close frame only once the others have
        // every event: its socket must stay open that long.
        c.limits.close_timeout = Duration::from_secs(60);
        // 101 connections of the simulator's one supervisor.
        c.limits.max_connections_per_user = 200;
    })
    .await;
    let mut a1 = env.agent(A1.0, A1.1).await;
    a1.wait_for("NOT_READY", |v| v["data"]["state"] == "NOT_READY")
        .await;
    let subscribe = json!({"channel":"Broker","topic":"Subscription","subtopic":"Subscribe",
        "data":{"topics":["team/5000"]}});

    let addr = env.gateway.local_addr();
    let mut slow = WsClient::connect_small_buffer(&env.url, addr).await;
    slow.sign_in(SUP.0, SUP.1).await;
    slow.send(subscribe.clone()).await;
    slow.wait_for("Subscribed", |v| v["subtopic"] == "Subscribed")
        .await;

    let mut fast = Vec::new();
    for _ in 0..100 {
        let mut c = WsClient::connect(&env.url).await;
        c.sign_in(SUP.0, SUP.1).await;
        c.send(subscribe.clone()).await;
        c.wait_for("Subscribed", |v| v["subtopic"] == "Subscribed")
            .await;
        fast.push(c);
    }
    env.sessions_online(2).await;
    const EVENTS: usize = 1500;
    let readers: Vec<_> = fast
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let mut offsets = Vec::new();
                let mut from = 0;
                while offsets.len() < EVENTS {
                    let (i, v) = c
                        .wait_from(from, "team events", |v| {
                            v["stream"] == "team/5000"
                                && v["data"]["source"] == "event"
                                && v["data"]["agentId"] == A1.0
                        })
                        .await;
                    offsets.push(v["offset"].as_u64().unwrap());
                    from = i + 1;
                }
                (offsets, c)
            })
        })
        .collect();
    toggle(&env, A1.0, EVENTS, true);
    for r in readers {
        let (offsets, c) = r.await.unwrap();
        assert_eq!(offsets.len(), EVENTS);
        assert!(
            offsets.windows(2).all(|w| w[1] == w[0] + 1),
            "no gap, no duplicate"
        );
        assert!(
            c.closed.is_none(),
            "a fast client was closed: {:?}",
            c.closed
        );
    }
    assert_eq!(slow.wait_close().await, 4408);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_its_documented_error_and_the_server_keeps_serving() {
    let env = GatewayEnv::start(|c| c.limits.sign_in_timeout = Duration::from_secs(3)).await;

    // Not signed in in time: 4401.
    let mut idle = WsClient::connect(&env.url).await;

    let mut c = env.agent(A1.0, A1.1).await;
    let mut other = env.agent(A2.0, A2.1).await;
    let invalid = |v: &Value| {
        is(v, "Cisco", "Error", "SetAPIError") && v["data"]["data"]["errorType"] == "Invalid Input"
    };
    let mark = c.frames.len();
    c.send_text("{not json").await;
    let (_, e) = c.wait_from(mark, "bad JSON error", invalid).await;
    assert!(
        e["data"]["data"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("invalid JSON")
    );

    let mark = c.frames.len();
    c.send_message(Message::binary(vec![1u8, 2, 3])).await;
    let (_, e) = c.wait_from(mark, "binary error", invalid).await;
    assert!(
        e["data"]["data"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("binary")
    );

    let mark = c.frames.len();
    c.send(json!({"channel":"Cisco","topic":"OutboundCall","subtopic":"SetNOSUCHTHING","data":{},"requestId":"u1"}))
        .await;
    let (_, e) = c.wait_from(mark, "unknown subtopic error", invalid).await;
    assert_eq!(e["requestId"], "u1");

    let r = c.call("SetANSWER", json!({})).await;
    assert_eq!(response_type(&r), 1, "missing CallID: {r}");
    assert!(
        r["data"]["ResponseText"]
            .as_str()
            .unwrap()
            .contains("CallID")
    );

    // 1,000 random frames: each is answered, the connection stays open.
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    for i in 0..1000 {
        let frame = random_frame(&mut rng, i);
        let mark = c.frames.len();
        c.send_text(&frame).await;
        let sentinel = format!("sentinel-{i}");
        c.send(json!({"channel":"Broker","topic":"Session","subtopic":"Ping","data":{"i":i},"requestId":sentinel}))
            .await;
        let (at, _) = c
            .wait_from(mark, "the sentinel pong", |v| {
                v["requestId"] == sentinel.as_str()
            })
            .await;
        let rid = format!("r-{i}");
        let answered = at > mark || c.frames.iter().any(|v| v["requestId"] == rid.as_str());
        if !answered {
            // A command sent to Finesse answers after the sentinel.
            c.wait_from(mark, "the answer to a random frame", |v| {
                v["requestId"] == rid.as_str()
            })
            .await;
        }
    }
    assert!(c.closed.is_none());
    other
        .send(json!({"channel":"Broker","topic":"Session","subtopic":"Ping","data":{"still":"here"},"requestId":"p"}))
        .await;
    let pong = other.wait_for("pong", |v| v["requestId"] == "p").await;
    assert_eq!(pong["data"], json!({"still": "here"}));

    assert_eq!(idle.wait_close().await, 4401);

    // Oversized frame: 4409.
    c.send_text(&format!(
        r#"{{"channel":"Broker","topic":"Session","subtopic":"Ping","data":"{}"}}"#,
        "x".repeat(70 * 1024)
    ))
    .await;
    assert_eq!(c.wait_close().await, 4409);
    // The other client is still served.
    other.ping().await;
}

/// A fuzzer-style frame: random bytes, broken JSON, valid envelopes with random
/// names, known commands with fields of random types. Never a sign-out.
fn random_frame(rng: &mut fastrand::Rng, i: usize) -> String {
    let names = [
        ("Cisco", "OutboundCall", "SetANSWER"),
        ("Cisco", "InboundCall", "SetHOLD"),
        ("Cisco", "OutboundCall", "SetUPDATE_SCHEDULED_CALLBACK"),
        ("Cisco", "OutboundCall", "SetTRANSFER_SST"),
        ("Cisco", "Agent", "SetNotReadyState"),
        ("Cisco", "Agent", "UpdateCallVariables"),
        ("Cisco", "Agent", "SetUserInfo"),
        ("Broker", "Subscription", "Subscribe"),
        ("Broker", "Subscription", "Unsubscribe"),
        ("Broker", "Session", "Authenticate"),
        ("Cisco", "Nope", "SetX"),
        ("", "", ""),
    ];
    let values = [
        json!(null),
        json!(42),
        json!(-1.5),
        json!(""),
        json!("2026-13-45T99:99"),
        json!("2026-12-01T10:30"),
        json!(["agent/1001002", "bogus//", 7]),
        json!({"nested": {"x": [1, 2]}}),
        json!("x".repeat(200)),
        json!(true),
    ];
    let pick = |rng: &mut fastrand::Rng| values[rng.usize(..values.len())].clone();
    let rid = format!("r-{i}");
    match rng.u8(..6) {
        0 => (0..rng.usize(1..200)).map(|_| rng.char(..)).collect(),
        1 => {
            let (c, t, s) = names[rng.usize(..names.len())];
            let full = json!({"channel":c,"topic":t,"subtopic":s,"data":{"CallID": pick(rng)},"requestId":rid}).to_string();
            full[..rng.usize(1..full.len())].to_owned()
        }
        2 => json!([1, 2, 3]).to_string(),
        _ => {
            let (c, t, s) = names[rng.usize(..names.len())];
            let mut data = serde_json::Map::new();
            for key in [
                "CallID",
                "callbackTime",
                "toAddress",
                "topics",
                "since",
                "key",
                "value",
                "token",
                "username",
                "password",
                "extension",
                "ReasonCodeId",
            ] {
                if rng.bool() {
                    data.insert(key.into(), pick(rng));
                }
            }
            json!({"channel":c,"topic":t,"subtopic":s,"data":data,"requestId":rid}).to_string()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_graceful_shutdown() {
    let env = GatewayEnv::start(|_| {}).await;
    let health = reqwest::get(env.http("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let mut ready = None;
    for _ in 0..100 {
        let r = reqwest::get(env.http("/readyz")).await.unwrap();
        if r.status() == 200 {
            ready = Some(r.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = ready.expect("/readyz never became ready");
    assert_eq!(ready["finesse"], "in service");
    let page = reqwest::get(env.http("/agent")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("switchboard.js"));
    let js = reqwest::get(env.http("/switchboard.js")).await.unwrap();
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    // A browser from another origin is refused.
    let refused = reqwest::Client::new()
        .get(env.http("/ws"))
        .header("Origin", "http://evil.example")
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    let mut a1 = env.agent(A1.0, A1.1).await;
    let mut idle = WsClient::connect(&env.url).await;
    env.gateway.shutdown().await;
    assert_eq!(a1.wait_close().await, 4000);
    assert_eq!(idle.wait_close().await, 4000);
    assert_eq!(env.gateway.connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_pings_keep_a_live_client_and_a_silent_one_is_dropped() {
    let env = GatewayEnv::start(|c| {
        c.limits.ping_interval = Duration::from_millis(300);
        c.limits.idle_timeout = Duration::from_millis(1500);
    })
    .await;
    let mut live = env.agent(A1.0, A1.1).await;
    let mut silent = env.agent(A2.0, A2.1).await;
    // The live client reads for 4 s (its WebSocket library answers the pings);
    // the silent one reads nothing, so it answers none.
    let until = tokio::time::Instant::now() + Duration::from_secs(4);
    while tokio::time::Instant::now() < until && live.closed.is_none() {
        live.read(Duration::from_millis(200)).await;
    }
    assert!(
        live.closed.is_none(),
        "the live client was closed: {:?}",
        live.closed
    );
    live.ping().await;
    // The silent client's connection is gone (dropped, no close code of ours).
    while silent.read(Duration::from_secs(5)).await.is_some() {}
    let (code, _) = silent.closed.clone().expect("the silent connection ended");
    assert!(
        !(4000..5000).contains(&code),
        "dropped, not closed with {code}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_are_closed_with_4429_and_the_others_keep_serving() {
    let env = GatewayEnv::start(|c| c.limits.max_connections = 2).await;
    let mut a1 = env.agent(A1.0, A1.1).await;
    let a2 = env.agent(A2.0, A2.1).await;
    // A third connection is refused: 4429, before any sign-in.
    let mut third = WsClient::connect(&env.url).await;
    assert_eq!(third.wait_close().await, 4429);
    assert!(
        third.frames.is_empty(),
        "the refused connection got frames: {:?}",
        third.frames
    );
    // The refused one is counted out again; the two others still work.
    a1.ping().await;
    // Once one leaves, a new connection is accepted and can sign in.
    a2.close().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while env.gateway.connections() > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {} connections after a client left",
            env.gateway.connections()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut again = env.agent(A2.0, A2.1).await;
    again.ping().await;
    assert!(again.closed.is_none() && a1.closed.is_none());
}
