//! The web pages end to end, as a person uses them: the real `switchboard demo` binary (broker
//! plus embedded Finesse simulator, no simulated calls) and headless Chromium
//! (`switchboard_testkit::Browser`). An agent signs in on `/agent`, goes Ready, gets a preview
//! reservation from the simulator's scenario API, accepts it and sees the customer call; a
//! supervisor on `/supervisor` sees that agent TALKING.
//!
//! Needs Chromium (`apt-get install -y chromium chromium-driver`; tests/run does it): without
//! it the test fails with the harness's message. Screenshots:
//! `target/test-artifacts/screenshots/{agent-preview-reservation,agent-live-call,supervisor-dashboard}.png`.
//! Timeouts are generous (a loaded 2-core CI machine); nothing here measures speed.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_harness::Demo;
use switchboard_testkit::Browser;

/// The binary under test.
const SWITCHBOARD: &str = env!("CARGO_BIN_EXE_switchboard");

/// How long a page may take to show what the server sent.
const WAIT: Duration = Duration::from_secs(60);

/// Starts a browser; a missing Chromium fails the test with the harness's message.
async fn browser() -> Browser {
    match Browser::start().await {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    }
}

/// Waits until no element matches `css`.
async fn wait_gone(browser: &Browser, css: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let count = browser
            .client()
            .execute(
                "return document.querySelectorAll(arguments[0]).length;",
                vec![json!(css)],
            )
            .await
            .unwrap_or_else(|e| panic!("counting `{css}`: {e}"));
        if count.as_u64() == Some(0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "`{css}` still matches {count} element(s) on {} after {timeout:?}",
            browser.current_url().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Fails with `what` and the error (the harness's errors name the selector and the page).
fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    panic!("{what}: {e}")
}

/// Signs in through the page's form (filled even when pre-filled).
async fn sign_in(browser: &Browser, username: &str, password: &str, extension: &str) {
    for (css, value) in [
        ("#username", username),
        ("#password", password),
        ("#extension", extension),
    ] {
        browser
            .fill(css, value)
            .await
            .unwrap_or_else(|e| fail(&format!("filling {css}"), e));
    }
    browser
        .click("#signin")
        .await
        .unwrap_or_else(|e| fail("clicking Sign in", e));
}

/// The console's errors (uncaught exceptions, failed loads), besides a missing favicon.
async fn console_errors(browser: &Browser) -> Vec<String> {
    browser
        .console_log()
        .await
        .unwrap_or_else(|e| fail("reading the console log", e))
        .into_iter()
        .filter(|line| line.starts_with("SEVERE") && !line.contains("favicon.ico"))
        .collect()
}

/// Asserts the page's error area lists nothing.
async fn assert_no_error_items(browser: &Browser, page: &str) {
    let items = browser
        .client()
        .execute(
            "return Array.from(document.querySelectorAll('[data-testid=error-item]')).map(e => e.textContent);",
            vec![],
        )
        .await
        .unwrap_or_else(|e| fail("reading the error area", e));
    assert_eq!(items, json!([]), "the {page} page shows errors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_accepts_a_preview_reservation_and_the_supervisor_sees_it() {
    let demo = Demo::start(SWITCHBOARD, &["--call-rate", "0", "--log-format", "json"]).await;
    let base = demo.base();

    // The agent widget: sign in, NOT_READY, then Ready.
    let agent = browser().await;
    agent
        .goto(&format!("{base}/agent"))
        .await
        .unwrap_or_else(|e| fail("opening /agent", e));
    sign_in(&agent, "1001001", "demo", "5001").await;
    let state = "[data-testid=agent-state]";
    agent
        .wait_for(&format!("{state}[data-state=NOT_READY]"), WAIT)
        .await
        .unwrap_or_else(|e| fail("waiting for NOT_READY after sign-in", e));
    assert_eq!(
        agent
            .text(state)
            .await
            .unwrap_or_else(|e| fail("agent state", e)),
        "NOT_READY"
    );
    assert_eq!(
        agent
            .text("[data-testid=agent-id]")
            .await
            .unwrap_or_else(|e| fail("agent id", e)),
        "1001001"
    );
    agent
        .click("#ready")
        .await
        .unwrap_or_else(|e| fail("clicking Ready", e));
    agent
        .wait_for(&format!("{state}[data-state=READY]"), WAIT)
        .await
        .unwrap_or_else(|e| fail("waiting for READY", e));
    assert_eq!(
        agent
            .text(state)
            .await
            .unwrap_or_else(|e| fail("agent state", e)),
        "READY"
    );

    // A preview reservation through the scenario API.
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}/sim/calls", demo.sim()))
        .json(&json!({"agent": "1001001", "kind": "preview"}))
        .send()
        .await
        .expect("POST /sim/calls");
    assert_eq!(
        response.status(),
        reqwest::StatusCode::CREATED,
        "POST /sim/calls"
    );
    let body: Value = response.json().await.expect("JSON answer");
    let reservation = body["dialogId"]
        .as_str()
        .unwrap_or_else(|| panic!("no dialogId in {body}"))
        .to_owned();

    let card = format!(".call-card[data-call-id=\"{reservation}\"]");
    agent
        .wait_for(&format!("{card}[data-event=ALERTING]"), WAIT)
        .await
        .unwrap_or_else(|e| fail("waiting for the reservation's ALERTING card", e));
    for (action, label) in [
        ("SetACCEPT", "Accept"),
        ("SetREJECT", "Reject"),
        ("SetCLOSE", "Close"),
    ] {
        let css = format!("{card} button[data-action={action}]");
        assert_eq!(
            agent.text(&css).await.unwrap_or_else(|e| fail(&css, e)),
            label
        );
    }
    wait_gone(
        &agent,
        &format!("{card} button[data-action=SetANSWER]"),
        WAIT,
    )
    .await;
    assert_eq!(
        agent
            .text(&format!("{card} [data-testid=call-state]"))
            .await
            .unwrap_or_else(|e| fail("call state", e)),
        "ALERTING"
    );
    agent
        .wait_for_text(
            &format!("{card} dd[data-var=BAStatus]"),
            "PREVIEW_OUTBOUND_RESERVATION",
            WAIT,
        )
        .await
        .unwrap_or_else(|e| fail("the reservation's BAStatus", e));
    agent
        .screenshot("agent-preview-reservation")
        .await
        .unwrap_or_else(|e| fail("screenshot", e));

    // Accept: the reservation goes (ACCEPTED, then Dialogs DELETE) and the customer call
    // arrives as a new OUTBOUND dialog, ACTIVE; the agent is TALKING.
    agent
        .click(&format!("{card} button[data-action=SetACCEPT]"))
        .await
        .unwrap_or_else(|e| fail("clicking Accept", e));
    let live_css = ".call-card[data-call-type=OUTBOUND][data-event=ACTIVE]";
    let live = agent
        .wait_for(live_css, WAIT)
        .await
        .unwrap_or_else(|e| fail("waiting for the customer call's ACTIVE card", e));
    let live_id = live
        .attr("data-call-id")
        .await
        .expect("data-call-id")
        .expect("the card has a call id");
    assert_ne!(live_id, reservation, "the customer call is a new dialog");
    wait_gone(&agent, &card, WAIT).await;
    agent
        .wait_for(&format!("{state}[data-state=TALKING]"), WAIT)
        .await
        .unwrap_or_else(|e| fail("waiting for TALKING", e));
    let live_card = format!(".call-card[data-call-id=\"{live_id}\"]");
    for action in ["SetDROP", "SetHOLD"] {
        agent
            .wait_for(&format!("{live_card} button[data-action={action}]"), WAIT)
            .await
            .unwrap_or_else(|e| fail(&format!("the live call's {action} button"), e));
    }
    wait_gone(
        &agent,
        &format!("{live_card} button[data-action=SetACCEPT]"),
        WAIT,
    )
    .await;
    agent
        .wait_for_text(
            &format!("{live_card} dd[data-var=BAStatus]"),
            "PREVIEW_OUTBOUND",
            WAIT,
        )
        .await
        .unwrap_or_else(|e| fail("the live call's BAStatus", e));
    let cards = agent
        .client()
        .execute(
            "return document.querySelectorAll('.call-card').length;",
            vec![],
        )
        .await
        .expect("count the cards");
    assert_eq!(cards, json!(1), "one card: the customer call");
    agent
        .screenshot("agent-live-call")
        .await
        .unwrap_or_else(|e| fail("screenshot", e));

    // The supervisor dashboard, in a second browser: 1001001 is TALKING, its call is live.
    let supervisor = browser().await;
    supervisor
        .goto(&format!("{base}/supervisor"))
        .await
        .unwrap_or_else(|e| fail("opening /supervisor", e));
    sign_in(&supervisor, "2001001", "demo", "5999").await;
    let row = "tr[data-agent-id=\"1001001\"]";
    supervisor
        .wait_for_text(&format!("{row} [data-testid=agent-state]"), "TALKING", WAIT)
        .await
        .unwrap_or_else(|e| fail("waiting for 1001001 TALKING on the dashboard", e));
    supervisor
        .wait_for(
            &format!(
                "tr[data-call-id=\"{live_id}\"][data-username=\"1001001\"][data-event=ACTIVE]"
            ),
            WAIT,
        )
        .await
        .unwrap_or_else(|e| fail("waiting for the live call's row", e));
    supervisor
        .wait_for_text("[data-testid=team-names]", "5000", WAIT)
        .await
        .unwrap_or_else(|e| fail("the team's name", e));
    // Simulated agents 1001002-1001010 are there too (READY: no calls at rate 0).
    supervisor
        .wait_for("tr[data-agent-id=\"1001010\"][data-state=READY]", WAIT)
        .await
        .unwrap_or_else(|e| fail("waiting for simulated agent 1001010", e));
    supervisor
        .wait_for_text("[data-testid=count-TALKING]", "1", WAIT)
        .await
        .unwrap_or_else(|e| fail("the TALKING count", e));
    assert_eq!(
        supervisor
            .text("[data-testid=team-names]")
            .await
            .unwrap_or_else(|e| fail("team names", e)),
        "5000",
        "the simulator's team name \"Team 5000\" does not repeat the id"
    );
    // Tall enough for the counters, the eleven agents and the live calls in one picture.
    supervisor
        .client()
        .set_window_size(1280, 1500)
        .await
        .unwrap_or_else(|e| fail("resizing the window", e));
    supervisor
        .screenshot("supervisor-dashboard")
        .await
        .unwrap_or_else(|e| fail("screenshot", e));

    // Neither page reported an error or threw.
    assert_no_error_items(&agent, "agent").await;
    assert_no_error_items(&supervisor, "supervisor").await;
    assert_eq!(
        console_errors(&agent).await,
        Vec::<String>::new(),
        "agent page console"
    );
    assert_eq!(
        console_errors(&supervisor).await,
        Vec::<String>::new(),
        "supervisor page console"
    );

    supervisor
        .close()
        .await
        .unwrap_or_else(|e| fail("closing the supervisor's browser", e));
    agent
        .close()
        .await
        .unwrap_or_else(|e| fail("closing the agent's browser", e));
    drop(demo);
}
