//! The action table: how a Finesse participant action is presented to
//! clients in `ButtonStates` and `ActionsAllowed` (docs/protocol.md, "Action
//! table"). The names of the seed sample are kept exactly; the others follow
//! the same pattern (button = verb, variable = verb + `Call`).

use switchboard_finesse::Action;

/// How one Finesse action appears in a call event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionSpec {
    /// The Finesse action.
    pub action: Action,
    /// The `ActionsAllowed` key, which is also the command subtopic.
    pub subtopic: &'static str,
    /// The `ButtonStates` key and `ButtonName`.
    pub button: &'static str,
    /// `VariableName`.
    pub variable: &'static str,
    /// `VariableStructure`: the data template of the command.
    pub fields: &'static [&'static str],
}

const CALL_MEDIA: &[&str] = &["CallID", "MediaAddress"];
const CALL_MEDIA_TO: &[&str] = &["CallID", "MediaAddress", "TOAddress"];
const CALL_ONLY: &[&str] = &["CallID"];

/// Every action that gets a button, in a fixed order. SEND_DTMF gets none (as
/// in the seed sample), nor do the supervisor and MAKE_CALL actions.
pub static ACTION_TABLE: &[ActionSpec] = &[
    spec(
        Action::Answer,
        "SetANSWER",
        "Answer",
        "AnswerCall",
        CALL_MEDIA,
    ),
    spec(
        Action::Accept,
        "SetACCEPT",
        "Accept",
        "AcceptCall",
        CALL_ONLY,
    ),
    spec(
        Action::Reject,
        "SetREJECT",
        "Reject",
        "RejectCall",
        CALL_ONLY,
    ),
    spec(Action::Close, "SetCLOSE", "Close", "CloseCall", CALL_ONLY),
    spec(
        Action::TransferSst,
        "SetTRANSFER_SST",
        "DirectTransfer",
        "DirectTransferCall",
        CALL_MEDIA_TO,
    ),
    spec(
        Action::ConsultCall,
        "SetCONSULT_CALL",
        "Consult",
        "ConsultCall",
        CALL_MEDIA_TO,
    ),
    spec(Action::Hold, "SetHOLD", "Hold", "HoldCall", CALL_MEDIA),
    spec(
        Action::Retrieve,
        "SetRETRIEVE",
        "Retrieve",
        "RetrieveCall",
        CALL_MEDIA,
    ),
    spec(
        Action::UpdateCallData,
        "SetUPDATE_CALL_DATA",
        "UpdateCallData",
        "UpdateCallData",
        &["callID", "label"],
    ),
    spec(Action::Drop, "SetDROP", "Drop", "DropCall", CALL_MEDIA),
    spec(
        Action::Transfer,
        "SetTRANSFER",
        "Transfer",
        "TransferCall",
        CALL_ONLY,
    ),
    spec(
        Action::Conference,
        "SetCONFERENCE",
        "Conference",
        "ConferenceCall",
        CALL_ONLY,
    ),
    spec(
        Action::UpdateScheduledCallback,
        "SetUPDATE_SCHEDULED_CALLBACK",
        "UpdateSchedule",
        "UpdateSchedule",
        &["callID", "extn"],
    ),
    spec(
        Action::CancelScheduledCallback,
        "SetCANCEL_SCHEDULED_CALLBACK",
        "CancelSchedule",
        "CancelSchedule",
        &["callID"],
    ),
];

const fn spec(
    action: Action,
    subtopic: &'static str,
    button: &'static str,
    variable: &'static str,
    fields: &'static [&'static str],
) -> ActionSpec {
    ActionSpec {
        action,
        subtopic,
        button,
        variable,
        fields,
    }
}

/// The presentation of `action`, if it gets a button.
pub fn action_spec(action: &Action) -> Option<&'static ActionSpec> {
    ACTION_TABLE.iter().find(|s| &s.action == action)
}

/// The action whose command subtopic is `subtopic` (ASCII case ignored).
pub fn action_for_subtopic(subtopic: &str) -> Option<&'static ActionSpec> {
    ACTION_TABLE
        .iter()
        .find(|s| s.subtopic.eq_ignore_ascii_case(subtopic))
}
