//! Golden tests: Finesse notifications through the production path (parse,
//! a fresh cache that knows the agent, `route::publish`), compared with
//! the seed event (`tests/fixtures/seed`) and checked field by field for the
//! project's own fixtures (`tests/fixtures/finesse`).

use std::path::PathBuf;

use serde_json::Value;
use switchboard_core::SignedInAgent;
use switchboard_core::route::translate;
use switchboard_core::testing::json_contains;
use switchboard_finesse::{Update, parse_notification};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn fixture(name: &str) -> String {
    read(repo().join("tests/fixtures/finesse").join(name))
}

fn agent(id: &str, ext: &str) -> SignedInAgent {
    SignedInAgent {
        id: id.into(),
        extension: ext.into(),
    }
}

fn events(xml: &str, agent: &SignedInAgent) -> Vec<Value> {
    let n = parse_notification(xml).expect("fixture parses");
    translate(n, &agent.id, &agent.extension)
        .into_iter()
        .map(|json| serde_json::from_str(&json).expect("event is JSON"))
        .collect()
}

/// The same events whether the Update arrives bare or escaped inside an XMPP message.
fn events_both_ways(update_xml: &str, agent: &SignedInAgent) -> Vec<Value> {
    let bare = events(update_xml, agent);
    let update = parse_notification(update_xml).expect("parses").update;
    let stanza = Update::to_stanza_xml(
        &update,
        "pubsub.finesse.local",
        "x@finesse.local",
        "/finesse/api/User/x/Dialogs",
        "item-1",
    );
    assert!(stanza.contains("&lt;Update&gt;"), "payload is escaped text");
    assert_eq!(
        events(&stanza, agent),
        bare,
        "stanza and bare Update differ"
    );
    bare
}

fn seed_dir() -> PathBuf {
    repo().join("tests/fixtures/seed")
}

#[test]
fn seed_notification_becomes_the_seed_event() {
    let dir = seed_dir();
    let expected: Value =
        serde_json::from_str(&read(dir.join("seed-outbound-event.expected.json"))).expect("JSON");
    let agent = agent("311640960", "5068");
    for file in [
        "finesse/dialog-put-outbound-active.stanza.xml",
        "finesse/dialog-put-outbound-active.update.xml",
    ] {
        let got = events(&read(dir.join(file)), &agent);
        assert_eq!(got.len(), 1, "{file}: one event");
        if let Err(diff) = json_contains(&expected, &got[0]) {
            panic!("{file}: {diff}");
        }
        // Never the password, and the user is exactly {extension, username}.
        assert_eq!(
            got[0]["data"]["call"]["ResponseActual"]["user"],
            serde_json::json!({"extension": "5068", "username": "311640960"})
        );
    }
}

#[test]
fn preview_reservation_offers_accept_reject_close() {
    let e = &events_both_ways(
        &fixture("dialogs-post-preview-reservation.update.xml"),
        &agent("1001001", "5001"),
    )[0];
    assert_eq!(e["topic"], "OutboundCall");
    assert_eq!(e["subtopic"], "OutBoundCallStateChange");
    assert_eq!(e["data"]["event"], "ALERTING");
    let call = &e["data"]["call"];
    assert_eq!(
        call["ButtonStates"],
        serde_json::json!({"items": {"Accept": "Enable", "Reject": "Enable", "Close": "Enable"}, "count": 3})
    );
    let mut allowed: Vec<&str> = call["ActionsAllowed"]["items"]
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    allowed.sort_unstable();
    assert_eq!(allowed, ["SetACCEPT", "SetCLOSE", "SetREJECT"]);
    assert_eq!(call["ActionsAllowed"]["count"], 3);
    assert_eq!(call["id"], "16817521");
    assert_eq!(call["ResponseActual"]["dialog"]["Type"], "outbound");
    assert_eq!(
        call["ResponseActual"]["dialog"]["mediaProperties"]["callType"],
        "OUTBOUND_PREVIEW"
    );
    assert_eq!(call["CallVariables"]["callVariable1"], "Policy 88-1243");
    assert_eq!(call["CallVariables"]["callVariable10"], "");
    assert_eq!(
        call["CallVariables"]["BAStatus"],
        "PREVIEW_OUTBOUND_RESERVATION"
    );
    assert_eq!(call["CallVariables"]["BACustomerNumber"], "6175550142");
    assert_eq!(
        call["ExtendedCallVariables"],
        serde_json::json!({"customer_tier": "gold"})
    );
    assert_eq!(call["ResponseFields"]["Campaign"], "Renewals Q4");
    assert_eq!(call["ResponseFields"]["DN"], "5001");
    assert!(
        call["ResponseActual"]["dialog"]
            .get("associatedDialogUri")
            .is_none(),
        "empty element omitted"
    );
}

#[test]
fn inbound_alerting_call_offers_answer_to_its_agent_only() {
    let xml = fixture("dialogs-post-inbound-alerting.update.xml");
    let e = &events_both_ways(&xml, &agent("1001002", "5002"))[0];
    assert_eq!(e["topic"], "InboundCall");
    assert_eq!(e["subtopic"], "InBoundCallStateChange");
    assert_eq!(e["data"]["event"], "ALERTING");
    let call = &e["data"]["call"];
    assert_eq!(
        call["ButtonStates"]["items"],
        serde_json::json!({"Answer": "Enable"})
    );
    assert_eq!(
        call["ActionsAllowed"]["items"]["SetANSWER"]["VariableStructure"],
        serde_json::json!({"CallID": "", "MediaAddress": ""})
    );
    assert_eq!(call["CallVariables"]["callVariable3"], "Spanish & English");
    assert_eq!(
        call["ExtendedCallVariables"],
        serde_json::json!({"caseId": "CS-20931", "ivr_path[0]": "billing"})
    );
    assert_eq!(call["ResponseFields"]["Type"], "inbound");
    assert!(call["ResponseFields"].get("Campaign").is_none());
    // A supervisor (no participant on this call) sees the call without buttons.
    let s = &events(&xml, &agent("2001001", "6001"))[0];
    assert_eq!(s["data"]["call"]["ButtonStates"]["count"], 0);
    assert_eq!(
        s["data"]["call"]["ResponseActual"]["dialog"]["CallState"],
        "ALERTING"
    );
}

#[test]
fn dialogs_delete_is_a_deleted_event() {
    let e = &events_both_ways(
        &fixture("dialogs-delete.update.xml"),
        &agent("1001002", "5002"),
    )[0];
    assert_eq!(e["data"]["event"], "DELETED");
    assert_eq!(e["data"]["call"]["ResponseFields"]["CallState"], "DROPPED");
    assert_eq!(e["data"]["call"]["ButtonStates"]["count"], 0);
}

#[test]
fn a_deleted_dialog_offers_no_actions_and_no_buttons() {
    // Finesse's last view of a rejected reservation still lists ACCEPT,
    // REJECT and CLOSE; the DELETED event offers none of them.
    let e = &events_both_ways(
        &fixture("dialogs-delete-preview-reservation.update.xml"),
        &agent("1001001", "5001"),
    )[0];
    assert_eq!(e["data"]["event"], "DELETED");
    let call = &e["data"]["call"];
    assert_eq!(
        call["ButtonStates"],
        serde_json::json!({"items": {}, "count": 0})
    );
    assert_eq!(
        call["ActionsAllowed"],
        serde_json::json!({"items": {}, "count": 0})
    );
    assert_eq!(call["id"], "16817521");
}

#[test]
fn user_put_is_set_agent_state() {
    let e = &events_both_ways(
        &fixture("user-put-not-ready.update.xml"),
        &agent("1001001", "5001"),
    )[0];
    assert_eq!(
        (
            e["channel"].as_str(),
            e["topic"].as_str(),
            e["subtopic"].as_str()
        ),
        (Some("Cisco"), Some("Agent"), Some("SetAgentState"))
    );
    let d = &e["data"];
    assert_eq!(d["state"], "NOT_READY");
    assert_eq!(d["event"], "NOT_READY");
    assert_eq!(d["reasonCodeId"], "12");
    assert_eq!(d["reasonCode"]["label"], "Break");
    assert_eq!(d["agentId"], "1001001");
    assert_eq!(d["teamId"], "5000");
    assert!(d.get("pendingState").is_none());
}

#[test]
fn cti_error_is_set_api_error() {
    let e = &events_both_ways(
        &fixture("dialog-cti-error.update.xml"),
        &agent("1001002", "5002"),
    )[0];
    assert_eq!(e["topic"], "Error");
    assert_eq!(e["subtopic"], "SetAPIError");
    let d = &e["data"]["data"];
    assert_eq!(e["data"]["packet"], "apierror");
    assert_eq!(d["errorType"], "Call Operation Failure");
    assert_eq!(d["errorMessage"], "CF_RESOURCE_OUT_OF_SERVICE");
    assert_eq!(d["errorData"], "34");
    assert_eq!(d["dialogId"], "16817600");
    assert_eq!(
        d["finesseRequestId"],
        "c0ffee00-1111-4222-8333-444455556666"
    );
    assert!(
        d["msg"]
            .as_str()
            .expect("msg")
            .contains("CF_RESOURCE_OUT_OF_SERVICE")
    );
}

#[test]
fn system_info_out_of_service() {
    let e = &events_both_ways(
        &fixture("systeminfo-out-of-service.update.xml"),
        &agent("1", "1"),
    )[0];
    assert_eq!(e["topic"], "System");
    assert_eq!(e["subtopic"], "SetSystemInfo");
    assert_eq!(e["data"]["status"], "OUT_OF_SERVICE");
    assert_eq!(e["data"]["statusReason"], "CTI_CONNECTION_LOST");
    assert_eq!(e["data"]["secondaryNode"]["host"], "finesse-b.example.com");
}

#[test]
fn finesse_request_id_reaches_response_actual() {
    let mut n = parse_notification(&read(
        seed_dir().join("finesse/dialog-put-outbound-active.update.xml"),
    ))
    .expect("parses");
    n.update.request_id = Some("req-77".into());
    let e: Value = serde_json::from_str(&translate(n, "311640960", "5068")[0]).expect("JSON");
    assert_eq!(e["data"]["call"]["ResponseActual"]["requestId"], "req-77");
}
