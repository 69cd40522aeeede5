//! The envelope parser, every `FrameError` variant, topics, the code tables and the replies.

use serde_json::{Value, json};
use switchboard_protocol::{
    CloseCode, Command, DEFAULT_MAX_FRAME_BYTES, ErrorType, Frame, FrameError, MAX_REQUEST_ID_LEN,
    PROTOCOL_VERSION, ResponseType, Topic, TopicError, get_ci, get_str_ci, reply, request_id_hint,
};

// ---- Frame::parse ------------------------------------------------------------------------------

#[test]
fn parses_the_canonical_envelope() {
    let frame = Frame::parse(
        r#"{ "channel": "Cisco", "topic": "OutboundCall", "subtopic": "SetANSWER",
             "data": { "CallID": "1" }, "source": "my-widget", "requestId": "c-42" }"#,
    )
    .expect("valid");
    assert_eq!(
        frame,
        Frame {
            channel: "Cisco".into(),
            topic: "OutboundCall".into(),
            subtopic: "SetANSWER".into(),
            data: json!({"CallID": "1"}),
            source: Some("my-widget".into()),
            request_id: Some("c-42".into()),
        }
    );
    assert!(frame.is("cisco", "OUTBOUNDCALL", "setanswer"));
    assert!(!frame.is("Cisco", "InboundCall", "SetANSWER"));
}

#[test]
fn keys_match_case_insensitively_after_trimming() {
    let frame = Frame::parse(
        r#"{ "Channel ": " Cisco", "TOPIC": "Agent", " subTopic": "SetReadyState ",
             "data ": {"x": 1}, "Source": "w", "requestid": "r", "unknown": [1, 2] }"#,
    )
    .expect("valid");
    assert_eq!(frame.channel, "Cisco");
    assert_eq!(frame.topic, "Agent");
    assert_eq!(frame.subtopic, "SetReadyState");
    assert_eq!(frame.data, json!({"x": 1}));
    assert_eq!(frame.source.as_deref(), Some("w"));
    assert_eq!(frame.request_id.as_deref(), Some("r"));
}

#[test]
fn optional_fields_default() {
    let frame = Frame::parse(r#"{"channel":"Cisco","topic":"Agent"}"#).expect("valid");
    assert_eq!(frame.subtopic, "");
    assert_eq!(frame.data, Value::Null);
    assert_eq!(frame.source, None);
    assert_eq!(frame.request_id, None);
    let frame = Frame::parse(
        r#"{"channel":"Cisco","topic":"Agent","subtopic":null,"data":null,"source":null,"requestId":null}"#,
    )
    .expect("valid");
    assert_eq!(frame.subtopic, "");
    assert_eq!(frame.request_id, None);
}

#[test]
fn data_may_be_a_string() {
    let frame = Frame::parse(
        r#"{"channel":"Webexcc","topic":"OutboundCall","subtopic":"MakeCall","data":"5551234"}"#,
    )
    .expect("valid");
    assert_eq!(frame.data, json!("5551234"));
}

#[test]
fn message_is_used_when_data_is_absent() {
    let frame = Frame::parse(
        r#"{"channel":"Cisco","topic":"OutboundCall","subtopic":"SetHOLD","message":{"CallID":"9"}}"#,
    )
    .expect("valid");
    assert_eq!(frame.data, json!({"CallID": "9"}));
    let frame = Frame::parse(
        r#"{"channel":"Cisco","topic":"OutboundCall","subtopic":"SetHOLD","data":{"CallID":"1"},"message":{"CallID":"9"}}"#,
    )
    .expect("valid");
    assert_eq!(frame.data, json!({"CallID": "1"}), "data wins over message");
}

#[test]
fn acqueon_packets_are_unwrapped() {
    let frame = Frame::parse(
        r#"{ "channel": "Cisco", "topic": "", "subTopic": "", "requestId": "p-1",
             "message": { "channel": "Cisco", "topic": "OutboundCall", "subtopic": "SetHOLD",
                          "data": {"CallID": "16786700"}, "source": "myapp" },
             "ResponseUrl": "https://3rdpartapp.com", "subscriberID": "66517761" }"#,
    )
    .expect("valid");
    assert!(frame.is("Cisco", "OutboundCall", "SetHOLD"));
    assert_eq!(frame.data, json!({"CallID": "16786700"}));
    assert_eq!(frame.source.as_deref(), Some("myapp"));
    assert_eq!(frame.request_id.as_deref(), Some("p-1"));
    // A message that is only a payload (no channel of its own) stays the payload.
    let frame =
        Frame::parse(r#"{"channel":"Cisco","topic":"","message":{"CallID":"1"}}"#).expect("valid");
    assert_eq!(frame.topic, "");
    assert_eq!(frame.data, json!({"CallID": "1"}));
}

#[test]
fn numeric_request_ids_become_text() {
    let frame =
        Frame::parse(r#"{"channel":"Broker","topic":"Session","subtopic":"Ping","requestId":42}"#)
            .expect("valid");
    assert_eq!(frame.request_id.as_deref(), Some("42"));
}

#[test]
fn request_id_length_limit() {
    let at_limit = "r".repeat(MAX_REQUEST_ID_LEN);
    let text = json!({"channel":"Cisco","topic":"Agent","requestId": at_limit}).to_string();
    assert!(Frame::parse(&text).is_ok());
    // Counted in characters, not bytes.
    let text = json!({"channel":"Cisco","topic":"Agent","requestId": "é".repeat(128)}).to_string();
    assert!(Frame::parse(&text).is_ok());
}

#[test]
fn serializes_with_canonical_keys() {
    let frame = Frame::new("Cisco", "Agent", "SetReadyState", Value::Null).with_request_id("r1");
    assert_eq!(
        frame.to_json(),
        r#"{"channel":"Cisco","topic":"Agent","subtopic":"SetReadyState","data":null,"requestId":"r1"}"#
    );
    let back = Frame::parse(&frame.to_json()).expect("round trip");
    assert_eq!(back, frame);
}

// ---- Each FrameError variant from a matching bad input ---------------------------------------

fn parse_error(text: &str) -> FrameError {
    Frame::parse(text).expect_err("refused")
}

#[test]
fn error_json() {
    let e = parse_error(r#"{"channel": "Cisco", "topic": }"#);
    assert!(matches!(e, FrameError::Json { .. }), "{e:?}");
    let message = e.to_string();
    assert!(message.starts_with("invalid JSON: "), "{message}");
    assert!(message.contains("line 1 column"), "{message}");
    assert_eq!(e.field(), None);
    assert_eq!(e.error_type(), ErrorType::InvalidInput);
}

#[test]
fn error_not_an_object() {
    for text in ["[1,2]", "\"Cisco\"", "42", "null"] {
        let e = parse_error(text);
        assert_eq!(e, FrameError::NotAnObject, "{text}");
        assert!(e.to_string().contains("JSON object"));
    }
}

#[test]
fn error_missing_field() {
    let e = parse_error(r#"{"topic":"Agent"}"#);
    assert_eq!(
        e,
        FrameError::MissingField {
            field: "channel",
            location: "the frame".into()
        }
    );
    assert_eq!(e.to_string(), r#"missing field "channel" in the frame"#);
    let e = parse_error(r#"{"channel":"Cisco","topic":null}"#);
    assert_eq!(e.field(), Some("topic"));
    assert!(e.to_string().contains("\"topic\""));
}

#[test]
fn error_wrong_type() {
    for (text, field) in [
        (r#"{"channel":1,"topic":"Agent"}"#, "channel"),
        (r#"{"channel":"Cisco","topic":["Agent"]}"#, "topic"),
        (
            r#"{"channel":"Cisco","topic":"Agent","subtopic":5}"#,
            "subtopic",
        ),
        (r#"{"channel":"Cisco","topic":"Agent","data":[1]}"#, "data"),
        (r#"{"channel":"Cisco","topic":"Agent","data":true}"#, "data"),
        (
            r#"{"channel":"Cisco","topic":"Agent","message":7}"#,
            "message",
        ),
        (
            r#"{"channel":"Cisco","topic":"Agent","source":{}}"#,
            "source",
        ),
        (
            r#"{"channel":"Cisco","topic":"Agent","requestId":true}"#,
            "requestId",
        ),
    ] {
        let e = parse_error(text);
        assert!(
            matches!(e, FrameError::WrongType { field: f, .. } if f == field),
            "{text}: {e:?}"
        );
        assert!(e.to_string().contains(&format!("\"{field}\"")), "{e}");
    }
    let e = parse_error(r#"{"channel":"Cisco","topic":"Agent","data":3}"#);
    assert_eq!(
        e.to_string(),
        r#"field "data" in the frame must be an object, a string or null"#
    );
}

#[test]
fn error_request_id_too_long() {
    let text = json!({"channel":"Cisco","topic":"Agent","requestId": "r".repeat(129)}).to_string();
    let e = parse_error(&text);
    assert_eq!(e, FrameError::RequestIdTooLong { len: 129 });
    assert!(e.to_string().contains("requestId"));
    assert!(e.to_string().contains("128"));
    assert_eq!(e.field(), Some("requestId"));
}

#[test]
fn error_unknown_frame() {
    let frame =
        Frame::parse(r#"{"channel":"Cisco","topic":"OutboundCall","subtopic":"SetTELEPORT"}"#)
            .expect("valid envelope");
    let e = Command::from_frame(&frame).expect_err("unknown");
    assert_eq!(
        e,
        FrameError::UnknownFrame {
            channel: "Cisco".into(),
            topic: "OutboundCall".into(),
            subtopic: "SetTELEPORT".into()
        }
    );
    assert!(e.to_string().contains("SetTELEPORT"));
    assert_eq!(e.field(), None);

    // A huge unknown name is cut in the error.
    let long = "X".repeat(10_000);
    let frame = Frame::new(long.clone(), "t", "s", Value::Null);
    let e = Command::from_frame(&frame).expect_err("unknown");
    assert!(e.to_string().len() < 400, "{}", e.to_string().len());
}

#[test]
fn error_invalid_field() {
    let frame = Frame::parse(
        r#"{"channel":"Cisco","topic":"OutboundCall","subtopic":"SetSEND_DTMF","data":{"CallID":"1","dtmf":"9x"}}"#,
    )
    .expect("valid envelope");
    let e = Command::from_frame(&frame).expect_err("bad dtmf");
    assert!(matches!(e, FrameError::InvalidField { field: "dtmf", .. }));
    assert_eq!(
        e.to_string(),
        r#"invalid field "dtmf" in data of Cisco/OutboundCall/SetSEND_DTMF: may hold only 0-9, *, # and A-D"#
    );
}

#[test]
fn every_error_message_is_one_line() {
    let errors = [
        parse_error("{"),
        parse_error("[]"),
        parse_error("{}"),
        parse_error(r#"{"channel":1}"#),
        parse_error(&json!({"channel":"a","topic":"b","requestId":"r".repeat(200)}).to_string()),
    ];
    for e in errors {
        assert!(!e.to_string().contains('\n'), "{e}");
        assert!(!e.to_string().is_empty());
    }
}

// ---- get_ci, get_str_ci, request_id_hint ------------------------------------------------------

#[test]
fn case_insensitive_lookup() {
    let obj = json!({"CallID ": "1", "callid": "2", "MediaAddress": " 5069 ", "n": 16786700, "f": 1.5, "b": true});
    assert_eq!(
        get_ci(&obj, "callid"),
        Some(&json!("2")),
        "an exact match wins"
    );
    assert_eq!(get_ci(&obj, "CALLID"), Some(&json!("1")));
    assert_eq!(get_ci(&obj, " mediaaddress "), Some(&json!(" 5069 ")));
    assert_eq!(get_ci(&obj, "missing"), None);
    assert_eq!(get_ci(&json!([1]), "x"), None);
    assert_eq!(get_str_ci(&obj, "mediaAddress").as_deref(), Some("5069"));
    assert_eq!(get_str_ci(&obj, "N").as_deref(), Some("16786700"));
    assert_eq!(get_str_ci(&obj, "f").as_deref(), Some("1.5"));
    assert_eq!(get_str_ci(&obj, "b"), None);
    assert_eq!(get_str_ci(&Value::Null, "b"), None);
}

#[test]
fn request_id_hint_salvages_ids_from_refused_frames() {
    assert_eq!(
        request_id_hint(r#"{"topic":"Agent","requestId":"r-9"}"#).as_deref(),
        Some("r-9")
    );
    assert_eq!(
        request_id_hint(r#"{"RequestId ":12}"#).as_deref(),
        Some("12")
    );
    assert_eq!(request_id_hint(r#"{"requestId":"r-9""#), None);
    let long = json!({"requestId": "r".repeat(129)}).to_string();
    assert_eq!(request_id_hint(&long), None);
}

// ---- Topics -----------------------------------------------------------------------------------

#[test]
fn topics_parse_and_display_round_trip() {
    let cases = [
        ("agent/1001001", Topic::Agent("1001001".into())),
        ("team/5000", Topic::Team("5000".into())),
        ("dialog/16786700", Topic::Dialog("16786700".into())),
        ("queue/7", Topic::Queue("7".into())),
        ("all", Topic::All),
        ("agent/Jane.Doe_2-x", Topic::Agent("Jane.Doe_2-x".into())),
    ];
    for (text, topic) in cases {
        assert_eq!(text.parse::<Topic>(), Ok(topic.clone()), "{text}");
        assert_eq!(topic.to_string(), text);
        assert_eq!(topic.to_string().parse::<Topic>(), Ok(topic.clone()));
        let json = serde_json::to_string(&topic).expect("serializes");
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(
            serde_json::from_str::<Topic>(&json).expect("deserializes"),
            topic
        );
    }
    assert_eq!("AGENT/1001001".parse(), Ok(Topic::Agent("1001001".into())));
    assert_eq!(" All ".parse(), Ok(Topic::All));
    assert_eq!(Topic::Agent("1".into()).kind(), "agent");
    assert_eq!(Topic::All.id(), None);
    assert_eq!(Topic::Queue("7".into()).id(), Some("7"));
}

#[test]
fn bad_topics_are_refused_with_their_name() {
    type Check = fn(&TopicError) -> bool;
    let cases: [(&str, Check); 8] = [
        ("", |e| matches!(e, TopicError::UnknownKind { .. })),
        ("agent", |e| matches!(e, TopicError::UnknownKind { .. })),
        ("user/1", |e| matches!(e, TopicError::UnknownKind { .. })),
        ("all/1", |e| matches!(e, TopicError::UnknownKind { .. })),
        ("agent/", |e| matches!(e, TopicError::EmptyId { .. })),
        ("agent/1/2", |e| matches!(e, TopicError::InvalidId { .. })),
        ("dialog/16 78", |e| {
            matches!(e, TopicError::InvalidId { .. })
        }),
        ("queue/ü", |e| matches!(e, TopicError::InvalidId { .. })),
    ];
    for (text, check) in cases {
        let e = text.parse::<Topic>().expect_err(text);
        assert!(check(&e), "{text}: {e:?}");
        assert!(e.to_string().contains(&format!("\"{text}\"")), "{e}");
    }
    let long = format!("team/{}", "9".repeat(65));
    assert!(matches!(
        long.parse::<Topic>(),
        Err(TopicError::IdTooLong { len: 65, .. })
    ));
    assert!(format!("team/{}", "9".repeat(64)).parse::<Topic>().is_ok());
    assert!(serde_json::from_str::<Topic>("\"nope\"").is_err());
}

// ---- Codes ------------------------------------------------------------------------------------

#[test]
fn close_codes_match_the_table() {
    let expected = [
        (CloseCode::ProtocolError, 1002),
        (CloseCode::InvalidPayload, 1007),
        (CloseCode::Shutdown, 4000),
        (CloseCode::NotSignedIn, 4401),
        (CloseCode::SignedOut, 4403),
        (CloseCode::TooSlow, 4408),
        (CloseCode::FrameTooLarge, 4409),
        (CloseCode::TooManyConnections, 4429),
        (CloseCode::AccountLocked, 4503),
    ];
    for (close, code) in expected {
        assert_eq!(close.code(), code);
        assert_eq!(CloseCode::from_code(code), Some(close));
    }
    assert_eq!(CloseCode::from_code(1000), None);
}

#[test]
fn close_code_ranges_match_may_reconnect() {
    for close in CloseCode::ALL {
        let code = close.code();
        // RFC 6455's codes for a client that broke the framing, then ours.
        assert!(
            [1002, 1007].contains(&code) || (4000..5000).contains(&code),
            "{code}"
        );
        assert_eq!(
            close.may_reconnect(),
            (4000..4500).contains(&code),
            "{close}"
        );
        assert!(close.reason().len() <= 60, "{}", close.reason());
        assert!(!close.reason().is_empty());
    }
    assert!(CloseCode::TooSlow.may_reconnect());
    assert!(!CloseCode::AccountLocked.may_reconnect());
}

#[test]
fn error_types_are_the_documented_strings() {
    let expected = [
        (ErrorType::InvalidInput, "Invalid Input"),
        (ErrorType::AuthorizationFailure, "Authorization Failure"),
        (ErrorType::NotSignedIn, "Not Signed In"),
        (ErrorType::UnknownDialog, "Dialog Not Found"),
        (ErrorType::ActionNotAllowed, "Action Not Allowed"),
        (ErrorType::FinesseError, "Finesse Error"),
        (ErrorType::FinesseUnavailable, "Service Unavailable"),
        (ErrorType::Timeout, "Timeout"),
        (ErrorType::TooManyRequests, "Too Many Requests"),
        (ErrorType::CallOperationFailure, "Call Operation Failure"),
        (ErrorType::ResumeTokenUnknown, "Resume Token Unknown"),
    ];
    assert_eq!(ErrorType::ALL.len(), expected.len());
    for (error_type, text) in expected {
        assert_eq!(error_type.as_str(), text);
        assert_eq!(serde_json::to_value(error_type).expect("ok"), json!(text));
    }
}

#[test]
fn response_types_are_the_documented_codes() {
    for (i, response) in ResponseType::ALL.into_iter().enumerate() {
        assert_eq!(usize::from(response.code()), i);
        assert_eq!(ResponseType::from_code(response.code()), Some(response));
        assert!(!response.text().is_empty());
        assert_eq!(
            response.error_type().is_none(),
            response == ResponseType::Success
        );
    }
    assert_eq!(ResponseType::Success.text(), "Success");
    assert_eq!(ResponseType::InvalidInput.text(), "Invalid input");
    assert_eq!(ResponseType::NotSignedIn.code(), 10);
    assert_eq!(
        ResponseType::TooManyInFlight.error_type(),
        Some(ErrorType::TooManyRequests)
    );
    assert_eq!(ResponseType::RateLimited.code(), 11);
    assert_eq!(
        ResponseType::RateLimited.error_type(),
        Some(ErrorType::TooManyRequests)
    );
    assert_eq!(ResponseType::from_code(12), None);
}

#[test]
fn constants() {
    assert_eq!(PROTOCOL_VERSION, 1);
    assert_eq!(DEFAULT_MAX_FRAME_BYTES, 65_536);
}

// ---- Replies ----------------------------------------------------------------------------------

#[test]
fn command_result_shape() {
    let text = reply::command_result(
        "Cisco",
        "OutboundCall",
        "SetANSWER",
        Some("c-42"),
        ResponseType::Success,
        None,
        Some("f-7"),
    );
    assert_eq!(
        text,
        r#"{"channel":"Cisco","topic":"OutboundCall","subtopic":"SetANSWERResult","data":{"ResponseType":0,"ResponseText":"Success","finesseRequestId":"f-7"},"requestId":"c-42"}"#
    );
    let text = reply::command_result(
        "Cisco",
        "InboundCall",
        "SetHOLD",
        None,
        ResponseType::ActionNotAllowed,
        Some("HOLD is not allowed in state ALERTING"),
        None,
    );
    let value: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(value["subtopic"], "SetHOLDResult");
    assert_eq!(value["data"]["ResponseType"], 4);
    assert_eq!(
        value["data"]["ResponseText"],
        "HOLD is not allowed in state ALERTING"
    );
    assert_eq!(value["data"]["finesseRequestId"], Value::Null);
    assert!(value.get("requestId").is_none());
}

#[test]
fn api_error_shape() {
    let text = reply::api_error(
        ErrorType::InvalidInput,
        "missing field \"CallID\"",
        Some("r1"),
    );
    assert_eq!(
        text,
        r#"{"channel":"Cisco","topic":"Error","subtopic":"SetAPIError","data":{"packet":"apierror","data":{"errorType":"Invalid Input","errorMessage":"missing field \"CallID\"","msg":"missing field \"CallID\""}},"requestId":"r1"}"#
    );
    let text = reply::api_error("Invalid State", "x", None);
    let value: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(value["data"]["data"]["errorType"], "Invalid State");
    assert!(value.get("requestId").is_none());

    let e = Frame::parse("{").expect_err("bad");
    let value: Value = serde_json::from_str(&reply::frame_error(&e, Some("r2"))).expect("json");
    assert_eq!(value["data"]["data"]["errorType"], "Invalid Input");
    assert_eq!(value["data"]["data"]["errorMessage"], e.to_string());
    assert_eq!(value["requestId"], "r2");
}

#[test]
fn session_and_subscription_replies() {
    let text = reply::ready(
        "s-1",
        Some("1001001"),
        Some("5069"),
        &["agent"],
        &["5000".to_owned()],
        "rt-xyz",
        Some("login-1"),
    );
    assert_eq!(
        text,
        r#"{"channel":"Broker","topic":"Session","subtopic":"Ready","data":{"sessionId":"s-1","agentId":"1001001","extension":"5069","roles":["agent"],"teams":["5000"],"resumeToken":"rt-xyz"},"requestId":"login-1"}"#
    );
    let none: [&str; 0] = [];
    let value: Value = serde_json::from_str(&reply::ready(
        "s-2",
        None,
        None,
        &["admin"],
        &none,
        "rt",
        None,
    ))
    .expect("json");
    assert_eq!(value["data"]["agentId"], Value::Null);
    assert_eq!(value["data"]["teams"], json!([]));

    let topics = [Topic::Agent("1001001".into()), Topic::Team("5000".into())];
    assert_eq!(
        reply::subscribed(&topics, Some(true), Some("s1")),
        r#"{"channel":"Broker","topic":"Subscription","subtopic":"Subscribed","data":{"topics":["agent/1001001","team/5000"],"recovered":true},"requestId":"s1"}"#
    );
    assert_eq!(
        reply::subscribed(&topics, None, None),
        r#"{"channel":"Broker","topic":"Subscription","subtopic":"Subscribed","data":{"topics":["agent/1001001","team/5000"]}}"#
    );
    assert_eq!(
        reply::unsubscribed(&topics[1..], None),
        r#"{"channel":"Broker","topic":"Subscription","subtopic":"Unsubscribed","data":{"topics":["team/5000"]}}"#
    );
    assert_eq!(
        reply::pong(&json!({"t": 1}), Some("p")),
        r#"{"channel":"Broker","topic":"Session","subtopic":"Pong","data":{"t":1},"requestId":"p"}"#
    );
}
