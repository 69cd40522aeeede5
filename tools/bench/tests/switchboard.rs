//! `switchboard-bench fanout` against the real `switchboard demo` (a child process on free
//! loopback ports): real WebSocket clients signed in with tokens and subscribed to `all`
//! (then a mixed population: agents, supervisors, a wallboard),
//! agent-state changes (then call-data updates on answered calls) caused through the
//! embedded simulator's REST, every event counted.
//! The benchmark's own accounting must find every event delivered to every client once, in
//! order. Counts only: nothing here measures speed.
//!
//! The binary is `$SWITCHBOARD_BIN`, or built from the product workspace (see `demo`).

mod demo;

use clap::Parser;
use demo::Demo;
use switchboard_bench::fanout;

const SECRET: &str = "bench-test-secret-0123456789";

/// The benchmark's latency histograms are process-wide: its runs in this file go one at a
/// time.
static ONE_RUN_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    fanout: fanout::Args,
}

fn args(demo: &Demo, scenario: &str, extra: &[&str]) -> fanout::Args {
    let url = format!("ws://127.0.0.1:{}/ws", demo.port);
    let sim = demo.sim();
    let pid = demo.process.child.id().expect("demo pid").to_string();
    let mut argv = vec![
        "fanout",
        "--url",
        &url,
        "--sim",
        &sim,
        "--jwt-secret",
        SECRET,
        "--server-pid",
        &pid,
        "--scenario",
        scenario,
        "--clients",
        "30",
        "--window",
        "8",
        "--rate",
        "20",
        "--duration",
        "2",
        "--runs",
        "1",
        "--settle",
        "0",
        "--stall-timeout",
        "30",
    ];
    // A flag in `extra` replaces the default above.
    let mut at = 0;
    while at < argv.len() {
        if argv[at].starts_with("--") && extra.contains(&argv[at]) {
            argv.drain(at..at + 2);
        } else {
            at += 1;
        }
    }
    argv.extend_from_slice(extra);
    Cli::parse_from(argv).fanout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_every_subscriber_once_in_order() {
    let _one = ONE_RUN_AT_A_TIME.lock().await;
    let demo = demo::start(&["--call-rate", "0", "--jwt-secret", SECRET]).await;
    for scenario in ["s1", "s2"] {
        let reports = fanout::run(&args(&demo, scenario, &[]))
            .await
            .unwrap_or_else(|e| panic!("{scenario}: {e:#}\n{}", demo.logs()));
        assert_eq!(reports.len(), 1);
        let r = &reports[0];
        assert_eq!(r.connected, 30, "{scenario}: {r:?}");
        assert!(r.events_published > 0, "{scenario}: {r:?}");
        assert_eq!(r.events_completed, r.events_published, "{scenario}: {r:?}");
        assert_eq!(r.deliveries, 30 * r.events_published, "{scenario}: {r:?}");
        assert_eq!(
            (r.lost, r.duplicated, r.unmatched),
            (0, 0, 0),
            "{scenario}: {r:?}"
        );
        assert_eq!(r.first_error, None, "{scenario}");
        // Every matched delivery also has its latency from the notification's
        // creation (the simulator's stateChangeTime, read from the event).
        let created = r
            .created_latency_us
            .unwrap_or_else(|| panic!("{scenario}: no creation latency: {r:?}"));
        assert_eq!(created.count, r.latency_us.count, "{scenario}: {r:?}");
        assert!(
            r.server_cpu_s > 0.0,
            "{scenario}: the server's CPU was read: {r:?}"
        );
    }
    // A contact center's population in one run (the latency figures are
    // process-wide, so runs go one after the other): agents on their own
    // topics, supervisors on the team, a wallboard on `all`. 30 clients at the
    // default weights (90, 9, 1): 1 wallboard, 9 supervisors and 20 agent
    // clients, 2 for each of the 10 driven agents; each event reaches its
    // agent's 2, the 9 and the 1, once.
    let reports = fanout::run(&args(&demo, "s1", &["--topic", "mixed"]))
        .await
        .unwrap_or_else(|e| panic!("mixed: {e:#}\n{}", demo.logs()));
    let r = &reports[0];
    assert_eq!(r.topic, "mixed: 20 agent, 9 team, 1 all", "{r:?}");
    assert_eq!(r.connected, 30, "{r:?}");
    assert!(r.events_published > 0, "{r:?}");
    assert_eq!(r.events_completed, r.events_published, "{r:?}");
    assert_eq!(r.deliveries, (2 + 9 + 1) * r.events_published, "{r:?}");
    assert_eq!((r.lost, r.duplicated, r.unmatched), (0, 0, 0), "{r:?}");
    assert_eq!(r.first_error, None, "mixed");

    // Call events: each agent gets an answered outbound call, each change is
    // UPDATE_CALL_DATA on it, and each event the full OutBoundCallStateChange
    // (about 3.7 KB here) on every client.
    for scenario in ["s1", "s2"] {
        let reports = fanout::run(&args(&demo, scenario, &["--events", "call-data"]))
            .await
            .unwrap_or_else(|e| panic!("call-data {scenario}: {e:#}\n{}", demo.logs()));
        let r = &reports[0];
        assert_eq!(r.events, "call-data", "{r:?}");
        assert_eq!(r.connected, 30, "{scenario}: {r:?}");
        assert!(r.events_published > 0, "{scenario}: {r:?}");
        assert_eq!(r.events_completed, r.events_published, "{scenario}: {r:?}");
        assert_eq!(r.deliveries, 30 * r.events_published, "{scenario}: {r:?}");
        assert_eq!(
            (r.lost, r.duplicated, r.unmatched, r.repeats),
            (0, 0, 0, 0),
            "{scenario}: {r:?}"
        );
        assert!(r.avg_event_bytes > 3000.0, "{scenario}: {r:?}");
        assert_eq!(r.latency_us.count, r.deliveries, "{scenario}: {r:?}");
        // A Dialog carries no time of its notification's creation.
        assert_eq!(r.created_latency_us, None, "{scenario}: {r:?}");
        assert_eq!(r.first_error, None, "call-data {scenario}");
        // The driver dropped the calls it opened: the agents are free again.
        let state: serde_json::Value = reqwest::get(format!("{}/sim/state", demo.sim()))
            .await
            .expect("GET /sim/state")
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            state["dialogs"],
            serde_json::json!([]),
            "{scenario}: {state}"
        );
    }
}

/// Clients that stop reading (a frozen browser tab) while call events flow: with a small
/// queue (512 KiB), small socket buffers (64 KiB send, 4 KiB receive) and a history long
/// enough for what they miss, the server closes each with 4408; each reconnects with its
/// token and resumes from the last offset it read, and gets the whole gap replayed (more
/// than its queue's limit) and then live events, with nothing lost or twice. The other
/// clients get every event once. Then a network blip: 29 of 30 clients drop their
/// connections at once and resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_are_closed_with_4408_and_resume_without_a_gap() {
    let _one = ONE_RUN_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().expect("temporary folder");
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        "[limits]\nsocket_send_buffer = 65536\n[hub]\nqueue_max_bytes = 524288\nhistory_size = 100000\n",
    )
    .expect("config file");
    let config = config.to_str().expect("UTF-8 path");
    let demo = demo::start(&["-c", config, "--call-rate", "0", "--jwt-secret", SECRET]).await;
    let extra = [
        "--events",
        "call-data",
        "--rate",
        "100",
        "--duration",
        "8",
        "--stalled",
        "3",
        "--stall-after",
        "1",
        "--stall-for",
        "4",
        "--stall-receive-buffer",
        "4096",
    ];
    let reports = fanout::run(&args(&demo, "s2", &extra))
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", demo.logs()));
    let r = &reports[0];
    let s = &r.stalls;
    everyone_got_everything(r, 3);
    assert_eq!((s.closed_4408, s.closed_other), (3, 0), "{r:?}");
    assert_eq!((s.resumed_recovered, s.resumed_snapshot), (3, 0), "{r:?}");
    assert!(s.replayed > 0, "{r:?}");
    assert_eq!(s.skipped, 0, "{r:?}");
    assert_eq!(r.connected, 30, "{r:?}");
    assert_eq!(r.events_completed, r.events_published, "{r:?}");

    // A network blip: all clients but one drop their connections at once and reconnect;
    // each resumes with the replay of what it missed meanwhile.
    let extra = [
        "--events",
        "call-data",
        "--rate",
        "100",
        "--duration",
        "5",
        "--stalled",
        "29",
        "--stall-mode",
        "reconnect",
        "--stall-after",
        "1",
    ];
    let reports = fanout::run(&args(&demo, "s2", &extra))
        .await
        .unwrap_or_else(|e| panic!("reconnect: {e:#}\n{}", demo.logs()));
    let r = &reports[0];
    let s = &r.stalls;
    everyone_got_everything(r, 29);
    assert_eq!(s.reconnected, 29, "{r:?}");
    assert_eq!((s.closed_4408, s.closed_other), (0, 0), "{r:?}");
    assert_eq!((s.resumed_recovered, s.resumed_snapshot), (29, 0), "{r:?}");
    assert!(s.back_after_s.is_some(), "{r:?}");
}

/// A run of 30 clients, `stalled` of them stalled: every stalled client got every event
/// live or replayed, every other client got every event live, nothing was lost, twice or
/// unmatched, and no connection ended early.
fn everyone_got_everything(r: &fanout::report::RunReport, stalled: usize) {
    let s = &r.stalls;
    let (stalled_n, others) = (stalled as u64, 30 - stalled as u64);
    assert_eq!(r.first_error, None, "{r:?}");
    assert_eq!(s.clients, stalled, "{r:?}");
    assert_eq!(
        s.deliveries + s.replayed,
        stalled_n * r.events_published,
        "{r:?}"
    );
    assert_eq!(r.deliveries, others * r.events_published, "{r:?}");
    assert_eq!((r.lost, r.duplicated, r.unmatched), (0, 0, 0), "{r:?}");
    assert_eq!(r.dropped, 0, "{r:?}");
}
