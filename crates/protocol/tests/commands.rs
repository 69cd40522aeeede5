//! Every command of docs/protocol.md sections 3, 4 and 6 parses from a realistic frame, including
//! the typos of the published Acqueon samples; bad fields are refused with a message that
//! names them.

use std::collections::BTreeMap;

use serde_json::json;
use switchboard_protocol::{
    CallAction, CallCommand, CallTopic, Command, Frame, FrameError, StreamPosition, Topic,
    TopicError,
};

fn command(text: &str) -> Command {
    let frame = Frame::parse(text).expect("the frame parses");
    Command::from_frame(&frame).expect("the command is valid")
}

fn call(text: &str) -> CallCommand {
    match command(text) {
        Command::Call(call) => call,
        other => panic!("expected a call command, got {other:?}"),
    }
}

fn refused(text: &str) -> FrameError {
    let frame = Frame::parse(text).expect("the frame parses");
    Command::from_frame(&frame).expect_err("the command is refused")
}

/// A call-control frame with the given subtopic and data.
fn call_frame(topic: &str, subtopic: &str, data: serde_json::Value) -> String {
    json!({"channel": "Cisco", "topic": topic, "subtopic": subtopic, "source": "myapp", "data": data})
        .to_string()
}

// ---- Section 6: call control ----------------------------------------------------------------

#[test]
fn answer_from_the_published_sample_with_its_typos() {
    // The Acqueon Answer sample: topic InboundCall, `"data "` and `"MediaAddress "` with a
    // trailing space, and the table's `SetAnswer` spelling.
    let c = call(
        r#"{ "channel": "Cisco", "topic": "InboundCall", "subtopic": "SetAnswer",
             "source": "myapp", "data ": { "MediaAddress ": "5069", "CallID": "16786021" } }"#,
    );
    assert_eq!(c.topic, CallTopic::Inbound);
    assert_eq!(c.action, CallAction::Answer);
    assert_eq!(c.call_id, "16786021");
    assert_eq!(c.media_address.as_deref(), Some("5069"));
    assert_eq!(c.action.finesse_action(), "ANSWER");
    assert_eq!(c.action.subtopic(), "SetANSWER");
}

#[test]
fn answer_canonical_spelling_on_outbound_call() {
    let c = call(&call_frame(
        "OutboundCall",
        "SetANSWER",
        json!({"MediaAddress": "5069", "CallID": "16786021"}),
    ));
    assert_eq!(c.topic, CallTopic::Outbound);
    assert_eq!(c.action, CallAction::Answer);
}

#[test]
fn call_id_may_be_spelled_call_id_or_sent_as_a_number() {
    let c = call(&call_frame(
        "OutboundCall",
        "SetHOLD",
        json!({"callID": 16786700}),
    ));
    assert_eq!(c.call_id, "16786700");
    assert_eq!(
        c.media_address, None,
        "MediaAddress defaults to the extension"
    );
    let c = call(&call_frame(
        "OutboundCall",
        "SetHOLD",
        json!({"CALLID": " 16786700 "}),
    ));
    assert_eq!(c.call_id, "16786700");
}

#[test]
fn simple_call_actions() {
    let cases = [
        ("SetACCEPT", CallAction::Accept, "ACCEPT"),
        ("SetREJECT", CallAction::Reject, "REJECT"),
        ("SetCLOSE", CallAction::Close, "CLOSE"),
        ("SetHOLD", CallAction::Hold, "HOLD"),
        ("SetRETRIEVE", CallAction::Retrieve, "RETRIEVE"),
        ("SetDROP", CallAction::Drop, "DROP"),
        ("SetTRANSFER", CallAction::Transfer, "TRANSFER"),
        ("SetCONFERENCE", CallAction::Conference, "CONFERENCE"),
        (
            "SetCANCEL_SCHEDULED_CALLBACK",
            CallAction::CancelScheduledCallback,
            "CANCEL_SCHEDULED_CALLBACK",
        ),
    ];
    for (subtopic, action, finesse) in cases {
        for topic in ["OutboundCall", "InboundCall"] {
            let c = call(&call_frame(
                topic,
                subtopic,
                json!({"CallID": "16786021", "MediaAddress": "5069"}),
            ));
            assert_eq!(c.action, action, "{subtopic}");
            assert_eq!(c.action.finesse_action(), finesse);
            assert_eq!(c.action.subtopic(), subtopic);
            assert_eq!(c.call_id, "16786021");
            assert_eq!(Command::Call(c).name(), subtopic);
        }
        // Subtopics match case-insensitively.
        let c = call(&call_frame(
            "outboundcall",
            &subtopic.to_lowercase(),
            json!({"CallID": "1"}),
        ));
        assert_eq!(c.action, action);
    }
}

#[test]
fn published_reject_and_close_samples() {
    let c = call(
        r#"{ "channel": "Cisco", "topic": "OutboundCall", "subtopic": "SetREJECT",
             "source": "myapp", "data ": { "CallID": "16786021" } }"#,
    );
    assert_eq!(
        (c.action, c.call_id.as_str()),
        (CallAction::Reject, "16786021")
    );
    let c = call(
        r#"{ "channel": "Cisco", "topic": "OutboundCall", "subtopic": "SetCLOSE",
             "source": "myapp", "data ": { "CallID": "16786021" } }"#,
    );
    assert_eq!(c.action, CallAction::Close);
}

#[test]
fn transfer_sst_with_every_spelling_of_to_address() {
    for key in ["TOAddress", "toAddress", "ToAddress", "ToAddress "] {
        let c = call(&call_frame(
            "OutboundCall",
            "SetTRANSFER_SST",
            json!({"MediaAddress": "5068", key: "5070", "CallID": "16786700"}),
        ));
        assert_eq!(
            c.action,
            CallAction::TransferSst {
                to_address: "5070".into()
            },
            "{key}"
        );
        assert_eq!(c.action.finesse_action(), "TRANSFER_SST");
        assert_eq!(c.media_address.as_deref(), Some("5068"));
    }
}

#[test]
fn consult_call_and_its_alias() {
    for subtopic in ["SetCONSULT_CALL", "SetCONSULT", "SetConsult"] {
        let c = call(&call_frame(
            "InboundCall",
            subtopic,
            json!({"MediaAddress": "5069", "TOAddress": "5071", "CallID": "16786021"}),
        ));
        assert_eq!(
            c.action,
            CallAction::ConsultCall {
                to_address: "5071".into()
            }
        );
        assert_eq!(c.action.subtopic(), "SetCONSULT_CALL");
        assert_eq!(c.action.finesse_action(), "CONSULT_CALL");
    }
}

#[test]
fn transfer_without_to_address_names_the_field() {
    let e = refused(&call_frame(
        "OutboundCall",
        "SetTRANSFER_SST",
        json!({"CallID": "16786700"}),
    ));
    assert!(
        matches!(
            e,
            FrameError::MissingField {
                field: "toAddress",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        r#"missing field "toAddress" in data of Cisco/OutboundCall/SetTRANSFER_SST"#
    );
}

#[test]
fn send_dtmf() {
    let c = call(&call_frame(
        "InboundCall",
        "SetSEND_DTMF",
        json!({"CallID": "16786021", "dtmf": "12*#ab"}),
    ));
    assert_eq!(
        c.action,
        CallAction::SendDtmf {
            dtmf: "12*#AB".into()
        }
    );
    assert_eq!(c.action.finesse_action(), "SEND_DTMF");

    for bad in ["12E", "", "1 2", "１"] {
        let e = refused(&call_frame(
            "InboundCall",
            "SetSEND_DTMF",
            json!({"CallID": "16786021", "dtmf": bad}),
        ));
        assert!(
            matches!(e, FrameError::InvalidField { field: "dtmf", .. }),
            "{bad:?}: {e:?}"
        );
        assert!(e.to_string().contains("\"dtmf\""), "{e}");
    }
    let e = refused(&call_frame(
        "InboundCall",
        "SetSEND_DTMF",
        json!({"CallID": "16786021", "dtmf": "1".repeat(33)}),
    ));
    assert!(matches!(e, FrameError::InvalidField { field: "dtmf", .. }));
    let e = refused(&call_frame(
        "InboundCall",
        "SetSEND_DTMF",
        json!({"CallID": "1"}),
    ));
    assert!(matches!(e, FrameError::MissingField { field: "dtmf", .. }));
}

#[test]
fn update_call_data() {
    let c = call(&call_frame(
        "OutboundCall",
        "SetUPDATE_CALL_DATA",
        json!({"callID": "16786700",
               "callVariables": {"callVariable1": "Gold", "user.BAResponse": "Callback 03072026 14:30", "callVariable2": 42},
               "wrapUpReason": "Sale"}),
    ));
    assert_eq!(c.call_id, "16786700");
    assert_eq!(
        c.action,
        CallAction::UpdateCallData {
            call_variables: vec![
                ("callVariable1".into(), "Gold".into()),
                ("callVariable2".into(), "42".into()),
                ("user.BAResponse".into(), "Callback 03072026 14:30".into()),
            ],
            wrap_up_reason: Some("Sale".into()),
        }
    );
    assert_eq!(c.action.finesse_action(), "UPDATE_CALL_DATA");

    // Only a wrap-up reason is fine too.
    let c = call(&call_frame(
        "OutboundCall",
        "SetUPDATE_CALL_DATA",
        json!({"callID": "16786700", "wrapUpReason": "Sale"}),
    ));
    assert!(
        matches!(c.action, CallAction::UpdateCallData { ref call_variables, .. } if call_variables.is_empty())
    );
}

#[test]
fn update_call_data_refusals_name_the_field() {
    let e = refused(&call_frame(
        "OutboundCall",
        "SetUPDATE_CALL_DATA",
        json!({"callID": "16786700"}),
    ));
    assert!(matches!(
        e,
        FrameError::MissingField {
            field: "callVariables",
            ..
        }
    ));
    assert!(e.to_string().contains("\"callVariables\""));

    let e = refused(&call_frame(
        "OutboundCall",
        "SetUPDATE_CALL_DATA",
        json!({"callID": "16786700", "callVariables": ["callVariable1"]}),
    ));
    assert!(
        matches!(
            e,
            FrameError::WrongType {
                field: "callVariables",
                ..
            }
        ),
        "{e:?}"
    );

    let e = refused(&call_frame(
        "OutboundCall",
        "SetUPDATE_CALL_DATA",
        json!({"callID": "16786700", "callVariables": {"callVariable1": true}}),
    ));
    assert!(matches!(
        e,
        FrameError::InvalidField {
            field: "callVariables",
            ..
        }
    ));
    assert!(e.to_string().contains("callVariable1"), "{e}");

    let too_many: serde_json::Map<String, serde_json::Value> = (0..41)
        .map(|i| (format!("user.v{i}"), json!("x")))
        .collect();
    let e = refused(&call_frame(
        "OutboundCall",
        "SetUPDATE_CALL_DATA",
        json!({"callID": "16786700", "callVariables": too_many}),
    ));
    assert!(matches!(
        e,
        FrameError::InvalidField {
            field: "callVariables",
            ..
        }
    ));
    assert!(e.to_string().contains("at most 40"), "{e}");

    let forty: serde_json::Map<String, serde_json::Value> = (0..40)
        .map(|i| (format!("user.v{i}"), json!("x")))
        .collect();
    let c = call(&call_frame(
        "OutboundCall",
        "SetUPDATE_CALL_DATA",
        json!({"callID": "16786700", "callVariables": forty}),
    ));
    assert!(
        matches!(c.action, CallAction::UpdateCallData { ref call_variables, .. } if call_variables.len() == 40)
    );
}

#[test]
fn update_scheduled_callback() {
    let c = call(&call_frame(
        "OutboundCall",
        "SetUPDATE_SCHEDULED_CALLBACK",
        json!({"callID": "16786700", "callbackTime": "2026-03-07T14:30", "callbackNumber": "961084713", "extn": "5068"}),
    ));
    assert_eq!(
        c.action,
        CallAction::UpdateScheduledCallback {
            callback_time: "2026-03-07T14:30".into(),
            callback_number: Some("961084713".into()),
        }
    );
    assert_eq!(c.action.finesse_action(), "UPDATE_SCHEDULED_CALLBACK");
    assert_eq!(c.action.subtopic(), "SetUPDATE_SCHEDULED_CALLBACK");

    // callbackNumber is optional; an empty one (as in the templates) counts as absent.
    let c = call(&call_frame(
        "OutboundCall",
        "SetUPDATE_SCHEDULED_CALLBACK",
        json!({"CallID": "16786700", "callbackTime": "2024-02-29T00:00", "callbackNumber": ""}),
    ));
    assert!(matches!(
        c.action,
        CallAction::UpdateScheduledCallback {
            callback_number: None,
            ..
        }
    ));
}

#[test]
fn callback_time_validation() {
    let bad = [
        "2026-13-01T10:00",
        "2026-00-10T10:00",
        "2026-02-30T10:00",
        "2026-01-01T24:00",
        "2026-01-01T10:60",
        "2026-01-01T10:00:00",
        "2026-01-01T10:00Z",
        "2026-01-01T10:00+02:00",
        "2026-01-01 10:00",
        "tomorrow",
    ];
    for time in bad {
        let e = refused(&call_frame(
            "OutboundCall",
            "SetUPDATE_SCHEDULED_CALLBACK",
            json!({"callID": "16786700", "callbackTime": time}),
        ));
        assert!(
            matches!(
                e,
                FrameError::InvalidField {
                    field: "callbackTime",
                    ..
                }
            ),
            "{time}: {e:?}"
        );
        let message = e.to_string();
        assert!(message.contains("\"callbackTime\""), "{message}");
        assert!(message.contains("YYYY-MM-DDTHH:MM"), "{message}");
    }
    for time in ["2026-12-31T23:59", "2026-01-01T00:00", "2028-02-29T12:15"] {
        let c = call(&call_frame(
            "OutboundCall",
            "SetUPDATE_SCHEDULED_CALLBACK",
            json!({"callID": "16786700", "callbackTime": time}),
        ));
        assert!(
            matches!(c.action, CallAction::UpdateScheduledCallback { ref callback_time, .. } if callback_time == time)
        );
    }
    let e = refused(&call_frame(
        "OutboundCall",
        "SetUPDATE_SCHEDULED_CALLBACK",
        json!({"callID": "16786700"}),
    ));
    assert!(matches!(
        e,
        FrameError::MissingField {
            field: "callbackTime",
            ..
        }
    ));
}

#[test]
fn call_id_validation() {
    for bad in [
        json!(""),
        json!("16786 700"),
        json!("1;DROP"),
        json!("9".repeat(65)),
    ] {
        let e = refused(&call_frame(
            "OutboundCall",
            "SetDROP",
            json!({"CallID": bad}),
        ));
        assert!(
            matches!(
                e,
                FrameError::InvalidField {
                    field: "CallID",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("\"CallID\""));
    }
    let e = refused(&call_frame(
        "OutboundCall",
        "SetDROP",
        json!({"CallID": {"id": 1}}),
    ));
    assert!(matches!(
        e,
        FrameError::WrongType {
            field: "CallID",
            expected: "a string",
            ..
        }
    ));
    let e = refused(&call_frame(
        "OutboundCall",
        "SetANSWER",
        json!({"MediaAddress": "5069"}),
    ));
    assert_eq!(
        e.to_string(),
        r#"missing field "CallID" in data of Cisco/OutboundCall/SetANSWER"#
    );
    let ok = call(&call_frame(
        "OutboundCall",
        "SetDROP",
        json!({"CallID": "a-b_C9"}),
    ));
    assert_eq!(ok.call_id, "a-b_C9");
}

#[test]
fn address_validation() {
    let e = refused(&call_frame(
        "OutboundCall",
        "SetTRANSFER_SST",
        json!({"CallID": "1", "toAddress": "50\u{7}70"}),
    ));
    assert!(matches!(
        e,
        FrameError::InvalidField {
            field: "toAddress",
            ..
        }
    ));
    let e = refused(&call_frame(
        "OutboundCall",
        "SetHOLD",
        json!({"CallID": "1", "MediaAddress": "5".repeat(65)}),
    ));
    assert!(matches!(
        e,
        FrameError::InvalidField {
            field: "MediaAddress",
            ..
        }
    ));
    let e = refused(&call_frame(
        "OutboundCall",
        "SetUPDATE_SCHEDULED_CALLBACK",
        json!({"callID": "1", "callbackTime": "2026-03-07T14:30", "callbackNumber": "９６１"}),
    ));
    assert!(matches!(
        e,
        FrameError::InvalidField {
            field: "callbackNumber",
            ..
        }
    ));
}

#[test]
fn data_may_be_double_encoded() {
    let c = call(&call_frame(
        "OutboundCall",
        "SetHOLD",
        json!(r#"{"CallID":"16786700"}"#),
    ));
    assert_eq!(c.call_id, "16786700");
    let e = refused(&call_frame("OutboundCall", "SetHOLD", json!("hold please")));
    assert!(matches!(e, FrameError::WrongType { field: "data", .. }));
}

#[test]
fn make_call() {
    let cmd = command(
        r#"{ "channel": "Cisco", "topic": "InboundCall", "subtopic": "SetMakeCall",
             "source": "myapp", "data": { "ToAddress ": "961084713" } }"#,
    );
    assert_eq!(
        cmd,
        Command::MakeCall {
            to_address: "961084713".into()
        }
    );
    assert_eq!(cmd.name(), "SetMakeCall");
    let cmd = command(&call_frame(
        "OutboundCall",
        "SETMAKECALL",
        json!({"toAddress": 5070}),
    ));
    assert_eq!(
        cmd,
        Command::MakeCall {
            to_address: "5070".into()
        }
    );
    let e = refused(&call_frame("InboundCall", "SetMakeCall", json!({})));
    assert!(matches!(
        e,
        FrameError::MissingField {
            field: "toAddress",
            ..
        }
    ));
}

#[test]
fn unknown_call_subtopic() {
    let e = refused(&call_frame(
        "OutboundCall",
        "SetFLY",
        json!({"CallID": "1"}),
    ));
    assert_eq!(
        e,
        FrameError::UnknownFrame {
            channel: "Cisco".into(),
            topic: "OutboundCall".into(),
            subtopic: "SetFLY".into()
        }
    );
    assert!(e.to_string().contains("unknown subtopic \"SetFLY\""), "{e}");
}

// ---- Agent, connection and team frames -------------------------------------------------------

#[test]
fn sign_in() {
    let cmd = command(
        r#"{ "channel": "Cisco", "topic": "Agent", "subtopic": "SetUserInfo",
             "data": { "username": "102312778", "password": " p@ss word ", "extension": "5069" } }"#,
    );
    let Command::SignIn {
        username,
        password,
        extension,
    } = &cmd
    else {
        panic!("expected SignIn, got {cmd:?}");
    };
    assert_eq!(username, "102312778");
    assert_eq!(
        password.expose(),
        " p@ss word ",
        "passwords are taken as sent"
    );
    assert_eq!(extension, "5069");
    assert!(!cmd.needs_sign_in());
    assert_eq!(cmd.name(), "SetUserInfo");
}

#[test]
fn the_password_never_shows() {
    let text = r#"{"channel":"Cisco","topic":"Agent","subtopic":"SetUserInfo",
                   "data":{"username":"agent1","password":"hunter2-very-secret","extension":"5069"}}"#;
    let cmd = command(text);
    assert!(!format!("{cmd:?}").contains("hunter2"));
    assert!(!format!("{cmd:#?}").contains("hunter2"));
    assert!(format!("{cmd:?}").contains("***"));
    let Command::SignIn { password, .. } = &cmd else {
        panic!("expected SignIn");
    };
    assert_eq!(password.to_string(), "***");
    assert_eq!(format!("{password:?}"), "***");

    // Errors about the password do not repeat it either.
    let long = "s".repeat(2000);
    let e = refused(
        &json!({"channel":"Cisco","topic":"Agent","subtopic":"SetUserInfo",
                "data":{"username":"agent1","password": long,"extension":"5069"}})
        .to_string(),
    );
    assert!(matches!(
        e,
        FrameError::InvalidField {
            field: "password",
            ..
        }
    ));
    assert!(!e.to_string().contains("sss"));

    let cmd = command(
        r#"{"channel":"Broker","topic":"Session","subtopic":"Authenticate","data":{"token":"eyJ.secret.sig"}}"#,
    );
    assert!(!format!("{cmd:?}").contains("secret"));
    assert!(matches!(&cmd, Command::Authenticate { token } if token.expose() == "eyJ.secret.sig"));
}

#[test]
fn sign_in_missing_fields() {
    for (data, field) in [
        (json!({"password": "x", "extension": "5069"}), "username"),
        (json!({"username": "a", "extension": "5069"}), "password"),
        (json!({"username": "a", "password": "x"}), "extension"),
    ] {
        let e = refused(
            &json!({"channel":"Cisco","topic":"Agent","subtopic":"SetUserInfo","data":data})
                .to_string(),
        );
        assert_eq!(
            e,
            FrameError::MissingField {
                field,
                location: "data of Cisco/Agent/SetUserInfo".into()
            }
        );
        assert_eq!(
            e.to_string(),
            format!("missing field \"{field}\" in data of Cisco/Agent/SetUserInfo")
        );
    }
}

#[test]
fn agent_state_frames() {
    let cmd = command(r#"{"channel":"Cisco","topic":"Agent","subtopic":"SetReadyState"}"#);
    assert_eq!(cmd, Command::SetReady);
    assert!(cmd.needs_sign_in());
    assert_eq!(cmd.name(), "SetReadyState");
    // Acqueon-style clients send an empty string for "no data".
    assert_eq!(
        command(r#"{"channel":"Cisco","topic":"Agent","subtopic":"SetReadyState","data":""}"#),
        Command::SetReady
    );

    let cmd = command(
        r#"{"channel":"Cisco","topic":"Agent","subtopic":"SetNotReadyState","data":{"ReasonCodeId":"28"}}"#,
    );
    assert_eq!(
        cmd,
        Command::SetNotReady {
            reason_code_id: Some("28".into())
        }
    );
    let cmd = command(
        r#"{"channel":"Cisco","topic":"Agent","subtopic":"setnotreadystate","data":{"reasonCodeId":28}}"#,
    );
    assert_eq!(
        cmd,
        Command::SetNotReady {
            reason_code_id: Some("28".into())
        }
    );
    assert_eq!(
        command(r#"{"channel":"Cisco","topic":"Agent","subtopic":"SetNotReadyState"}"#),
        Command::SetNotReady {
            reason_code_id: None
        }
    );
    let e = refused(
        r#"{"channel":"Cisco","topic":"Agent","subtopic":"SetNotReadyState","data":{"ReasonCodeId":"2 8"}}"#,
    );
    assert!(matches!(
        e,
        FrameError::InvalidField {
            field: "ReasonCodeId",
            ..
        }
    ));
}

#[test]
fn wrap_up() {
    let cmd = command(
        r#"{"channel":"Cisco","topic":"Agent","subtopic":"WrapUpCall",
            "data":{"callID":"16786700","wrapup":"Sale","customwrapup":"","iscustomwrapup":false}}"#,
    );
    assert_eq!(
        cmd,
        Command::WrapUp {
            call_id: "16786700".into(),
            wrapup: "Sale".into()
        }
    );
    assert_eq!(cmd.call_id(), Some("16786700"));
    let cmd = command(
        r#"{"channel":"Cisco","topic":"Agent","subtopic":"WrapUpCall",
            "data":{"CallID":"16786700","wrapup":"","customwrapup":"Customer moved","Iscustomwrapup":"true"}}"#,
    );
    assert_eq!(
        cmd,
        Command::WrapUp {
            call_id: "16786700".into(),
            wrapup: "Customer moved".into()
        }
    );
    let e = refused(
        r#"{"channel":"Cisco","topic":"Agent","subtopic":"WrapUpCall","data":{"callID":"16786700"}}"#,
    );
    assert!(matches!(
        e,
        FrameError::MissingField {
            field: "wrapup",
            ..
        }
    ));
}

#[test]
fn update_call_variables() {
    let cmd = command(
        r#"{"channel":"Cisco","topic":"Agent","subtopic":"UpdateCallVariables",
            "data":{"callID":"16786700","key":"callVariable1","value":"VIP"}}"#,
    );
    assert_eq!(
        cmd,
        Command::UpdateCallVariable {
            call_id: "16786700".into(),
            key: "callVariable1".into(),
            value: "VIP".into()
        }
    );
    assert_eq!(cmd.name(), "UpdateCallVariables");
    // An empty value clears the variable.
    let cmd = command(
        r#"{"channel":"Cisco","topic":"Agent","subtopic":"UpdateCallVariables",
            "data":{"callID":"16786700","key":"user.BAResponse","value":""}}"#,
    );
    assert!(matches!(cmd, Command::UpdateCallVariable { ref value, .. } if value.is_empty()));
    let e = refused(
        r#"{"channel":"Cisco","topic":"Agent","subtopic":"UpdateCallVariables",
            "data":{"callID":"16786700","key":"call variable"}}"#,
    );
    assert!(matches!(e, FrameError::InvalidField { field: "key", .. }));
    let e = refused(
        r#"{"channel":"Cisco","topic":"Agent","subtopic":"UpdateCallVariables",
            "data":{"callID":"16786700","key":"callVariable1"}}"#,
    );
    assert!(matches!(e, FrameError::MissingField { field: "value", .. }));
}

#[test]
fn logout_and_team_frames() {
    assert_eq!(
        command(
            r#"{"channel":"Cisco","topic":"Connection","subtopic":"Logout","data":{"ReasonCodeId":"28"}}"#
        ),
        Command::Logout {
            reason_code_id: Some("28".into())
        }
    );
    let cmd = command(
        r#"{"channel":"Cisco","topic":"Team","subtopic":"SetTeamAgentNotReadyState",
            "data":{"Username":"1001001","State":"NotReady","ReasonCodeId":"-1"}}"#,
    );
    assert_eq!(
        cmd,
        Command::TeamAgentNotReady {
            username: "1001001".into(),
            reason_code_id: Some("-1".into())
        }
    );
    assert_eq!(cmd.name(), "SetTeamAgentNotReadyState");
    let cmd = command(
        r#"{"channel":"Cisco","topic":"Team","subtopic":"SetTeamAgentLogout",
            "data":{"UserName":"1001001","State":"Logout"}}"#,
    );
    assert_eq!(
        cmd,
        Command::TeamAgentLogout {
            username: "1001001".into()
        }
    );
    let e =
        refused(r#"{"channel":"Cisco","topic":"Team","subtopic":"SetTeamAgentLogout","data":{}}"#);
    assert!(matches!(
        e,
        FrameError::MissingField {
            field: "Username",
            ..
        }
    ));
}

// ---- Broker frames ---------------------------------------------------------------------------

#[test]
fn ping() {
    let cmd = command(r#"{"channel":"Broker","topic":"Session","subtopic":"Ping","data":{"t":1}}"#);
    assert_eq!(
        cmd,
        Command::Ping {
            data: json!({"t": 1})
        }
    );
    assert!(!cmd.needs_sign_in());
    assert_eq!(
        command(r#"{"channel":"broker","topic":"session","subtopic":"ping"}"#),
        Command::Ping {
            data: serde_json::Value::Null
        }
    );
}

#[test]
fn authenticate_needs_a_token() {
    let e =
        refused(r#"{"channel":"Broker","topic":"Session","subtopic":"Authenticate","data":{}}"#);
    assert!(matches!(e, FrameError::MissingField { field: "token", .. }));
    let e = refused(
        r#"{"channel":"Broker","topic":"Session","subtopic":"Authenticate","data":{"token":""}}"#,
    );
    assert!(matches!(e, FrameError::InvalidField { field: "token", .. }));
}

#[test]
fn subscribe_keeps_good_topics_and_lists_bad_ones() {
    let cmd = command(
        r#"{"channel":"Broker","topic":"Subscription","subtopic":"Subscribe","requestId":"s1",
            "data":{"topics":["agent/1001001","Team/5000","bogus/1","dialog/","agent/1001001",7],
                    "since":{"Agent/1001001":{"offset":41,"epoch":"e1"},"bad key":{"offset":1,"epoch":"x"}}}}"#,
    );
    let Command::Subscribe {
        topics,
        since,
        rejected,
    } = &cmd
    else {
        panic!("expected Subscribe, got {cmd:?}");
    };
    assert_eq!(
        topics,
        &vec![Topic::Agent("1001001".into()), Topic::Team("5000".into())]
    );
    let expected_since: BTreeMap<String, StreamPosition> = [(
        "agent/1001001".to_owned(),
        StreamPosition {
            offset: 41,
            epoch: "e1".into(),
        },
    )]
    .into();
    assert_eq!(since, &expected_since);
    assert_eq!(rejected.len(), 3);
    assert_eq!(rejected[0].0, "bogus/1");
    assert!(matches!(rejected[0].1, TopicError::UnknownKind { .. }));
    assert_eq!(rejected[1].0, "dialog/");
    assert!(matches!(rejected[1].1, TopicError::EmptyId { .. }));
    assert_eq!(rejected[2].0, "7");
    assert!(matches!(rejected[2].1, TopicError::NotAString { .. }));
    assert!(cmd.needs_sign_in());
    assert_eq!(cmd.name(), "Subscribe");
}

#[test]
fn subscribe_refusals() {
    let e =
        refused(r#"{"channel":"Broker","topic":"Subscription","subtopic":"Subscribe","data":{}}"#);
    assert!(matches!(
        e,
        FrameError::MissingField {
            field: "topics",
            ..
        }
    ));
    let e = refused(
        r#"{"channel":"Broker","topic":"Subscription","subtopic":"Subscribe","data":{"topics":{"a":1}}}"#,
    );
    assert!(matches!(
        e,
        FrameError::WrongType {
            field: "topics",
            ..
        }
    ));
    let e = refused(
        r#"{"channel":"Broker","topic":"Subscription","subtopic":"Subscribe",
            "data":{"topics":["agent/1"],"since":{"agent/1":{"offset":-1,"epoch":"e"}}}}"#,
    );
    assert!(matches!(e, FrameError::InvalidField { field: "since", .. }));
    assert!(e.to_string().contains("agent/1"), "{e}");
    let e = refused(
        r#"{"channel":"Broker","topic":"Subscription","subtopic":"Subscribe",
            "data":{"topics":["agent/1"],"since":[1]}}"#,
    );
    assert!(matches!(e, FrameError::WrongType { field: "since", .. }));
}

#[test]
fn unsubscribe() {
    let cmd = command(
        r#"{"channel":"Broker","topic":"Subscription","subtopic":"Unsubscribe","data":{"topics":"team/5000"}}"#,
    );
    assert_eq!(
        cmd,
        Command::Unsubscribe {
            topics: vec![Topic::Team("5000".into())],
            rejected: vec![]
        }
    );
}

#[test]
fn unknown_frames_name_the_unknown_part() {
    let e = refused(r#"{"channel":"Amazon","topic":"Agent","subtopic":"Login"}"#);
    assert!(matches!(e, FrameError::UnknownFrame { ref channel, .. } if channel == "Amazon"));
    assert!(e.to_string().contains("unknown channel \"Amazon\""), "{e}");
    let e = refused(r#"{"channel":"Cisco","topic":"Queue","subtopic":"Stats"}"#);
    assert!(e.to_string().contains("unknown topic \"Queue\""), "{e}");
    let e = refused(r#"{"channel":"Broker","topic":"Session","subtopic":"Ready"}"#);
    assert!(e.to_string().contains("unknown subtopic \"Ready\""), "{e}");
    let e = refused(r#"{"channel":"Cisco","topic":"Agent"}"#);
    assert!(e.to_string().contains("missing subtopic"), "{e}");
}

// ---- The fuzz seeds ---------------------------------------------------------------------------

#[test]
fn every_fuzz_seed_is_a_valid_command() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/client_frame");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("the seed folder exists") {
        let path = entry.expect("a directory entry").path();
        let text = std::fs::read_to_string(&path).expect("a seed file");
        let frame = Frame::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Command::from_frame(&frame).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} seeds");
}
