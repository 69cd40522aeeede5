//! `Frame::parse` and `Command::from_frame` never panic, whatever the input: arbitrary text,
//! arbitrary JSON values, and frames with known names and arbitrary data.

use proptest::prelude::*;
use serde_json::{Map, Number, Value};
use switchboard_protocol::{Command, Frame, Topic, reply, request_id_hint};

/// Keys that the parser looks for, in the spellings clients use, plus noise.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("channel".to_owned()),
        Just("Channel ".to_owned()),
        Just("topic".to_owned()),
        Just("subtopic".to_owned()),
        Just("data".to_owned()),
        Just("data ".to_owned()),
        Just("message".to_owned()),
        Just("source".to_owned()),
        Just("requestId".to_owned()),
        Just("CallID".to_owned()),
        Just("callID".to_owned()),
        Just("MediaAddress ".to_owned()),
        Just("TOAddress".to_owned()),
        Just("dtmf".to_owned()),
        Just("callbackTime".to_owned()),
        Just("callbackNumber".to_owned()),
        Just("callVariables".to_owned()),
        Just("wrapUpReason".to_owned()),
        Just("topics".to_owned()),
        Just("since".to_owned()),
        Just("offset".to_owned()),
        Just("epoch".to_owned()),
        Just("password".to_owned()),
        Just("iscustomwrapup".to_owned()),
        ".{0,12}",
    ]
}

/// Strings that are sometimes meaningful to the parser.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Cisco".to_owned()),
        Just("Broker".to_owned()),
        Just("OutboundCall".to_owned()),
        Just("Subscription".to_owned()),
        Just("SetUPDATE_SCHEDULED_CALLBACK".to_owned()),
        Just("2026-02-29T10:00".to_owned()),
        Just("agent/1001001".to_owned()),
        "[0-9]{0,20}",
        "[0-9T:-]{0,18}",
        ".{0,40}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Every known channel/topic/subtopic, so that arbitrary data reaches each command's parser.
const KNOWN: &[(&str, &str, &str)] = &[
    ("Cisco", "Agent", "SetUserInfo"),
    ("Cisco", "Agent", "SetReadyState"),
    ("Cisco", "Agent", "SetNotReadyState"),
    ("Cisco", "Agent", "WrapUpCall"),
    ("Cisco", "Agent", "UpdateCallVariables"),
    ("Cisco", "Connection", "Logout"),
    ("Cisco", "Team", "SetTeamAgentNotReadyState"),
    ("Cisco", "Team", "SetTeamAgentLogout"),
    ("Cisco", "InboundCall", "SetMakeCall"),
    ("Cisco", "OutboundCall", "SetANSWER"),
    ("Cisco", "OutboundCall", "SetACCEPT"),
    ("Cisco", "OutboundCall", "SetREJECT"),
    ("Cisco", "OutboundCall", "SetCLOSE"),
    ("Cisco", "OutboundCall", "SetHOLD"),
    ("Cisco", "OutboundCall", "SetRETRIEVE"),
    ("Cisco", "OutboundCall", "SetDROP"),
    ("Cisco", "OutboundCall", "SetTRANSFER_SST"),
    ("Cisco", "OutboundCall", "SetCONSULT"),
    ("Cisco", "OutboundCall", "SetTRANSFER"),
    ("Cisco", "OutboundCall", "SetCONFERENCE"),
    ("Cisco", "InboundCall", "SetSEND_DTMF"),
    ("Cisco", "OutboundCall", "SetUPDATE_CALL_DATA"),
    ("Cisco", "OutboundCall", "SetUPDATE_SCHEDULED_CALLBACK"),
    ("Cisco", "OutboundCall", "SetCANCEL_SCHEDULED_CALLBACK"),
    ("Broker", "Session", "Authenticate"),
    ("Broker", "Session", "Ping"),
    ("Broker", "Subscription", "Subscribe"),
    ("Broker", "Subscription", "Unsubscribe"),
];

/// Parses and, if that worked, builds the command and a reply: none of it may panic.
fn exercise(text: &str) {
    let _ = request_id_hint(text);
    match Frame::parse(text) {
        Ok(frame) => {
            let outcome = Command::from_frame(&frame);
            if let Ok(command) = &outcome {
                let _ = (command.name(), command.needs_sign_in(), command.call_id());
                let _ = format!("{command:?}");
            }
            if let Err(error) = &outcome {
                let message = error.to_string();
                assert!(!message.is_empty());
                let _ = reply::frame_error(error, frame.request_id.as_deref());
            }
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings(text in ".*") {
        exercise(&text);
    }

    #[test]
    fn arbitrary_bytes_as_lossy_text(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_json(value in json_value()) {
        exercise(&value.to_string());
        let _ = Frame::from_value(value).map(|frame| Command::from_frame(&frame));
    }

    #[test]
    fn known_frames_with_arbitrary_data(
        index in 0..KNOWN.len(),
        data in json_value(),
        request_id in prop::option::of(text()),
    ) {
        let (channel, topic, subtopic) = KNOWN.get(index).copied().unwrap_or(("Cisco", "Agent", "X"));
        let mut frame = Frame::new(channel, topic, subtopic, data);
        frame.request_id = request_id;
        let _ = Command::from_frame(&frame);
        exercise(&frame.to_json());
    }

    #[test]
    fn topics_round_trip(kind in "(agent|team|dialog|queue|AGENT|Team)", id in "[A-Za-z0-9._-]{1,64}") {
        let topic: Topic = format!("{kind}/{id}").parse().expect("valid topic");
        prop_assert_eq!(topic.to_string(), format!("{}/{}", kind.to_lowercase(), id));
        prop_assert_eq!(topic.to_string().parse::<Topic>().expect("canonical"), topic);
    }

    #[test]
    fn arbitrary_topic_text_never_panics(text in ".{0,100}") {
        if let Ok(topic) = text.parse::<Topic>() {
            prop_assert_eq!(topic.to_string().parse::<Topic>().expect("canonical"), topic);
        }
    }
}
