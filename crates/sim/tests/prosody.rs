//! The simulator against a real Prosody: an XMPP client signed in as an agent
//! receives what the REST requests and the scenario API cause, as Finesse
//! would send it (escaped `<Update>` inside a pubsub `<notification>`).

use std::time::Duration;

use reqwest::Client;
use switchboard_finesse::*;
use switchboard_harness::{FinesseEnv, FinesseOptions};
use switchboard_testkit::{ReceivedItem, TlsMode, XmppClient, XmppConfig};
use tokio::sync::mpsc;

struct Env {
    // Field order: the simulator stops before Prosody does (FinesseEnv).
    finesse: FinesseEnv,
    http: Client,
    agent_items: mpsc::Receiver<ReceivedItem>,
    _agent: XmppClient,
}

async fn env() -> Env {
    let finesse = FinesseEnv::start(FinesseOptions {
        auto_subscribe: true,
        scenario: true,
        ..FinesseOptions::default()
    })
    .await;
    let (agent, agent_items) = XmppClient::connect(
        XmppConfig::new(
            finesse.prosody.addr(),
            finesse.prosody.jid("1001001"),
            "demo",
        )
        .resource("test-widget")
        .tls(TlsMode::Plain),
    )
    .await
    .expect("agent signs in to XMPP");
    Env {
        finesse,
        http: Client::new(),
        agent_items,
        _agent: agent,
    }
}

impl Env {
    async fn put(&self, path: &str, body: String, request_id: &str) -> u16 {
        self.http
            .put(format!("http://{}{path}", self.finesse.sim.primary))
            .basic_auth("1001001", Some("demo"))
            .header("requestId", request_id)
            .body(body)
            .send()
            .await
            .expect("PUT")
            .status()
            .as_u16()
    }

    /// The next notification, parsed with the Finesse parser from the whole message.
    async fn next(&mut self) -> (String, Notification) {
        let item = tokio::time::timeout(Duration::from_secs(10), self.agent_items.recv())
            .await
            .expect("a notification within 10 s")
            .expect("XMPP session open");
        assert!(!item.inline_payload, "payload is escaped text: {item:?}");
        let text = item.notification_text.as_deref().expect("a <notification>");
        let n = parse_item(
            text,
            Some(item.node.clone()),
            item.item_id.clone(),
            item.from.clone(),
        )
        .unwrap_or_else(|e| panic!("{e}: {text}"));
        (item.node, n)
    }

    /// Notifications until one matches `done`.
    async fn until(&mut self, done: impl Fn(&Notification) -> bool) -> Vec<(String, Notification)> {
        let mut seen = Vec::new();
        loop {
            let (node, n) = self.next().await;
            let stop = done(&n);
            seen.push((node, n));
            if stop {
                return seen;
            }
        }
    }
}

fn describe(node: &str, n: &Notification) -> String {
    let what = match &n.update.data {
        UpdateData::Dialog(d) => format!("dialog {}", d.state),
        UpdateData::Dialogs(d) => format!("dialogs {}", d[0].state),
        UpdateData::User(u) => format!("user {}", u.state),
        UpdateData::ApiErrors(e) => format!("error {}", e[0].error_type),
        other => format!("{other:?}"),
    };
    format!("{node} {} {what}", n.update.event)
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_reservation_accept_and_cti_error_over_xmpp() {
    let mut env = env().await;
    let login = UserRequest {
        state: UserState::Login,
        extension: Some("5001".into()),
        reason_code_id: None,
    };
    assert_eq!(
        env.put("/finesse/api/User/1001001", login.to_xml(), "login-1")
            .await,
        202
    );
    let (node, n) = env.next().await;
    assert_eq!(node, "/finesse/api/User/1001001");
    assert_eq!(n.update.request_id.as_deref(), Some("login-1"));
    assert!(matches!(&n.update.data, UpdateData::User(u) if u.state == UserState::NotReady));
    let ready = UserRequest {
        state: UserState::Ready,
        ..Default::default()
    };
    assert_eq!(
        env.put("/finesse/api/User/1001001", ready.to_xml(), "ready-1")
            .await,
        202
    );
    env.until(|n| matches!(&n.update.data, UpdateData::User(u) if u.state == UserState::Ready))
        .await;

    // A preview reservation arrives as a Dialogs POST.
    let r = env
        .http
        .post(format!("http://{}/sim/calls", env.finesse.sim.scenario))
        .json(
            &serde_json::json!({"agent": "1001001", "kind": "preview", "campaign": "Renewals Q4"}),
        )
        .send()
        .await
        .expect("scenario");
    assert_eq!(r.status(), 201);
    let id = r.json::<serde_json::Value>().await.expect("json")["dialogId"]
        .as_str()
        .expect("id")
        .to_owned();
    let seen = env.until(|n| n.update.event == UpdateEvent::Post).await;
    let (node, post) = seen.last().expect("POST");
    assert_eq!(node, "/finesse/api/User/1001001/Dialogs");
    assert_eq!(post.update.source, "/finesse/api/User/1001001/Dialogs");
    let UpdateData::Dialogs(dialogs) = &post.update.data else {
        panic!("dialogs")
    };
    let d = &dialogs[0];
    assert_eq!(d.id, id);
    assert_eq!(
        d.media_properties.call_type,
        Some(CallType::OutboundPreview)
    );
    assert_eq!(d.call_variable("BACampaign"), Some("Renewals Q4"));
    assert_eq!(
        d.participant("5001").expect("agent").actions,
        [Action::Accept, Action::Reject, Action::Close]
    );

    // A disallowed action: 202, then a CTI error carrying the request's requestId.
    let hold = DialogRequest {
        action: DialogAction::Hold,
        target_media_address: Some("5001".into()),
    };
    assert_eq!(
        env.put(
            &format!("/finesse/api/Dialog/{id}"),
            hold.to_xml(),
            "hold-42"
        )
        .await,
        202
    );
    let (node, err) = env.next().await;
    assert_eq!(node, "/finesse/api/User/1001001/Dialogs");
    assert_eq!(err.update.request_id.as_deref(), Some("hold-42"));
    assert_eq!(err.update.source, format!("/finesse/api/Dialog/{id}"));
    assert!(
        matches!(&err.update.data, UpdateData::ApiErrors(e) if e[0].error_type == "Generic Error")
    );

    // ACCEPT: the documented sequence.
    let accept = DialogRequest {
        action: DialogAction::Accept,
        target_media_address: Some("5001".into()),
    };
    assert_eq!(
        env.put(
            &format!("/finesse/api/Dialog/{id}"),
            accept.to_xml(),
            "accept-7"
        )
        .await,
        202
    );
    let seen = env
        .until(
            |n| matches!(&n.update.data, UpdateData::Dialog(d) if d.state == DialogState::Active),
        )
        .await;
    let steps: Vec<String> = seen.iter().map(|(node, n)| describe(node, n)).collect();
    assert_eq!(
        steps,
        [
            "/finesse/api/User/1001001/Dialogs PUT dialog ACCEPTED",
            "/finesse/api/User/1001001/Dialogs DELETE dialogs ACCEPTED",
            "/finesse/api/User/1001001/Dialogs POST dialogs INITIATED",
            "/finesse/api/User/1001001 PUT user TALKING",
            "/finesse/api/User/1001001/Dialogs PUT dialog ACTIVE",
        ]
    );
    assert!(
        seen.iter()
            .all(|(_, n)| n.update.request_id.as_deref() == Some("accept-7"))
    );
    let UpdateData::Dialog(call) = &seen.last().expect("last").1.update.data else {
        panic!("dialog")
    };
    assert_eq!(call.media_properties.call_type, Some(CallType::Outbound));
    assert_eq!(call.call_variable("BAStatus"), Some("PREVIEW_OUTBOUND"));
}
