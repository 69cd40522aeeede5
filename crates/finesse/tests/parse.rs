//! Parsing Finesse documents: the forms Finesse and captures use, and the
//! errors for what is not a Finesse document.

use switchboard_finesse::*;

const DIALOG: &str = "<Dialog><id>42</id><state>ACTIVE</state>\
<mediaProperties><callType>OUTBOUND</callType><callvariables>\
<CallVariable><name>BAStatus</name><value>PREDICTIVE_OUTBOUND</value></CallVariable>\
</callvariables></mediaProperties>\
<participants><Participant><actions><action>HOLD</action><action>DROP</action></actions>\
<mediaAddress>5001</mediaAddress><state>ACTIVE</state></Participant></participants></Dialog>";

fn update_with(data: &str, event: &str) -> String {
    format!(
        "<Update><data>{data}</data><event>{event}</event><requestId>r1</requestId><source>/finesse/api/Dialog/42</source></Update>"
    )
}

#[test]
fn escaped_cdata_and_inline_payloads_are_the_same() {
    let update = update_with(&DIALOG.replace("Dialog>", "dialog>"), "PUT");
    let escaped = update
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let wrap = |payload: &str| {
        format!(
            "<message from='pubsub.f' to='a@f'><event xmlns='http://jabber.org/protocol/pubsub#event'>\
<items node='/finesse/api/User/1001001/Dialogs'><item id='i1'>\
<notification xmlns='http://jabber.org/protocol/pubsub' type='html'>{payload}</notification></item></items></event></message>"
        )
    };
    let a = parse_notification(&wrap(&escaped)).expect("escaped");
    let b = parse_notification(&wrap(&format!("<![CDATA[{update}]]>"))).expect("cdata");
    let c = parse_notification(&wrap(&update)).expect("inline");
    let d = parse_notification(&update).expect("bare");
    // The item as an XMPP client delivers it: the same notification.
    let e = parse_item(
        &update,
        Some("/finesse/api/User/1001001/Dialogs".into()),
        Some("i1".into()),
        Some("pubsub.f".into()),
    )
    .expect("item");
    assert_eq!(a, e);
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a.update, d.update);
    assert_eq!(a.node.as_deref(), Some("/finesse/api/User/1001001/Dialogs"));
    assert_eq!(a.node(), Node::Dialogs("1001001".into()));
    assert_eq!(a.item_id.as_deref(), Some("i1"));
    assert_eq!(a.update.request_id.as_deref(), Some("r1"));
    let UpdateData::Dialog(dialog) = &a.update.data else {
        panic!("dialog data")
    };
    assert_eq!(dialog.id, "42");
    assert!(dialog.is_outbound());
    assert!(!dialog.is_preview_reservation());
    assert_eq!(
        dialog.participant("5001").map(|p| p.actions.clone()),
        Some(vec![Action::Hold, Action::Drop])
    );
}

#[test]
fn element_order_case_and_unknown_elements() {
    let xml = "<update><source>/finesse/api/User/7</source><futureThing><x>1</x></futureThing>\
<EVENT>put</EVENT><data><User><state>READY</state><loginId>7</loginId><newField/></User></data></update>";
    let n = parse_notification(xml).expect("parses");
    assert_eq!(n.update.event, UpdateEvent::Put);
    assert_eq!(n.update.request_id, None);
    let UpdateData::User(user) = n.update.data else {
        panic!("user")
    };
    assert_eq!(user.login_id, "7");
    assert_eq!(user.state, UserState::Ready);
}

#[test]
fn delete_of_a_user_has_no_data() {
    let n = parse_notification(
        "<Update><event>DELETE</event><source>/finesse/api/User/7</source><requestId/></Update>",
    )
    .expect("parses");
    assert_eq!(n.update.data, UpdateData::None);
    assert_eq!(n.update.event, UpdateEvent::Delete);
}

#[test]
fn unknown_data_kinds_are_kept_by_name() {
    let n = parse_notification(&update_with("<Queue><id>1</id></Queue>", "PUT")).expect("parses");
    assert_eq!(n.update.data, UpdateData::Unknown("Queue".into()));
}

#[test]
fn rest_and_notification_api_errors() {
    let rest = "<ApiErrors><ApiError><ErrorType>Authorization Failure</ErrorType>\
<ErrorMessage>UNAUTHORIZED</ErrorMessage><ErrorData>jsmith</ErrorData></ApiError></ApiErrors>";
    let errors = ApiError::list_from_xml(rest).expect("parses");
    assert_eq!(errors[0].error_type, "Authorization Failure");
    assert_eq!(errors[0].error_data.as_deref(), Some("jsmith"));
    assert_eq!(
        ApiError::list_to_xml(&errors, ApiErrorStyle::Rest).len(),
        rest.len()
    );
    assert_eq!(
        ApiError::list_from_xml(&ApiError::list_to_xml(&errors, ApiErrorStyle::Notification))
            .expect("re-parses"),
        errors
    );
}

#[test]
fn errors_name_the_problem() {
    let cases: &[(&str, &str)] = &[
        ("", "no root element"),
        ("   ", "no root element"),
        ("hello", "text before the root element"),
        ("<iq type='result'/>", "root element is <iq>"),
        ("<Update><data/></Update>", "<event> is missing"),
        (
            "<Update><event>PUT</event><data><dialog><state>A</state></dialog></data></Update>",
            "<id> is missing",
        ),
        (
            "<Update><event>PUT</event><data><user><state>READY</state></user></data></Update>",
            "<loginId> is missing",
        ),
        ("<Update><event>PUT</event></Updat>", "malformed XML"),
        (
            "<Update><event>PUT</event>",
            "document ends inside <Update>",
        ),
        ("<Update><event>&bogus;</event></Update>", "unknown entity"),
        (
            "<Update><event>PUT</event></Update><extra/>",
            "content after the root element",
        ),
        (
            "<message><body>hi</body></message>",
            "no pubsub <notification>",
        ),
        (
            "<message><event><items><item><notification>  </notification></item></items></event></message>",
            "payload is empty",
        ),
        (
            "<message><event><items><item><notification>&lt;Update&gt;</notification></item></items></event></message>",
            "in the <Update> carried by <notification>",
        ),
    ];
    for (input, needle) in cases {
        let err = parse_notification(input).expect_err(input).to_string();
        assert!(
            err.contains(needle),
            "{input:?}: {err:?} should contain {needle:?}"
        );
    }
    // An item's `<Update>` text fails as the same payload inside a message does.
    for (payload, needle) in [
        ("  ", "payload is empty"),
        ("<Update>", "in the <Update> carried by <notification>"),
        ("<iq/>", "root element is <iq>"),
    ] {
        let err = parse_item(payload, None, None, None)
            .expect_err(payload)
            .to_string();
        assert!(
            err.contains(needle),
            "{payload:?}: {err:?} should contain {needle:?}"
        );
    }
}

#[test]
fn dialog_requests_for_every_action() {
    let target = Some("5001".to_string());
    let cases = vec![
        (
            DialogAction::Answer,
            "<Dialog><requestedAction>ANSWER</requestedAction><targetMediaAddress>5001</targetMediaAddress></Dialog>",
        ),
        (
            DialogAction::TransferSst {
                to_address: "1001002".into(),
            },
            "<toAddress>1001002</toAddress>",
        ),
        (
            DialogAction::ConsultCall {
                to_address: "1001002".into(),
            },
            "<requestedAction>CONSULT_CALL</requestedAction>",
        ),
        (
            DialogAction::SendDtmf { dtmf: "12#".into() },
            "<actionParams><ActionParam><name>dtmfString</name><value>12#</value></ActionParam></actionParams>",
        ),
        (
            DialogAction::UpdateScheduledCallback {
                callback_time: Some("2026-12-01T10:30".into()),
                callback_number: Some("6175550142".into()),
            },
            "<ActionParam><name>callbackTime</name><value>2026-12-01T10:30</value></ActionParam><ActionParam><name>callbackNumber</name><value>6175550142</value></ActionParam>",
        ),
        (
            DialogAction::UpdateCallData {
                call_variables: vec![CallVariable {
                    name: "callVariable1".into(),
                    value: "a<b & c".into(),
                }],
                wrap_up_reason: Some("Sale".into()),
            },
            "<mediaProperties><wrapUpReason>Sale</wrapUpReason><callvariables><CallVariable><name>callVariable1</name><value>a&lt;b &amp; c</value></CallVariable></callvariables></mediaProperties>",
        ),
        (
            DialogAction::Reclassify {
                classification: "FAX".into(),
            },
            "<name>outboundClassification</name><value>FAX</value>",
        ),
        (DialogAction::Hold, "HOLD"),
        (DialogAction::Retrieve, "RETRIEVE"),
        (DialogAction::Drop, "DROP"),
        (DialogAction::Accept, "ACCEPT"),
        (DialogAction::Reject, "REJECT"),
        (DialogAction::Close, "CLOSE"),
        (DialogAction::Transfer, "TRANSFER"),
        (DialogAction::Conference, "CONFERENCE"),
        (
            DialogAction::CancelScheduledCallback,
            "CANCEL_SCHEDULED_CALLBACK",
        ),
        (DialogAction::StartRecording, "START_RECORDING"),
        (DialogAction::ParticipantDrop, "PARTICIPANT_DROP"),
    ];
    for (action, needle) in cases {
        let req = DialogRequest {
            action,
            target_media_address: target.clone(),
        };
        let xml = req.to_xml();
        assert!(xml.contains(needle), "{xml} should contain {needle}");
        assert_eq!(DialogRequest::from_xml(&xml).expect("parses"), req);
    }
}

#[test]
fn dialog_request_errors() {
    for (xml, needle) in [
        (
            "<Dialog><targetMediaAddress>1</targetMediaAddress></Dialog>",
            "<requestedAction> is missing",
        ),
        (
            "<Dialog><requestedAction>TRANSFER_SST</requestedAction></Dialog>",
            "<toAddress> is missing",
        ),
        (
            "<Dialog><requestedAction>SEND_DTMF</requestedAction></Dialog>",
            "dtmfString",
        ),
        (
            "<Dialog><requestedAction>UPDATE_SCHEDULED_CALLBACK</requestedAction></Dialog>",
            "callbackTime",
        ),
        (
            "<Dialog><requestedAction>MAKE_CALL</requestedAction></Dialog>",
            "not an action of PUT",
        ),
        (
            "<Dialog><requestedAction>DANCE</requestedAction></Dialog>",
            "DANCE",
        ),
        ("<User><state>READY</state></User>", "expected <Dialog>"),
    ] {
        let err = DialogRequest::from_xml(xml).expect_err(xml).to_string();
        assert!(err.contains(needle), "{err:?} should contain {needle:?}");
    }
}

#[test]
fn make_call_and_user_requests() {
    let mc = MakeCallRequest {
        from_address: "5001".into(),
        to_address: "6175550142".into(),
        call_variables: vec![],
    };
    assert_eq!(MakeCallRequest::from_xml(&mc.to_xml()).expect("parses"), mc);
    assert!(MakeCallRequest::from_xml("<Dialog><requestedAction>MAKE_CALL</requestedAction><fromAddress>1</fromAddress></Dialog>")
        .expect_err("no to").to_string().contains("toAddress"));
    for req in [
        UserRequest {
            state: UserState::Login,
            reason_code_id: None,
            extension: Some("5001".into()),
        },
        UserRequest {
            state: UserState::NotReady,
            reason_code_id: Some("12".into()),
            extension: None,
        },
        UserRequest {
            state: UserState::Ready,
            reason_code_id: None,
            extension: None,
        },
        UserRequest {
            state: UserState::Logout,
            reason_code_id: Some("9".into()),
            extension: None,
        },
    ] {
        assert_eq!(UserRequest::from_xml(&req.to_xml()).expect("parses"), req);
    }
    assert_eq!(
        UserRequest {
            state: UserState::Ready,
            ..Default::default()
        }
        .to_xml(),
        "<User><state>READY</state></User>"
    );
    assert!(
        UserRequest::from_xml("<User/>")
            .expect_err("no state")
            .to_string()
            .contains("<state>")
    );
}

#[test]
fn system_info_and_user_documents() {
    let s = SystemInfo::from_xml("<SystemInfo><status>IN_SERVICE</status><xmppDomain>finesse.local</xmppDomain>\
<xmppPubSubDomain>pubsub.finesse.local</xmppPubSubDomain><primaryNode><host>a</host><xmppPort>5222</xmppPort></primaryNode></SystemInfo>").expect("parses");
    assert_eq!(s.status, SystemStatus::InService);
    assert_eq!(s.primary_node.as_ref().map(|n| n.host.as_str()), Some("a"));
    assert_eq!(s.secondary_node, None);
    assert_eq!(SystemInfo::from_xml(&s.to_xml()).expect("round trip"), s);
    let u = User::from_xml("<User><loginId>2001001</loginId><roles><role>Agent</role><role>Supervisor</role></roles>\
<state>NOT_READY</state><reasonCodeId>-1</reasonCodeId><teams><Team><id>5000</id><name>Blue</name></Team></teams></User>").expect("parses");
    assert!(u.is_supervisor());
    assert_eq!(u.reason(), None);
    assert_eq!(u.teams[0].id, "5000");
    assert_eq!(User::from_xml(&u.to_xml()).expect("round trip"), u);
}

#[test]
fn system_info_says_which_node_it_describes_by_its_xmpp_domain() {
    let doc = |domain: &str| {
        SystemInfo::from_xml(&format!(
            "<SystemInfo><status>OUT_OF_SERVICE</status><xmppDomain>{domain}</xmppDomain>\
<primaryNode><host>fin-a.example.com</host></primaryNode>\
<secondaryNode><host>fin-b.example.com</host></secondaryNode></SystemInfo>"
        ))
        .expect("parses")
    };
    assert_eq!(
        doc("fin-a.example.com").describes(),
        Some((0, "fin-a.example.com"))
    );
    assert_eq!(
        doc("FIN-B.example.com").describes(),
        Some((1, "fin-b.example.com"))
    );
    assert_eq!(doc("finesse.example.com").describes(), None);
    assert_eq!(SystemInfo::default().describes(), None);
    // Each node's XMPP domain, from either node's SystemInfo.
    let pair = |d: &str| (d.to_owned(), format!("pubsub.{d}"));
    let from_a = doc("fin-a.example.com");
    assert_eq!(from_a.xmpp_domain_of(0), Some(pair("fin-a.example.com")));
    assert_eq!(from_a.xmpp_domain_of(1), Some(pair("fin-b.example.com")));
    assert_eq!(
        doc("fin-b.example.com").xmpp_domain_of(0),
        Some(pair("fin-a.example.com"))
    );
    // One domain for both.
    let shared = doc("finesse.example.com");
    assert_eq!(shared.xmpp_domain_of(1), Some(pair("finesse.example.com")));
    assert_eq!(SystemInfo::default().xmpp_domain_of(0), None);
}

#[test]
fn element_names_with_markup_characters_are_malformed() {
    // Found by the notification fuzz target: quick-xml reads `<a</b>` as an element named `a</b`.
    let xml =
        "<Update><event>PUT</event><data><x</stateChangeTime></x</stateChangeTime></data></Update>";
    let err = parse_notification(xml).expect_err("malformed").to_string();
    assert!(err.contains("invalid element name"), "{err}");
    // Also found by it: a prefix with no local name.
    let xml = "<Update><event>PUT</event><data><x:></x:></data></Update>";
    let err = parse_notification(xml).expect_err("malformed").to_string();
    assert!(err.contains("invalid element name <x:>"), "{err}");
}

#[test]
fn team_documents_round_trip() {
    let team = Team {
        id: "5000".into(),
        name: Some("Blue & Green".into()),
        uri: Some("/finesse/api/Team/5000".into()),
        users: vec![User {
            login_id: "1001001".into(),
            state: UserState::Ready,
            ..User::default()
        }],
    };
    let xml = team.to_xml();
    assert!(xml.contains("<name>Blue &amp; Green</name>"));
    assert_eq!(Team::from_xml(&xml).expect("parses"), team);
    assert!(
        Team::from_xml("<Team><name>x</name></Team>")
            .expect_err("no id")
            .to_string()
            .contains("<id>")
    );
}

#[test]
fn dialog_lists_round_trip() {
    let d = Dialog::from_xml(DIALOG).expect("parses");
    let list = vec![
        d.clone(),
        Dialog {
            id: "43".into(),
            ..d
        },
    ];
    assert_eq!(
        Dialog::list_from_xml(&Dialog::list_to_xml(&list)).expect("parses"),
        list
    );
    assert_eq!(Dialog::list_from_xml("<Dialogs/>").expect("empty"), vec![]);
    assert!(Dialog::list_from_xml("<Dialog/>").is_err());
}
