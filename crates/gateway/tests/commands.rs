//! End-to-end tests of what commands may reach (issue 22): the REST and
//! command timeouts with a late CTI error, the `requestId` rule of CTI
//! errors, `MediaAddress` as the leg acted on, the command rate limits and
//! the connections per user, the end of a `dialog/` subscription when its
//! subscriber leaves the dialog, and the actions of a deleted dialog. Real
//! WebSocket clients, the simulator over HTTP (through a relay that can hold
//! requests back), Prosody over XMPP.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_connector::RestConfig;
use switchboard_finesse::ParticipantState;
use switchboard_harness::*;
use switchboard_sim::CallKind;

const A1: (&str, &str) = ("1001001", "5001");
const A2: (&str, &str) = ("1001002", "5002");
const SUP: (&str, &str) = ("2001001", "5999");

fn is_api_error(v: &Value) -> bool {
    is(v, "Cisco", "Error", "SetAPIError")
}

async fn subscribe(c: &mut WsClient, topic: &str) {
    let rid = c.request_id();
    c.send(
        json!({"channel":"Broker","topic":"Subscription","subtopic":"Subscribe",
        "data":{"topics":[topic]},"requestId":rid}),
    )
    .await;
    let sub = c
        .wait_for("Subscribed", |v| {
            is(v, "Broker", "Subscription", "Subscribed") && v["requestId"] == rid.as_str()
        })
        .await;
    assert_eq!(sub["data"]["topics"], json!([topic]), "{sub}");
}

/// Sends a command without waiting; returns its requestId.
async fn send_command(c: &mut WsClient, topic: &str, subtopic: &str, data: Value) -> String {
    let rid = c.request_id();
    c.send(
        json!({"channel":"Cisco","topic":topic,"subtopic":subtopic,"data":data,"requestId":rid}),
    )
    .await;
    rid
}

/// Point 4: the REST timeout ends a slow command first, its Result names the
/// Finesse requestId without any internal address, and a CTI error arriving
/// after that Result still reaches the client within the CTI error window,
/// and not after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_command_keeps_its_request_id_and_its_late_cti_error() {
    let rest = RestConfig {
        request_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(200),
        ..RestConfig::default()
    };
    let env = GatewayEnv::start_with(rest, true, |c| {
        c.limits.command_timeout = Duration::from_secs(3);
        c.limits.cti_error_window = Duration::from_millis(1500);
    })
    .await;
    let relay = env.relay.as_ref().unwrap();
    let mut a1 = env.ready_agent(A1).await;
    let d = env.start_call(A1.0, CallKind::Preview);
    a1.call_event(&d, "ALERTING").await;

    // Finesse takes the request 1 s late (past the 300 ms REST timeout, inside
    // the 1.5 s window) and then fails it with a CTI error.
    let fail_next = |env: &GatewayEnv| {
        env.finesse
            .sim
            .sim
            .apply(|w| w.fail_next_action(A1.0).map(|()| ((), Vec::new())))
            .unwrap();
    };
    fail_next(&env);
    relay.delay_requests(Duration::from_secs(1));
    let sent = Instant::now();
    let r = a1.call("SetACCEPT", json!({"CallID": d})).await;
    let answered = sent.elapsed();
    assert_eq!(response_type(&r), 8, "{r}");
    assert!(
        answered < Duration::from_secs(3),
        "the REST timeout (300 ms), not the command timeout (3 s), ended it: {answered:?}"
    );
    let fid = r["data"]["finesseRequestId"]
        .as_str()
        .unwrap_or_else(|| panic!("a timed-out Result names its Finesse requestId: {r}"))
        .to_owned();
    let text = r["data"]["ResponseText"].as_str().unwrap();
    for internal in [
        env.finesse.sim.primary.to_string(),
        relay.addr.to_string(),
        "http".to_owned(),
        "/finesse/api".to_owned(),
    ] {
        assert!(!text.contains(&internal), "{internal} in {text:?}");
    }
    let rid = r["requestId"].as_str().unwrap().to_owned();
    let result_at = a1.frames.len() - 1;
    let (_, err) = a1
        .wait_from(
            result_at + 1,
            "the late CTI error with the client's requestId",
            |v| {
                is_api_error(v)
                    && v["requestId"] == rid.as_str()
                    && v["data"]["data"]["finesseRequestId"].is_string()
            },
        )
        .await;
    assert_eq!(
        err["data"]["data"]["finesseRequestId"],
        fid.as_str(),
        "{err}"
    );
    assert_eq!(err["data"]["data"]["errorType"], "Call Operation Failure");
    let put = env
        .dialog_puts()
        .into_iter()
        .find(|p| p.request_id.as_deref() == Some(fid.as_str()))
        .expect("the held request reached the simulator");
    assert_eq!(put.action.as_deref(), Some("ACCEPT"));

    // A CTI error later than the window (2.5 s > 1.5 s) reaches the agent's
    // stream but is no longer matched to the command.
    fail_next(&env);
    relay.delay_requests(Duration::from_millis(2500));
    let r = a1.call("SetACCEPT", json!({"CallID": d})).await;
    assert_eq!(response_type(&r), 8, "{r}");
    let fid2 = r["data"]["finesseRequestId"].as_str().unwrap().to_owned();
    let rid2 = r["requestId"].as_str().unwrap().to_owned();
    let from = a1.frames.len();
    let (at, stream_err) = a1
        .wait_from(from, "the CTI error on the agent's stream", |v| {
            is_api_error(v) && v["data"]["data"]["finesseRequestId"] == fid2.as_str()
        })
        .await;
    assert_eq!(stream_err["stream"], format!("agent/{}", A1.0));
    assert!(
        a1.frames[from..=at]
            .iter()
            .all(|v| !(v["requestId"] == rid2.as_str()
                && v["data"]["data"]["finesseRequestId"].is_string())),
        "a CTI error after the window carries no requestId: {:#?}",
        &a1.frames[from..=at]
    );
    relay.delay_requests(Duration::ZERO);
    for f in all_frames() {
        assert!(!f.contains(&env.finesse.sim.primary.to_string()), "{f}");
        assert!(!f.contains(&relay.addr.to_string()), "{f}");
    }
}

/// Point 9d: a CTI error on the shared streams carries no client requestId;
/// only the connection that sent the command gets one carrying it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cti_error_carries_the_client_request_id_only_to_that_client() {
    let env = GatewayEnv::start(|_| {}).await;
    let mut a1 = env.ready_agent(A1).await;
    let mut other = env.agent(A1.0, A1.1).await;
    let mut sup = WsClient::connect(&env.url).await;
    sup.sign_in(SUP.0, SUP.1).await;
    subscribe(&mut sup, "team/5000").await;
    let d = env.start_call(A1.0, CallKind::Preview);
    a1.call_event(&d, "ALERTING").await;
    other.call_event(&d, "ALERTING").await;
    subscribe(&mut other, &format!("dialog/{d}")).await;

    env.finesse
        .sim
        .sim
        .apply(|w| w.fail_next_action(A1.0).map(|()| ((), Vec::new())))
        .unwrap();
    let rid = "only-mine-7f3a".to_owned();
    a1.send(
        json!({"channel":"Cisco","topic":"OutboundCall","subtopic":"SetACCEPT",
        "data":{"CallID": d},"requestId": rid}),
    )
    .await;
    let own = a1
        .wait_for("the sender's own CTI error", |v| {
            is_api_error(v) && v["requestId"] == rid.as_str()
        })
        .await;
    let fid = own["data"]["data"]["finesseRequestId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        own.get("stream").is_none(),
        "the own copy is outside the streams: {own}"
    );
    // The sender's agent stream carries it too, without the requestId.
    let on_stream = a1
        .wait_for("the CTI error on agent/", |v| {
            is_api_error(v)
                && v["stream"].is_string()
                && v["data"]["data"]["finesseRequestId"] == fid.as_str()
        })
        .await;
    assert!(on_stream.get("requestId").is_none(), "{on_stream}");
    // The other connection of the same agent: on agent/ and dialog/, never the requestId.
    for stream in [format!("agent/{}", A1.0), format!("dialog/{d}")] {
        let ev = other
            .wait_for(&format!("the CTI error on {stream}"), |v| {
                is_api_error(v) && v["stream"] == stream.as_str()
            })
            .await;
        assert_eq!(ev["data"]["data"]["finesseRequestId"], fid.as_str());
        assert!(ev.get("requestId").is_none(), "{ev}");
    }
    // The supervisor's ping comes after anything queued before it.
    sup.ping().await;
    other.ping().await;
    for (who, c) in [("other", &other), ("supervisor", &sup)] {
        assert!(
            c.frames.iter().all(|v| !v.to_string().contains(&rid)),
            "the {who} connection saw the requestId {rid}"
        );
    }
}

/// Point 9a: `MediaAddress` names the leg Finesse acts on; another
/// participant's leg (here the supervisor's, on a consult call) is refused
/// and stays as it was in the simulator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_address_is_checked_as_the_leg_acted_on() {
    let env = GatewayEnv::start(|_| {}).await;
    let mut a1 = env.ready_agent(A1).await;
    let mut sup = env.ready_agent(SUP).await;
    let d = env.start_call(A1.0, CallKind::Inbound);
    a1.call_event(&d, "ALERTING").await;
    let r = a1.call("SetANSWER", json!({"CallID": d})).await;
    assert_eq!(response_type(&r), 0, "{r}");
    a1.call_event(&d, "ACTIVE").await;
    let r = a1
        .call("SetCONSULT_CALL", json!({"CallID": d, "TOAddress": SUP.1}))
        .await;
    assert_eq!(response_type(&r), 0, "{r}");
    let (_, offered) = sup
        .wait_from(0, "the consult call", |v| {
            v["data"]["event"] == "ALERTING" && v["data"]["call"]["id"] != d.as_str()
        })
        .await;
    let c = offered["data"]["call"]["id"].as_str().unwrap().to_owned();
    let r = sup.call("SetANSWER", json!({"CallID": c})).await;
    assert_eq!(response_type(&r), 0, "{r}");
    a1.call_event(&c, "ACTIVE").await;

    let sup_leg = |env: &GatewayEnv| {
        env.finesse
            .sim
            .sim
            .world()
            .dialog(&c)
            .unwrap()
            .participant(SUP.1)
            .map(|p| p.state.clone())
    };
    assert_eq!(sup_leg(&env), Some(ParticipantState::Active));
    let puts_before = env.dialog_puts().len();
    for subtopic in ["SetHOLD", "SetDROP", "SetTRANSFER_SST"] {
        let r = a1
            .call(
                subtopic,
                json!({"CallID": c, "MediaAddress": SUP.1, "TOAddress": "6125550100"}),
            )
            .await;
        assert_eq!(
            response_type(&r),
            5,
            "{subtopic} on the supervisor's leg: {r}"
        );
        assert!(
            r["data"]["ResponseText"]
                .as_str()
                .unwrap()
                .contains("MediaAddress"),
            "{r}"
        );
    }
    assert_eq!(
        env.dialog_puts().len(),
        puts_before,
        "nothing reached Finesse"
    );
    assert_eq!(
        sup_leg(&env),
        Some(ParticipantState::Active),
        "the supervisor's leg is untouched"
    );

    // The sender's own leg, named or not, is acted on.
    let r = a1
        .call("SetHOLD", json!({"CallID": c, "MediaAddress": A1.1}))
        .await;
    assert_eq!(response_type(&r), 0, "{r}");
    let fid = r["data"]["finesseRequestId"].as_str().unwrap().to_owned();
    a1.wait_for("the agent's own leg held", |v| {
        v["data"]["call"]["ResponseActual"]["requestId"] == fid.as_str()
            && v["data"]["event"] == "HELD"
    })
    .await;
    assert_eq!(sup_leg(&env), Some(ParticipantState::Active));
}

/// Point 9b: commands that reach Finesse are capped per connection and per
/// user (the simulator receives at most burst + rate x elapsed, here 10 + 5 x
/// about 2 s of a flood of 400 a second), refused ones
/// get ResponseType 11, and a user's connections are capped (4429).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_rate_limited_per_connection_and_per_user() {
    let env = GatewayEnv::start(|c| {
        c.limits.commands_per_second = 5;
        c.limits.command_burst = 10;
        c.limits.user_commands_per_second = 8;
        c.limits.user_command_burst = 12;
        c.limits.max_connections_per_user = 3;
        c.limits.max_commands_in_flight = 1000;
    })
    .await;
    let ready_puts = |env: &GatewayEnv, user: &str| {
        env.requests()
            .into_iter()
            .filter(|r| {
                r.method == "PUT"
                    && r.path == format!("/finesse/api/User/{user}")
                    && r.action.as_deref() == Some("READY")
            })
            .count()
    };

    // One connection floods for 2 s: 20 commands every 50 ms (400 a second
    // offered, against 5 a second allowed after a burst of 10).
    let mut a1 = env.agent(A1.0, A1.1).await;
    let before = ready_puts(&env, A1.0);
    let start = Instant::now();
    let mut rids = Vec::new();
    while start.elapsed() < Duration::from_secs(2) {
        for _ in 0..20 {
            rids.push(send_command(&mut a1, "Agent", "SetReadyState", json!({})).await);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = rids.len();
    let mut codes = Vec::new();
    for rid in &rids {
        let r = a1
            .wait_for("a Result", |v| {
                v["subtopic"] == "SetReadyStateResult" && v["requestId"] == rid.as_str()
            })
            .await;
        codes.push(response_type(&r));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let accepted = codes.iter().filter(|&&c| c == 0).count();
    let limited = codes.iter().filter(|&&c| c == 11).count();
    assert_eq!(accepted + limited, sent, "{codes:?}");
    let reached = ready_puts(&env, A1.0) - before;
    assert_eq!(
        reached, accepted,
        "every accepted command, and only those, reached Finesse"
    );
    let cap = 10.0 + 5.0 * elapsed;
    eprintln!(
        "one connection: {reached} of {sent} reached the simulator in {elapsed:.2} s (cap {cap:.1})"
    );
    assert!(
        (10..=cap as usize + 1).contains(&reached),
        "{reached} requests reached the simulator in {elapsed:.2} s (cap {cap:.1})"
    );
    let refused = a1
        .wait_for("a rate-limit SetAPIError", |v| {
            is_api_error(v) && v["data"]["data"]["errorType"] == "Too Many Requests"
        })
        .await;
    assert!(
        refused["data"]["data"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("this connection"),
        "{refused}"
    );

    // Three connections of one user share the user's bucket.
    let mut conns = Vec::new();
    let mut resume_token = String::new();
    for _ in 0..3 {
        let mut c = WsClient::connect(&env.url).await;
        let ready = c.sign_in(A2.0, A2.1).await;
        resume_token = ready["resumeToken"].as_str().unwrap().to_owned();
        conns.push(c);
    }
    let before = ready_puts(&env, A2.0);
    let start = Instant::now();
    let mut sent = Vec::new();
    for c in &mut conns {
        let mut rids = Vec::new();
        for _ in 0..8 {
            rids.push(send_command(c, "Agent", "SetReadyState", json!({})).await);
        }
        sent.push(rids);
    }
    let mut accepted = 0;
    let mut by_user = 0;
    for (c, rids) in conns.iter_mut().zip(&sent) {
        for rid in rids {
            let r = c
                .wait_for("a Result", |v| {
                    v["subtopic"] == "SetReadyStateResult" && v["requestId"] == rid.as_str()
                })
                .await;
            match response_type(&r) {
                0 => accepted += 1,
                11 => {
                    assert!(
                        r["data"]["ResponseText"]
                            .as_str()
                            .unwrap()
                            .contains("over all its connections"),
                        "8 per connection is within the connection's burst: {r}"
                    );
                    by_user += 1;
                }
                other => panic!("unexpected ResponseType {other}: {r}"),
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let reached = ready_puts(&env, A2.0) - before;
    assert_eq!(reached, accepted);
    let cap = 12.0 + 8.0 * elapsed;
    eprintln!(
        "one user, three connections: {reached} of 24 reached the simulator in {elapsed:.2} s (cap {cap:.1})"
    );
    assert!(
        (12..=cap as usize + 1).contains(&reached) && by_user >= 24 - cap as usize - 1,
        "{reached} requests of 24 reached the simulator in {elapsed:.2} s (user cap {cap:.1})"
    );

    // A fourth connection of the same user is refused at sign-in and closed
    // with 4429; the three others keep being served.
    let mut fourth = WsClient::connect(&env.url).await;
    let rid = fourth.request_id();
    fourth
        .send(
            json!({"channel":"Cisco","topic":"Agent","subtopic":"SetUserInfo",
            "data":{"username":A2.0,"password":PASSWORD,"extension":A2.1},"requestId":rid}),
        )
        .await;
    let err = fourth
        .wait_for("the refusal", |v| {
            is_api_error(v) && v["requestId"] == rid.as_str()
        })
        .await;
    assert_eq!(
        err["data"]["data"]["errorType"], "Too Many Requests",
        "{err}"
    );
    assert_eq!(fourth.wait_close().await, 4429);
    assert!(
        !fourth
            .frames
            .iter()
            .any(|v| is(v, "Broker", "Session", "Ready")),
        "no Ready for the refused connection"
    );
    // A resume token is refused the same way, and kept.
    let authenticate = |rid: &str| {
        json!({"channel":"Broker","topic":"Session","subtopic":"Authenticate",
            "data":{"token": resume_token},"requestId":rid})
    };
    let mut fifth = WsClient::connect(&env.url).await;
    fifth.send(authenticate("resume-1")).await;
    let err = fifth
        .wait_for("the refusal", |v| {
            is_api_error(v) && v["requestId"] == "resume-1"
        })
        .await;
    assert_eq!(err["data"]["data"]["errorType"], "Too Many Requests");
    assert_eq!(fifth.wait_close().await, 4429);
    for c in &mut conns {
        c.ping().await;
    }
    // The one that issued the token closes: the same token lets a new
    // connection in.
    conns.pop().unwrap().close().await;
    let mut again = None;
    for i in 0..50 {
        let mut c = WsClient::connect(&env.url).await;
        let rid = format!("resume-again-{i}");
        c.send(authenticate(&rid)).await;
        let reply = c
            .wait_for("Ready or the refusal", |v| v["requestId"] == rid.as_str())
            .await;
        if is(&reply, "Broker", "Session", "Ready") {
            again = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        again.is_some(),
        "a connection closed makes room for another"
    );
}

/// Point 9c: a `dialog/<id>` subscription ends, with `Unsubscribed {reason}`,
/// when its subscriber transfers the call away; the supervisor's stays, and
/// the call's later events (call variables included) reach only it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialog_subscription_ends_when_its_subscriber_leaves_the_dialog() {
    let env = GatewayEnv::start(|_| {}).await;
    let mut a1 = env.ready_agent(A1).await;
    let mut a2 = env.ready_agent(A2).await;
    let mut sup = WsClient::connect(&env.url).await;
    sup.sign_in(SUP.0, SUP.1).await;
    let d = env.start_call(A1.0, CallKind::Inbound);
    a1.call_event(&d, "ALERTING").await;
    let r = a1.call("SetANSWER", json!({"CallID": d})).await;
    assert_eq!(response_type(&r), 0, "{r}");
    a1.call_event(&d, "ACTIVE").await;
    let topic = format!("dialog/{d}");
    subscribe(&mut a1, &topic).await;
    subscribe(&mut sup, &topic).await;

    let r = a1
        .call("SetTRANSFER_SST", json!({"CallID": d, "TOAddress": A2.1}))
        .await;
    assert_eq!(response_type(&r), 0, "{r}");
    let (deleted_at, _) = a1
        .wait_from(0, "the DELETED event on dialog/", |v| {
            v["stream"] == topic.as_str() && v["data"]["event"] == "DELETED"
        })
        .await;
    let (ended_at, ended) = a1
        .wait_from(0, "Unsubscribed", |v| {
            is(v, "Broker", "Subscription", "Unsubscribed")
        })
        .await;
    assert!(deleted_at < ended_at, "the DELETED event first");
    assert_eq!(ended["data"]["topics"], json!([topic]), "{ended}");
    assert_eq!(ended["data"]["reason"], "left_dialog", "{ended}");
    assert!(ended.get("requestId").is_none(), "{ended}");

    // The call goes on at A2: answered, a call variable set.
    a2.call_event(&d, "ALERTING").await;
    let r = a2.call("SetANSWER", json!({"CallID": d})).await;
    assert_eq!(response_type(&r), 0, "{r}");
    a2.call_event(&d, "ACTIVE").await;
    let secret = "after-transfer-4e1d";
    let r = a2
        .command(
            "Cisco",
            "Agent",
            "UpdateCallVariables",
            json!({"callID": d, "key": "callVariable5", "value": secret}),
        )
        .await;
    assert_eq!(response_type(&r), 0, "{r}");
    sup.wait_for("the call variable on dialog/ for the supervisor", |v| {
        v["stream"] == topic.as_str()
            && v["data"]["call"]["CallVariables"]["callVariable5"] == secret
    })
    .await;
    // Anything queued to a1 before its pong has arrived by then.
    a1.ping().await;
    let after: Vec<&Value> = a1.frames[ended_at + 1..]
        .iter()
        .filter(|v| v["data"]["call"]["id"] == d.as_str() || v.to_string().contains(secret))
        .collect();
    assert!(after.is_empty(), "a1 still received the dialog: {after:#?}");
    assert!(
        !a1.frames.iter().any(|v| v.to_string().contains(secret)),
        "the call variable reached the agent that left"
    );

    // Once the transfer has settled, the supervisor (whose team's agent has
    // the call) still has the subscription.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later = "after-settle-91c0";
    let r = a2
        .command(
            "Cisco",
            "Agent",
            "UpdateCallVariables",
            json!({"callID": d, "key": "callVariable6", "value": later}),
        )
        .await;
    assert_eq!(response_type(&r), 0, "{r}");
    sup.wait_for("a later event on dialog/ for the supervisor", |v| {
        v["stream"] == topic.as_str()
            && v["data"]["call"]["CallVariables"]["callVariable6"] == later
    })
    .await;
    assert!(
        !sup.frames
            .iter()
            .any(|v| is(v, "Broker", "Subscription", "Unsubscribed")),
        "the supervisor's subscription stays"
    );
}

/// Point 9c, a supervisor's side: a call transferred to an agent of another
/// team leaves the supervisor's `dialog/` subscription after the settle time
/// (and the agent's at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_loses_a_dialog_transferred_out_of_its_teams() {
    const OTHER: (&str, &str) = ("1001010", "5010");
    let env = GatewayEnv::start_full(
        RestConfig::default(),
        false,
        |sim| {
            sim.teams.push(switchboard_sim::TeamConfig {
                id: "6000".into(),
                name: "Team 6000".into(),
            });
            for u in &mut sim.users {
                if u.id == OTHER.0 {
                    u.team_id = "6000".into();
                }
            }
        },
        |_| {},
    )
    .await;
    let mut a1 = env.ready_agent(A1).await;
    let mut other = env.ready_agent(OTHER).await;
    let mut sup = WsClient::connect(&env.url).await;
    sup.sign_in(SUP.0, SUP.1).await;
    let d = env.start_call(A1.0, CallKind::Inbound);
    a1.call_event(&d, "ALERTING").await;
    let r = a1.call("SetANSWER", json!({"CallID": d})).await;
    assert_eq!(response_type(&r), 0, "{r}");
    a1.call_event(&d, "ACTIVE").await;
    let topic = format!("dialog/{d}");
    subscribe(&mut sup, &topic).await;

    let r = a1
        .call(
            "SetTRANSFER_SST",
            json!({"CallID": d, "TOAddress": OTHER.1}),
        )
        .await;
    assert_eq!(response_type(&r), 0, "{r}");
    let transferred = Instant::now();
    other.call_event(&d, "ALERTING").await;
    let ended = sup
        .wait_for("the supervisor's Unsubscribed", |v| {
            is(v, "Broker", "Subscription", "Unsubscribed")
        })
        .await;
    let after = transferred.elapsed();
    assert_eq!(ended["data"]["topics"], json!([topic]), "{ended}");
    assert_eq!(ended["data"]["reason"], "left_dialog");
    assert!(
        after >= Duration::from_secs(2) - Duration::from_millis(100),
        "not before the settle time: {after:?}"
    );
    // The call goes on in team 6000; nothing of it reaches the supervisor.
    let secret = "team-6000-only-52aa";
    let r = other.call("SetANSWER", json!({"CallID": d})).await;
    assert_eq!(response_type(&r), 0, "{r}");
    other.call_event(&d, "ACTIVE").await;
    let r = other
        .command(
            "Cisco",
            "Agent",
            "UpdateCallVariables",
            json!({"callID": d, "key": "callVariable5", "value": secret}),
        )
        .await;
    assert_eq!(response_type(&r), 0, "{r}");
    other
        .wait_for("the call variable at the new agent", |v| {
            v["data"]["call"]["CallVariables"]["callVariable5"] == secret
        })
        .await;
    sup.ping().await;
    assert!(
        !sup.frames.iter().any(|v| v.to_string().contains(secret)),
        "the call variable reached the supervisor of the old team"
    );
}

/// Point 5: the DELETED event of a rejected preview reservation offers no
/// actions and no buttons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_reservation_offers_no_actions() {
    let env = GatewayEnv::start(|_| {}).await;
    let mut a1 = env.ready_agent(A1).await;
    let d = env.start_call(A1.0, CallKind::Preview);
    let offered = a1.call_event(&d, "ALERTING").await;
    assert_eq!(offered["data"]["call"]["ActionsAllowed"]["count"], 3);
    let r = a1.call("SetREJECT", json!({"CallID": d})).await;
    assert_eq!(response_type(&r), 0, "{r}");
    let deleted = a1.call_event(&d, "DELETED").await;
    let call = &deleted["data"]["call"];
    assert_eq!(
        call["ButtonStates"],
        json!({"items": {}, "count": 0}),
        "{deleted}"
    );
    assert_eq!(
        call["ActionsAllowed"],
        json!({"items": {}, "count": 0}),
        "{deleted}"
    );
    // Finesse's last view of the reservation still lists the actions.
    let participant = &call["ResponseActual"]["dialog"]["participants"]["participant"][0];
    assert!(
        !participant["actions"].as_array().unwrap().is_empty(),
        "the case the fix is for: {deleted}"
    );
}
