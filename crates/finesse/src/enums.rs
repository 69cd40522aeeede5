//! Finesse's closed vocabularies: dialog and participant states, actions,
//! call types, user states, notification events, system status.
//!
//! Each is an enum of the values Finesse documents plus `Other(String)` for a
//! value this version does not know, kept verbatim so that nothing Finesse
//! says is lost. Parsing ignores ASCII case (`put` and `PUT` are the same
//! event, as finesse.js treats them).

use std::fmt;

macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version does not know, kept as Finesse wrote it.
            Other(String),
        }

        impl $name {
            /// Every documented value, in the order of the Finesse documentation.
            pub const KNOWN: &'static [$name] = &[ $( $name::$variant, )* ];

            /// The value as Finesse writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Other(s) => s,
                }
            }

            /// Reads a value, ignoring ASCII case; unknown values become `Other`.
            pub fn parse(s: &str) -> $name {
                $( if s.eq_ignore_ascii_case($text) { return $name::$variant; } )*
                $name::Other(s.to_owned())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::Other(String::new())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name::parse(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// State of a voice dialog (Finesse Developer Guide: Dialog API parameter values).
    pub enum DialogState {
        /// The call is being set up by the agent.
        Initiating = "INITIATING",
        /// The call was set up by the agent and is dialing.
        Initiated = "INITIATED",
        /// The call is ringing.
        Alerting = "ALERTING",
        /// The call is connected.
        Active = "ACTIVE",
        /// The call failed.
        Failed = "FAILED",
        /// The call has ended.
        Dropped = "DROPPED",
        /// The agent accepted an outbound preview reservation.
        Accepted = "ACCEPTED",
    }
}

string_enum! {
    /// State of one participant of a dialog (finesse.js `Dialog.ParticipantStates`).
    pub enum ParticipantState {
        /// Ringing at this participant.
        Alerting = "ALERTING",
        /// This participant is placing the call.
        Initiating = "INITIATING",
        /// This participant placed the call.
        Initiated = "INITIATED",
        /// Connected.
        Active = "ACTIVE",
        /// On hold.
        Held = "HELD",
        /// Left the call.
        Dropped = "DROPPED",
        /// The call failed for this participant.
        Failed = "FAILED",
        /// The agent is wrapping up after the call.
        WrapUp = "WRAP_UP",
        /// Accepted an outbound preview reservation.
        Accepted = "ACCEPTED",
    }
}

string_enum! {
    /// A participant action: what Finesse allows (`<actions>`) and what a
    /// client requests (`<requestedAction>`) (Finesse Developer Guide: Dialog API parameter
    /// values; Dialog actions).
    pub enum Action {
        /// Place a call.
        MakeCall = "MAKE_CALL",
        /// Answer a ringing call.
        Answer = "ANSWER",
        /// Put the call on hold.
        Hold = "HOLD",
        /// Take the call off hold.
        Retrieve = "RETRIEVE",
        /// Hang up.
        Drop = "DROP",
        /// Change call variables or the wrap-up reason.
        UpdateCallData = "UPDATE_CALL_DATA",
        /// Send DTMF digits.
        SendDtmf = "SEND_DTMF",
        /// Place a consult call (the original goes on hold).
        ConsultCall = "CONSULT_CALL",
        /// Complete a consult as a conference.
        Conference = "CONFERENCE",
        /// Complete a consult as a transfer.
        Transfer = "TRANSFER",
        /// Single-step (blind) transfer.
        TransferSst = "TRANSFER_SST",
        /// Supervisor silent monitoring.
        SilentMonitor = "SILENT_MONITOR",
        /// Supervisor barge-in.
        BargeCall = "BARGE_CALL",
        /// Supervisor drops a participant.
        ParticipantDrop = "PARTICIPANT_DROP",
        /// Start recording (UCCX).
        StartRecording = "START_RECORDING",
        /// Accept an outbound preview reservation.
        Accept = "ACCEPT",
        /// Reject an outbound preview reservation.
        Reject = "REJECT",
        /// Reject and close the outbound record.
        Close = "CLOSE",
        /// Schedule or update a callback.
        UpdateScheduledCallback = "UPDATE_SCHEDULED_CALLBACK",
        /// Cancel a scheduled callback.
        CancelScheduledCallback = "CANCEL_SCHEDULED_CALLBACK",
        /// Reclassify an outbound call (voice, fax, answering machine, ...).
        Reclassify = "RECLASSIFY",
    }
}

string_enum! {
    /// `mediaProperties/callType` (Finesse Developer Guide: Dialog API parameter values).
    pub enum CallType {
        /// Routed inbound call.
        AcdIn = "ACD_IN",
        /// Pre-routed inbound call.
        PrerouteAcdIn = "PREROUTE_ACD_IN",
        /// Pre-routed call to a specific agent.
        PrerouteDirectAgent = "PREROUTE_DIRECT_AGENT",
        /// A transferred call.
        Transfer = "TRANSFER",
        /// Other inbound call.
        OtherIn = "OTHER_IN",
        /// Outgoing call.
        Out = "OUT",
        /// Overflow inbound call.
        OverflowIn = "OVERFLOW_IN",
        /// Automatic outgoing call.
        AutoOut = "AUTO_OUT",
        /// Call placed by an agent.
        AgentOut = "AGENT_OUT",
        /// Agent-to-agent call.
        AgentInside = "AGENT_INSIDE",
        /// Supervisor assist.
        AssistCall = "ASSIST_CALL",
        /// Barge-in consult.
        BargeInConsult = "BARGE_IN_CONSULT",
        /// Consult call.
        Consult = "CONSULT",
        /// Conference call.
        Conference = "CONFERENCE",
        /// Emergency call.
        Emergency = "EMERGENCY",
        /// Supervisor monitoring.
        SupervisorMonitor = "SUPERVISOR_MONITOR",
        /// Outbound Option customer call.
        Outbound = "OUTBOUND",
        /// Outbound Option preview reservation.
        OutboundPreview = "OUTBOUND_PREVIEW",
        /// Outbound callback.
        OutboundCallback = "OUTBOUND_CALLBACK",
        /// Outbound callback preview reservation.
        OutboundCallbackPreview = "OUTBOUND_CALLBACK_PREVIEW",
        /// Personal callback.
        OutboundPersonalCallback = "OUTBOUND_PERSONAL_CALLBACK",
        /// Personal callback preview reservation.
        OutboundPersonalCallbackPreview = "OUTBOUND_PERSONAL_CALLBACK_PREVIEW",
        /// Direct preview reservation.
        OutboundDirectPreview = "OUTBOUND_DIRECT_PREVIEW",
    }
}

impl CallType {
    /// True for the Outbound Option types (`OUTBOUND*`).
    pub fn is_outbound(&self) -> bool {
        self.as_str()
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("OUTBOUND"))
    }

    /// True for the reservation types that are accepted with ACCEPT, not ANSWER.
    pub fn is_preview_reservation(&self) -> bool {
        self.is_outbound() && {
            let s = self.as_str();
            s.len() >= 7 && s[s.len() - 7..].eq_ignore_ascii_case("PREVIEW")
        }
    }
}

string_enum! {
    /// Agent (user) state (Finesse Developer Guide: User states).
    pub enum UserState {
        /// Transient state while signing in.
        Login = "LOGIN",
        /// Signed out.
        Logout = "LOGOUT",
        /// Signed in, not taking calls.
        NotReady = "NOT_READY",
        /// Ready for calls.
        Ready = "READY",
        /// Reserved for an incoming call.
        Reserved = "RESERVED",
        /// Reserved for an outbound (progressive/predictive) call.
        ReservedOutbound = "RESERVED_OUTBOUND",
        /// Reserved for an outbound preview.
        ReservedOutboundPreview = "RESERVED_OUTBOUND_PREVIEW",
        /// On a call.
        Talking = "TALKING",
        /// Call on hold.
        Hold = "HOLD",
        /// Wrap-up, then NOT_READY.
        Work = "WORK",
        /// Wrap-up, then READY.
        WorkReady = "WORK_READY",
        /// Finesse does not know.
        Unknown = "UNKNOWN",
    }
}

string_enum! {
    /// `<Update><event>`: what happened to the object (Finesse Developer Guide: Notification
    /// Parameters).
    pub enum UpdateEvent {
        /// The object was added.
        Post = "POST",
        /// The object changed.
        Put = "PUT",
        /// The object was removed.
        Delete = "DELETE",
    }
}

string_enum! {
    /// `SystemInfo/status` (Finesse Developer Guide: SystemInfo).
    pub enum SystemStatus {
        /// Finesse is serving.
        InService = "IN_SERVICE",
        /// Finesse lost CTI or is failing over: every request gets 503.
        OutOfService = "OUT_OF_SERVICE",
        /// Partly serving; requests get 503.
        PartialService = "PARTIAL_SERVICE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ignores_case_and_keeps_unknown_values() {
        assert_eq!(UpdateEvent::parse("put"), UpdateEvent::Put);
        assert_eq!(Action::parse("transfer_sst"), Action::TransferSst);
        assert_eq!(
            CallType::parse("NEW_KIND"),
            CallType::Other("NEW_KIND".into())
        );
        for a in Action::KNOWN {
            assert_eq!(&Action::parse(a.as_str()), a);
        }
    }

    #[test]
    fn outbound_and_preview_types() {
        assert!(CallType::Outbound.is_outbound());
        assert!(!CallType::Outbound.is_preview_reservation());
        assert!(CallType::OutboundPreview.is_preview_reservation());
        assert!(CallType::OutboundDirectPreview.is_preview_reservation());
        assert!(CallType::OutboundCallbackPreview.is_preview_reservation());
        assert!(CallType::OutboundPersonalCallbackPreview.is_preview_reservation());
        assert!(!CallType::AcdIn.is_outbound());
        assert!(!CallType::Other("OUT".into()).is_outbound());
    }
}
