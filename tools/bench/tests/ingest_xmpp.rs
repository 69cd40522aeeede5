//! The ingest-xmpp benchmark, small, against a real Prosody: every scenario
//! receives every notification, parses all of them and (in `session`) makes
//! exactly one change per notification. Speed is not asserted.

use switchboard_bench::ingest_xmpp::{Args, Scenario, measure};
use switchboard_bench::payload::Mix;

fn args(mix: Mix) -> Args {
    Args {
        messages: 240,
        window: 16,
        agents: 2,
        runs: 1,
        scenarios: vec![Scenario::Raw],
        mix,
        stall_timeout: 20,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_receives_every_notification() {
    for (scenario, mix) in [
        (Scenario::Raw, Mix::Put),
        (Scenario::Parse, Mix::Lifecycle),
        (Scenario::Session, Mix::Put),
        (Scenario::Session, Mix::Lifecycle),
        (Scenario::Session, Mix::User),
    ] {
        let r = measure(scenario, &args(mix))
            .await
            .unwrap_or_else(|e| panic!("{scenario} ({mix}): {e:#}"));
        assert_eq!(r.scenario, scenario);
        assert_eq!(r.messages, 240);
        assert_eq!(r.parse_errors, 0, "{scenario} ({mix})");
        assert_eq!(r.other_changes, 0, "{scenario} ({mix})");
        assert!(r.elapsed > std::time::Duration::ZERO);
        assert!(r.rate() > 0.0);
        if scenario == Scenario::Session {
            // Every change became an event (call events are a few KB, agent events 0.4 KB).
            assert!(r.render_bytes > 240 * 300, "{mix}: {}", r.render_bytes);
        }
    }
}
