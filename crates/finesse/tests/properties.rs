//! Property tests: generated dialogs, users and requests survive
//! build -> parse unchanged, and no generated or mutated input panics a parser.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use switchboard_finesse::*;

/// Text as Finesse values hold it once trimmed: non-empty, no edge whitespace,
/// including the characters XML must escape.
fn word() -> impl Strategy<Value = String> {
    "[A-Za-z0-9<>&'\"._:/#|+-][A-Za-z0-9<>&'\" ._:/#|+-]{0,14}[A-Za-z0-9<>&'\"._:/#|+-]?"
        .prop_filter("trimmed", |s| s.trim() == s && !s.is_empty())
}

fn opt_word() -> impl Strategy<Value = Option<String>> {
    option::of(word())
}

/// A value kept exactly (call variable values): anything printable, spaces included.
fn value() -> impl Strategy<Value = String> {
    "[ -~\u{e9}\u{4e2d}\t]{0,24}"
}

fn known_or_other<T: Clone + std::fmt::Debug + 'static>(
    known: &'static [T],
    other: fn(String) -> T,
    as_str: fn(&T) -> String,
) -> impl Strategy<Value = T> {
    prop_oneof![
        3 => proptest::sample::select(known),
        1 => "[A-Z][A-Z_]{2,12}"
            .prop_filter("not a known value", move |s| !known.iter().any(|k| as_str(k).eq_ignore_ascii_case(s)))
            .prop_map(other),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    known_or_other(Action::KNOWN, Action::Other, |a| a.as_str().to_owned())
}

fn participant() -> impl Strategy<Value = Participant> {
    (
        vec(action(), 0..6),
        prop_oneof![Just(String::new()), word()],
        opt_word(),
        opt_word(),
        known_or_other(ParticipantState::KNOWN, ParticipantState::Other, |a| {
            a.as_str().to_owned()
        }),
        opt_word(),
        opt_word(),
    )
        .prop_map(
            |(
                actions,
                media_address,
                media_address_type,
                start_time,
                state,
                state_cause,
                state_change_time,
            )| {
                Participant {
                    actions,
                    media_address,
                    media_address_type,
                    start_time,
                    state,
                    state_cause,
                    state_change_time,
                }
            },
        )
}

fn call_variable() -> impl Strategy<Value = CallVariable> {
    (word(), value()).prop_map(|(name, value)| CallVariable { name, value })
}

fn media_properties() -> impl Strategy<Value = MediaProperties> {
    (
        (
            opt_word(),
            opt_word(),
            option::of(known_or_other(CallType::KNOWN, CallType::Other, |a| {
                a.as_str().to_owned()
            })),
        ),
        (
            opt_word(),
            opt_word(),
            opt_word(),
            opt_word(),
            opt_word(),
            opt_word(),
        ),
        (opt_word(), opt_word(), vec(word(), 0..3), opt_word()),
        vec(call_variable(), 0..12),
    )
        .prop_map(
            |(
                (media_id, dialed_number, call_type),
                (dnis, queue_number, queue_name, k1, k2, k3),
                (call_guid, wrap_up_reason, wrap_up_items, outbound_classification),
                call_variables,
            )| {
                MediaProperties {
                    media_id,
                    dialed_number,
                    call_type,
                    dnis,
                    queue_number,
                    queue_name,
                    call_key_call_id: k1,
                    call_key_sequence_num: k2,
                    call_key_prefix: k3,
                    call_guid,
                    wrap_up_reason,
                    wrap_up_items,
                    outbound_classification,
                    call_variables,
                }
            },
        )
}

fn dialog() -> impl Strategy<Value = Dialog> {
    (
        (
            word(),
            opt_word(),
            opt_word(),
            opt_word(),
            opt_word(),
            opt_word(),
            opt_word(),
            opt_word(),
        ),
        known_or_other(DialogState::KNOWN, DialogState::Other, |a| {
            a.as_str().to_owned()
        }),
        media_properties(),
        vec(participant(), 0..4),
        option::of(
            (opt_word(), opt_word()).prop_filter("not empty", |(a, b)| a.is_some() || b.is_some()),
        ),
    )
        .prop_map(
            |(
                (
                    id,
                    uri,
                    associated_dialog_uri,
                    secondary_id,
                    media_type,
                    from_address,
                    to_address,
                    callback_number,
                ),
                state,
                media_properties,
                participants,
                cb,
            )| {
                Dialog {
                    id,
                    uri,
                    associated_dialog_uri,
                    secondary_id,
                    media_type,
                    from_address,
                    to_address,
                    callback_number,
                    state,
                    media_properties,
                    participants,
                    scheduled_callback_info: cb.map(|(callback_time, callback_number)| {
                        ScheduledCallbackInfo {
                            callback_time,
                            callback_number,
                        }
                    }),
                }
            },
        )
}

fn user() -> impl Strategy<Value = User> {
    (
        (word(), opt_word(), opt_word(), opt_word(), opt_word()),
        known_or_other(UserState::KNOWN, UserState::Other, |a| {
            a.as_str().to_owned()
        }),
        option::of(known_or_other(UserState::KNOWN, UserState::Other, |a| {
            a.as_str().to_owned()
        })),
        (
            opt_word(),
            opt_word(),
            vec(word(), 0..3),
            opt_word(),
            opt_word(),
        ),
        vec((word(), opt_word()), 0..3),
    )
        .prop_map(
            |(
                (login_id, login_name, first_name, last_name, extension),
                state,
                pending_state,
                (reason_code_id, state_change_time, roles, team_id, team_name),
                teams,
            )| {
                User {
                    login_id,
                    login_name,
                    first_name,
                    last_name,
                    extension,
                    state,
                    pending_state,
                    reason_code_id,
                    reason_code: None,
                    state_change_time,
                    roles,
                    team_id,
                    team_name,
                    teams: teams
                        .into_iter()
                        .map(|(id, name)| TeamRef {
                            id,
                            name,
                            uri: None,
                        })
                        .collect(),
                    uri: None,
                    dialogs: None,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn dialog_round_trips(d in dialog()) {
        let xml = d.to_xml();
        prop_assert_eq!(Dialog::from_xml(&xml)?, d);
    }

    #[test]
    fn update_round_trips_bare_and_as_stanza(dialogs in vec(dialog(), 1..3), event in known_or_other(UpdateEvent::KNOWN, UpdateEvent::Other, |a| a.as_str().to_owned()), request_id in opt_word(), item in word()) {
        let update = Update { event, request_id, source: "/finesse/api/User/1001001/Dialogs".into(), data: UpdateData::Dialogs(dialogs) };
        prop_assert_eq!(&parse_update(&update.to_xml())?, &update);
        let stanza = update.to_stanza_xml("pubsub.finesse.local", "1001001@finesse.local", "/finesse/api/User/1001001/Dialogs", &item);
        let n = parse_notification(&stanza)?;
        prop_assert_eq!(&n.update, &update);
        prop_assert_eq!(n.item_id.as_deref(), Some(item.as_str()));
        // What an XMPP client reads out of the same message gives the same notification.
        let from_item = parse_item(&update.to_xml(), n.node.clone(), Some(item.clone()), n.from.clone())?;
        prop_assert_eq!(&from_item, &n);
        prop_assert_eq!(n.node.as_deref(), Some("/finesse/api/User/1001001/Dialogs"));
        prop_assert_eq!(n.from.as_deref(), Some("pubsub.finesse.local"));
    }

    #[test]
    fn user_round_trips(u in user()) {
        prop_assert_eq!(User::from_xml(&u.to_xml())?, u.clone());
        let update = Update { event: UpdateEvent::Put, request_id: None, source: format!("/finesse/api/User/{}", u.login_id), data: UpdateData::User(Box::new(u)) };
        prop_assert_eq!(parse_update(&update.to_xml())?, update);
    }

    #[test]
    fn dialog_requests_round_trip(to in word(), digits in "[0-9*#A-D]{1,8}", vars in vec(call_variable(), 0..4), reason in opt_word(), target in opt_word(), t in opt_word(), n in opt_word()) {
        let mut actions = vec![
            DialogAction::TransferSst { to_address: to.clone() },
            DialogAction::ConsultCall { to_address: to },
            DialogAction::SendDtmf { dtmf: digits },
            DialogAction::UpdateCallData { call_variables: vars, wrap_up_reason: reason },
        ];
        if t.is_some() || n.is_some() {
            actions.push(DialogAction::UpdateScheduledCallback { callback_time: t, callback_number: n });
        }
        for action in actions {
            let req = DialogRequest { action, target_media_address: target.clone() };
            prop_assert_eq!(DialogRequest::from_xml(&req.to_xml())?, req);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,300}") {
        let _ = parse_notification(&s);
        let _ = DialogRequest::from_xml(&s);
        let _ = User::from_xml(&s);
    }

    #[test]
    fn mutated_notifications_never_panic(d in dialog(), cut in any::<proptest::sample::Index>(), len in 0usize..40, insert in "[<>&;/'\"a-z!\\[\\]-]{0,6}", escaped in any::<bool>()) {
        let update = Update { event: UpdateEvent::Put, request_id: None, source: format!("/finesse/api/Dialog/{}", d.id), data: UpdateData::Dialog(Box::new(d)) };
        let text = if escaped { update.to_stanza_xml("p", "a@b", "/finesse/api/User/1/Dialogs", "i") } else { update.to_xml() };
        let mut at = cut.index(text.len());
        while !text.is_char_boundary(at) { at -= 1; }
        let mut end = (at + len).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        let mutated = format!("{}{}{}", &text[..at], insert, &text[end..]);
        let _ = parse_notification(&mutated);
    }
}
