//! The simulated Finesse's behaviour, operation by operation: states, actions,
//! and the notifications each change publishes, in order.

use switchboard_finesse::*;
use switchboard_sim::{CallKind, CallOptions, Outgoing, SimConfig, World};

const A1: &str = "1001001";
const A2: &str = "1001002";
const SUP: &str = "2001001";

fn world() -> World {
    World::new(SimConfig::default())
}

fn sign_in(w: &mut World, agent: &str, ext: &str) {
    let login = UserRequest {
        state: UserState::Login,
        extension: Some(ext.into()),
        reason_code_id: None,
    };
    w.put_user(agent, agent, &login, None).expect("login");
    let ready = UserRequest {
        state: UserState::Ready,
        ..UserRequest::default()
    };
    w.put_user(agent, agent, &ready, None).expect("ready");
}

/// `(node, event, what)` of each notification, for order checks.
fn summary(out: &[Outgoing]) -> Vec<String> {
    out.iter()
        .map(|o| {
            let what = match &o.update.data {
                UpdateData::User(u) => format!("user {} {}", u.login_id, u.state),
                UpdateData::Dialog(d) => format!("dialog {} {}", d.id, d.state),
                UpdateData::Dialogs(ds) => format!("dialogs {} {}", ds[0].id, ds[0].state),
                UpdateData::ApiErrors(e) => format!("error {}", e[0].error_message),
                UpdateData::SystemInfo(s) => format!("system {}", s.status),
                other => format!("{other:?}"),
            };
            format!("{} {} {}", o.node, o.update.event, what)
        })
        .collect()
}

fn req(action: DialogAction, ext: &str) -> DialogRequest {
    DialogRequest {
        action,
        target_media_address: Some(ext.into()),
    }
}

fn state_of(w: &World, agent: &str) -> UserState {
    w.user(agent).expect("user").state
}

#[test]
fn sign_in_lands_in_not_ready_then_ready() {
    let mut w = world();
    assert_eq!(state_of(&w, A1), UserState::Logout);
    let out = w
        .put_user(
            A1,
            A1,
            &UserRequest {
                state: UserState::Login,
                extension: Some("5001".into()),
                reason_code_id: None,
            },
            Some("r1"),
        )
        .expect("login");
    assert_eq!(
        summary(&out),
        [
            "/finesse/api/User/1001001 PUT user 1001001 NOT_READY",
            "/finesse/api/Team/5000/Users PUT user 1001001 NOT_READY",
        ]
    );
    assert_eq!(out[0].update.request_id.as_deref(), Some("r1"));
    assert_eq!(w.user(A1).expect("user").extension.as_deref(), Some("5001"));
    sign_in(&mut w, A1, "5001");
    assert_eq!(state_of(&w, A1), UserState::Ready);
}

#[test]
fn user_request_errors() {
    let mut w = world();
    let login = |ext: Option<&str>| UserRequest {
        state: UserState::Login,
        extension: ext.map(str::to_owned),
        reason_code_id: None,
    };
    assert_eq!(
        w.put_user(A1, A1, &login(None), None)
            .expect_err("no ext")
            .status,
        400
    );
    assert_eq!(
        w.put_user(A1, A1, &login(Some("50a1")), None)
            .expect_err("bad ext")
            .status,
        400
    );
    assert_eq!(
        w.put_user("999", "999", &login(Some("5001")), None)
            .expect_err("unknown")
            .status,
        404
    );
    assert_eq!(
        w.put_user(A2, A1, &login(Some("5002")), None)
            .expect_err("other agent")
            .status,
        401
    );
    sign_in(&mut w, A1, "5001");
    assert_eq!(
        w.put_user(A2, A2, &login(Some("5001")), None)
            .expect_err("busy device")
            .status,
        400
    );
    // READY while signed out: accepted, then an async Invalid State on the User node.
    let out = w
        .put_user(
            A2,
            A2,
            &UserRequest {
                state: UserState::Ready,
                ..Default::default()
            },
            Some("r9"),
        )
        .expect("202");
    assert_eq!(
        summary(&out),
        ["/finesse/api/User/1001002 PUT error CF_INVALID_AGENT_WORKMODE"]
    );
    assert_eq!(out[0].update.request_id.as_deref(), Some("r9"));
}

#[test]
fn supervisor_sets_team_members_without_reason_codes() {
    let mut w = world();
    sign_in(&mut w, A1, "5001");
    let nr = UserRequest {
        state: UserState::NotReady,
        ..Default::default()
    };
    w.put_user(A1, SUP, &nr, None)
        .expect("supervisor sets not ready");
    assert_eq!(state_of(&w, A1), UserState::NotReady);
    assert_eq!(
        w.user(A1).expect("user").reason_code_id.as_deref(),
        Some("999")
    );
    let with_reason = UserRequest {
        state: UserState::NotReady,
        reason_code_id: Some("12".into()),
        extension: None,
    };
    assert_eq!(
        w.put_user(A1, SUP, &with_reason, None)
            .expect_err("no reason codes")
            .status,
        400
    );
    let logout = UserRequest {
        state: UserState::Logout,
        ..Default::default()
    };
    w.put_user(A1, SUP, &logout, None)
        .expect("supervisor signs out");
    assert_eq!(state_of(&w, A1), UserState::Logout);
    assert!(
        w.team("5000")
            .expect("team")
            .users
            .iter()
            .any(|u| u.login_id == A1 && u.state == UserState::Logout)
    );
}

#[test]
fn preview_reservation_accept_becomes_an_outbound_call() {
    let mut w = world();
    sign_in(&mut w, A1, "5001");
    let (id, out) = w
        .start_call(A1, CallKind::Preview, &CallOptions::default())
        .expect("reservation");
    assert_eq!(state_of(&w, A1), UserState::ReservedOutboundPreview);
    let posted = out
        .iter()
        .find_map(|o| match &o.update.data {
            UpdateData::Dialogs(d) if o.update.event == UpdateEvent::Post => Some(d[0].clone()),
            _ => None,
        })
        .expect("Dialogs POST");
    assert_eq!(
        posted.media_properties.call_type,
        Some(CallType::OutboundPreview)
    );
    assert_eq!(
        posted.call_variable("BAStatus"),
        Some("PREVIEW_OUTBOUND_RESERVATION")
    );
    assert_eq!(
        posted.participant("5001").expect("agent").actions,
        [Action::Accept, Action::Reject, Action::Close]
    );

    let out = w
        .dialog_action(&id, A1, &req(DialogAction::Accept, "5001"), Some("acc-1"))
        .expect("202");
    let s = summary(&out);
    let new_id = w.dialogs_of(A1).expect("dialogs")[0].id.clone();
    assert_eq!(
        s,
        [
            format!("/finesse/api/User/1001001/Dialogs PUT dialog {id} ACCEPTED"),
            format!("/finesse/api/User/1001001/Dialogs DELETE dialogs {id} ACCEPTED"),
            format!("/finesse/api/User/1001001/Dialogs POST dialogs {new_id} INITIATED"),
            "/finesse/api/User/1001001 PUT user 1001001 TALKING".to_string(),
            "/finesse/api/Team/5000/Users PUT user 1001001 TALKING".to_string(),
            format!("/finesse/api/User/1001001/Dialogs PUT dialog {new_id} ACTIVE"),
        ]
    );
    assert!(
        out.iter()
            .filter(|o| matches!(o.node, Node::Dialogs(_)))
            .all(|o| o.update.request_id.as_deref() == Some("acc-1"))
    );
    let call = w.dialog(&new_id).expect("customer call");
    assert_eq!(call.media_properties.call_type, Some(CallType::Outbound));
    assert_eq!(call.call_variable("BAStatus"), Some("PREVIEW_OUTBOUND"));
    assert_eq!(call.call_variable("BAResponse"), Some("Accept"));
    assert_eq!(
        call.participant("5001").expect("agent").actions,
        [
            Action::TransferSst,
            Action::ConsultCall,
            Action::Hold,
            Action::UpdateCallData,
            Action::SendDtmf,
            Action::Drop,
            Action::UpdateScheduledCallback,
        ]
    );
    assert_eq!(w.dialog(&id).expect_err("reservation gone").status, 404);
}

#[test]
fn reject_and_close_free_the_agent() {
    for (action, response) in [
        (DialogAction::Reject, "Reject"),
        (DialogAction::Close, "Reject-Close"),
    ] {
        let mut w = world();
        sign_in(&mut w, A1, "5001");
        let (id, _) = w
            .start_call(
                A1,
                CallKind::DirectPreview,
                &CallOptions {
                    blended: true,
                    ..Default::default()
                },
            )
            .expect("reservation");
        assert_eq!(
            w.dialog(&id).expect("d").call_variable("BAStatus"),
            Some("BLENDED_DIRECT_PREVIEW_OUTBOUND_RESERVATION")
        );
        let out = w
            .dialog_action(&id, A1, &req(action, "5001"), None)
            .expect("202");
        match &out[0].update.data {
            UpdateData::Dialogs(d) => assert_eq!(d[0].call_variable("BAResponse"), Some(response)),
            other => panic!("expected Dialogs DELETE first, got {other:?}"),
        }
        assert_eq!(out[0].update.event, UpdateEvent::Delete);
        assert_eq!(state_of(&w, A1), UserState::Ready);
        assert!(w.dialogs_of(A1).expect("dialogs").is_empty());
    }
}

#[test]
fn disallowed_action_is_accepted_then_a_cti_error_with_the_request_id() {
    let mut w = world();
    sign_in(&mut w, A1, "5001");
    let (id, _) = w
        .start_call(A1, CallKind::Preview, &CallOptions::default())
        .expect("reservation");
    let out = w
        .dialog_action(&id, A1, &req(DialogAction::Hold, "5001"), Some("req-hold"))
        .expect("202");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].node, Node::Dialogs(A1.into()));
    assert_eq!(out[0].update.request_id.as_deref(), Some("req-hold"));
    assert_eq!(out[0].update.source, format!("/finesse/api/Dialog/{id}"));
    let UpdateData::ApiErrors(errors) = &out[0].update.data else {
        panic!("apiErrors")
    };
    assert_eq!(errors[0].error_type, "Generic Error");
    assert_eq!(
        errors[0].error_message,
        "INVALID_ACTION HOLD on extension 5001"
    );
    // Nothing changed.
    assert_eq!(state_of(&w, A1), UserState::ReservedOutboundPreview);
}

#[test]
fn scripted_cti_failure_hits_the_next_action_once() {
    let mut w = world();
    sign_in(&mut w, A1, "5001");
    let (id, _) = w
        .start_call(A1, CallKind::Inbound, &CallOptions::default())
        .expect("call");
    w.fail_next_action(A1).expect("script");
    let out = w
        .dialog_action(&id, A1, &req(DialogAction::Answer, "5001"), Some("x"))
        .expect("202");
    assert_eq!(
        summary(&out),
        ["/finesse/api/User/1001001/Dialogs PUT error CF_RESOURCE_OUT_OF_SERVICE"]
    );
    let out = w
        .dialog_action(&id, A1, &req(DialogAction::Answer, "5001"), None)
        .expect("202");
    assert!(summary(&out).iter().any(|s| s.ends_with("ACTIVE")));
}

#[test]
fn dialog_request_errors() {
    let mut w = world();
    sign_in(&mut w, A1, "5001");
    sign_in(&mut w, A2, "5002");
    let (id, _) = w
        .start_call(A1, CallKind::Inbound, &CallOptions::default())
        .expect("call");
    assert_eq!(
        w.dialog_action("404404", A1, &req(DialogAction::Answer, "5001"), None)
            .expect_err("unknown")
            .status,
        404
    );
    assert_eq!(
        w.dialog_action(&id, A2, &req(DialogAction::Answer, "5002"), None)
            .expect_err("not a participant")
            .status,
        401
    );
    let no_target = DialogRequest {
        action: DialogAction::Answer,
        target_media_address: None,
    };
    assert_eq!(
        w.dialog_action(&id, A1, &no_target, None)
            .expect_err("missing")
            .status,
        400
    );
    assert_eq!(
        w.start_call(A1, CallKind::Inbound, &CallOptions::default())
            .expect_err("not ready")
            .status,
        409
    );
}

#[test]
fn inbound_answer_hold_retrieve_drop() {
    let mut w = world();
    sign_in(&mut w, A1, "5001");
    let (id, _) = w
        .start_call(A1, CallKind::Inbound, &CallOptions::default())
        .expect("call");
    assert_eq!(state_of(&w, A1), UserState::Reserved);
    w.dialog_action(&id, A1, &req(DialogAction::Answer, "5001"), None)
        .expect("answer");
    assert_eq!(state_of(&w, A1), UserState::Talking);
    assert_eq!(w.dialog(&id).expect("d").state, DialogState::Active);
    w.dialog_action(&id, A1, &req(DialogAction::Hold, "5001"), None)
        .expect("hold");
    assert_eq!(state_of(&w, A1), UserState::Hold);
    assert_eq!(
        w.dialog(&id)
            .expect("d")
            .participant("5001")
            .expect("p")
            .actions,
        [Action::Retrieve, Action::UpdateCallData, Action::Drop]
    );
    w.dialog_action(&id, A1, &req(DialogAction::Retrieve, "5001"), None)
        .expect("retrieve");
    assert_eq!(state_of(&w, A1), UserState::Talking);
    let out = w
        .dialog_action(&id, A1, &req(DialogAction::Drop, "5001"), None)
        .expect("drop");
    assert_eq!(
        summary(&out),
        [
            format!("/finesse/api/User/1001001/Dialogs PUT dialog {id} DROPPED"),
            format!("/finesse/api/User/1001001/Dialogs DELETE dialogs {id} DROPPED"),
            "/finesse/api/User/1001001 PUT user 1001001 READY".to_string(),
            "/finesse/api/Team/5000/Users PUT user 1001001 READY".to_string(),
        ]
    );
}

#[test]
fn pending_not_ready_applies_when_the_call_ends() {
    let mut w = world();
    sign_in(&mut w, A1, "5001");
    let (id, _) = w
        .start_call(A1, CallKind::Progressive, &CallOptions::default())
        .expect("call");
    assert_eq!(state_of(&w, A1), UserState::ReservedOutbound);
    w.dialog_action(&id, A1, &req(DialogAction::Answer, "5001"), None)
        .expect("answer");
    let nr = UserRequest {
        state: UserState::NotReady,
        reason_code_id: Some("12".into()),
        extension: None,
    };
    w.put_user(A1, A1, &nr, None).expect("pending");
    let u = w.user(A1).expect("user");
    assert_eq!(
        (u.state, u.pending_state),
        (UserState::Talking, Some(UserState::NotReady))
    );
    w.dialog_action(&id, A1, &req(DialogAction::Drop, "5001"), None)
        .expect("drop");
    let u = w.user(A1).expect("user");
    assert_eq!(
        (u.state, u.pending_state, u.reason_code_id.as_deref()),
        (UserState::NotReady, None, Some("12"))
    );
}

#[test]
fn scheduled_callback_update_and_cancel() {
    let mut w = world();
    sign_in(&mut w, A1, "5001");
    let (id, _) = w
        .start_call(A1, CallKind::Predictive, &CallOptions::default())
        .expect("call");
    w.dialog_action(&id, A1, &req(DialogAction::Answer, "5001"), None)
        .expect("answer");
    let bad = DialogAction::UpdateScheduledCallback {
        callback_time: Some("2026-12-01 10:30".into()),
        callback_number: None,
    };
    assert_eq!(
        w.dialog_action(&id, A1, &req(bad, "5001"), None)
            .expect_err("format")
            .status,
        400
    );
    let schedule = DialogAction::UpdateScheduledCallback {
        callback_time: Some("2026-12-01T10:30".into()),
        callback_number: Some("6175550142".into()),
    };
    let out = w
        .dialog_action(&id, A1, &req(schedule, "5001"), Some("cb"))
        .expect("202");
    let UpdateData::Dialog(d) = &out[0].update.data else {
        panic!("Dialog PUT")
    };
    let info = d.scheduled_callback_info.as_ref().expect("scheduled");
    assert_eq!(info.callback_time.as_deref(), Some("2026-12-01T10:30"));
    assert_eq!(info.callback_number.as_deref(), Some("6175550142"));
    assert_eq!(
        d.call_variable("BAResponse"),
        Some("Callback 12012026 10:30")
    );
    assert!(
        d.participant("5001")
            .expect("p")
            .allows(&Action::CancelScheduledCallback)
    );
    w.dialog_action(
        &id,
        A1,
        &req(DialogAction::CancelScheduledCallback, "5001"),
        None,
    )
    .expect("cancel");
    let d = w.dialog(&id).expect("d");
    assert_eq!(d.scheduled_callback_info, None);
    assert!(
        !d.participant("5001")
            .expect("p")
            .allows(&Action::CancelScheduledCallback)
    );
}

#[test]
fn consult_then_transfer_to_another_agent() {
    let mut w = world();
    sign_in(&mut w, A1, "5001");
    sign_in(&mut w, A2, "5002");
    let (orig, _) = w
        .start_call(
            A1,
            CallKind::Inbound,
            &CallOptions {
                customer_number: Some("6175550101".into()),
                ..Default::default()
            },
        )
        .expect("call");
    w.dialog_action(&orig, A1, &req(DialogAction::Answer, "5001"), None)
        .expect("answer");
    w.dialog_action(
        &orig,
        A1,
        &req(
            DialogAction::ConsultCall {
                to_address: "5002".into(),
            },
            "5001",
        ),
        None,
    )
    .expect("consult");
    assert_eq!(state_of(&w, A1), UserState::Hold);
    assert_eq!(state_of(&w, A2), UserState::Reserved);
    let consult = w.dialogs_of(A2).expect("a2")[0].clone();
    assert_eq!(consult.media_properties.call_type, Some(CallType::Consult));
    assert_eq!(
        consult.associated_dialog_uri,
        Some(format!("/finesse/api/Dialog/{orig}"))
    );
    w.dialog_action(&consult.id, A2, &req(DialogAction::Answer, "5002"), None)
        .expect("answer consult");
    assert!(
        w.dialog(&orig)
            .expect("orig")
            .participant("5001")
            .expect("p")
            .allows(&Action::Transfer)
    );
    w.dialog_action(&orig, A1, &req(DialogAction::Transfer, "5001"), Some("t"))
        .expect("transfer");
    assert!(
        w.dialogs_of(A1).expect("a1").is_empty(),
        "the transferring agent leaves"
    );
    assert_eq!(state_of(&w, A1), UserState::Ready);
    let after = w.dialogs_of(A2).expect("a2");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, orig);
    assert_eq!(after[0].secondary_id.as_deref(), Some(consult.id.as_str()));
    assert_eq!(
        after[0].media_properties.call_type,
        Some(CallType::Transfer)
    );
    assert!(after[0].participant("6175550101").is_some());
    assert_eq!(state_of(&w, A2), UserState::Talking);
}

#[test]
fn consult_external_then_conference() {
    let mut w = world();
    sign_in(&mut w, A1, "5001");
    let (orig, _) = w
        .start_call(A1, CallKind::Inbound, &CallOptions::default())
        .expect("call");
    w.dialog_action(&orig, A1, &req(DialogAction::Answer, "5001"), None)
        .expect("answer");
    w.dialog_action(
        &orig,
        A1,
        &req(
            DialogAction::ConsultCall {
                to_address: "6175559999".into(),
            },
            "5001",
        ),
        None,
    )
    .expect("consult");
    let consult = w
        .dialogs_of(A1)
        .expect("a1")
        .into_iter()
        .find(|d| d.id != orig)
        .expect("consult dialog");
    assert_eq!(consult.state, DialogState::Active);
    w.dialog_action(
        &consult.id,
        A1,
        &req(DialogAction::Conference, "5001"),
        None,
    )
    .expect("conference");
    let d = w.dialog(&orig).expect("conference");
    assert_eq!(d.media_properties.call_type, Some(CallType::Conference));
    assert_eq!(d.participants.len(), 3);
    assert_eq!(w.dialog(&consult.id).expect_err("merged").status, 404);
    assert_eq!(state_of(&w, A1), UserState::Talking);
}

#[test]
fn make_call_to_an_outside_number() {
    let mut w = world();
    sign_in(&mut w, A1, "5001");
    let mc = MakeCallRequest {
        from_address: "5001".into(),
        to_address: "6175550142".into(),
        call_variables: vec![],
    };
    let out = w.make_call(A1, &mc, Some("mc")).expect("202");
    let s = summary(&out);
    assert!(
        s[0].contains("POST dialogs") && s[0].ends_with("INITIATED"),
        "{s:?}"
    );
    assert!(s.last().expect("last").ends_with("ACTIVE"));
    assert_eq!(state_of(&w, A1), UserState::Talking);
    let bad = MakeCallRequest {
        to_address: "5001".into(),
        ..mc.clone()
    };
    assert_eq!(
        w.make_call(A1, &bad, None).expect_err("to == from").status,
        400
    );
}

/// An agent's own call started from NOT_READY ends in NOT_READY with the same
/// reason code, without wrap-up (Finesse Developer Guide: User—Change Agent
/// State, "the agent transitions to NOT_READY if that agent was in NOT_READY
/// state before the call"); a READY asked during the call still wins.
#[test]
fn own_call_returns_the_agent_to_its_state_before_the_call() {
    let mut w = World::new(SimConfig {
        wrap_up: std::time::Duration::from_secs(60),
        ..SimConfig::default()
    });
    sign_in(&mut w, A1, "5001");
    let not_ready = UserRequest {
        state: UserState::NotReady,
        reason_code_id: Some("12".into()),
        ..UserRequest::default()
    };
    w.put_user(A1, A1, &not_ready, None).expect("not ready");
    let call = |w: &mut World| {
        let mc = MakeCallRequest {
            from_address: "5001".into(),
            to_address: "6175550142".into(),
            call_variables: vec![],
        };
        let out = w.make_call(A1, &mc, None).expect("202");
        let UpdateData::Dialogs(ds) = &out[0].update.data else {
            panic!("first a Dialogs POST: {:?}", summary(&out));
        };
        ds[0].id.clone()
    };
    let id = call(&mut w);
    assert_eq!(state_of(&w, A1), UserState::Talking);
    let out = w
        .dialog_action(&id, A1, &req(DialogAction::Drop, "5001"), None)
        .expect("drop");
    let user = w.user(A1).expect("user");
    assert_eq!(user.state, UserState::NotReady, "{:?}", summary(&out));
    assert_eq!(user.reason_code_id.as_deref(), Some("12"));
    assert!(
        summary(&out).contains(&"/finesse/api/User/1001001 PUT user 1001001 NOT_READY".to_owned()),
        "{:?}",
        summary(&out)
    );

    // Through hold and retrieve too.
    let id = call(&mut w);
    w.dialog_action(&id, A1, &req(DialogAction::Hold, "5001"), None)
        .expect("hold");
    assert_eq!(state_of(&w, A1), UserState::Hold);
    w.dialog_action(&id, A1, &req(DialogAction::Retrieve, "5001"), None)
        .expect("retrieve");
    w.dialog_action(&id, A1, &req(DialogAction::Drop, "5001"), None)
        .expect("drop");
    assert_eq!(state_of(&w, A1), UserState::NotReady);

    // A READY asked during the call wins (then wrap-up, as after any call).
    let id = call(&mut w);
    let ready = UserRequest {
        state: UserState::Ready,
        ..UserRequest::default()
    };
    w.put_user(A1, A1, &ready, None).expect("pending ready");
    w.dialog_action(&id, A1, &req(DialogAction::Drop, "5001"), None)
        .expect("drop");
    assert_eq!(
        state_of(&w, A1),
        UserState::WorkReady,
        "wrap-up after a pending READY"
    );
}

#[test]
fn out_of_service_and_wrap_up_timer() {
    let mut w = World::new(SimConfig {
        wrap_up: std::time::Duration::from_millis(10),
        ..SimConfig::default()
    });
    let out = w.set_status(
        switchboard_sim::Side::Primary,
        SystemStatus::OutOfService,
        Some("CTI down".into()),
    );
    assert_eq!(
        summary(&out),
        ["/finesse/api/SystemInfo PUT system OUT_OF_SERVICE"]
    );
    assert!(w.is_out_of_service(switchboard_sim::Side::Primary));
    assert!(!w.is_out_of_service(switchboard_sim::Side::Secondary));
    sign_in(&mut w, A1, "5001");
    let (id, _) = w
        .start_call(A1, CallKind::Inbound, &CallOptions::default())
        .expect("call");
    w.dialog_action(&id, A1, &req(DialogAction::Answer, "5001"), None)
        .expect("answer");
    w.dialog_action(&id, A1, &req(DialogAction::Drop, "5001"), None)
        .expect("drop");
    assert_eq!(state_of(&w, A1), UserState::WorkReady);
    assert!(w.tick(std::time::Instant::now()).is_empty());
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = w.tick(std::time::Instant::now());
    assert_eq!(
        summary(&out)[0],
        "/finesse/api/User/1001001 PUT user 1001001 READY"
    );
}

#[test]
fn toml_config_replaces_the_defaults() {
    let config = SimConfig::from_toml(
        r#"
        domain = "cc.example"
        wrap_up = 2.5
        [[teams]]
        id = "7"
        name = "Night"
        [[users]]
        id = "42"
        password = "s3cret"
        extension = "7042"
        team_id = "7"
        "#,
    )
    .expect("parses");
    assert_eq!(config.domain, "cc.example");
    assert_eq!(config.wrap_up, std::time::Duration::from_millis(2500));
    assert_eq!(config.users.len(), 1);
    assert_eq!(config.users[0].roles, ["Agent"]);
    let w = World::new(config);
    assert!(w.check_password("42", "s3cret"));
    assert!(!w.check_password("1001001", "demo"));
    assert!(SimConfig::from_toml("wrap_up = -1").is_err());
    assert!(
        SimConfig::from_toml("colour = 1")
            .expect_err("unknown key")
            .to_string()
            .contains("colour")
    );
}
