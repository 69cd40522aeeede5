//! The notifications a change causes: the User and Team PUTs of an agent, the Dialogs POST,
//! PUT and DELETE of a dialog to every agent on it, and CTI errors (Finesse Web Services
//! Developer Guide: notification sequences).

use switchboard_finesse::{ApiError, Dialog, Node, Update, UpdateData, UpdateEvent};

use super::{Outgoing, World, dialog_uri, team_summary};

impl World {
    pub(super) fn notify_user(
        &self,
        out: &mut Vec<Outgoing>,
        agent: &str,
        request_id: Option<&str>,
    ) {
        let Some(a) = self.agents.get(agent) else {
            return;
        };
        out.push(Outgoing {
            node: Node::User(agent.to_owned()),
            update: Update {
                event: UpdateEvent::Put,
                request_id: request_id.map(str::to_owned),
                source: format!("/finesse/api/User/{agent}"),
                data: UpdateData::User(Box::new(a.user.clone())),
            },
        });
        out.push(Outgoing {
            node: Node::TeamUsers(a.config.team_id.clone()),
            update: Update {
                event: UpdateEvent::Put,
                request_id: None,
                source: format!("/finesse/api/User/{agent}"),
                data: UpdateData::User(Box::new(team_summary(&a.user))),
            },
        });
    }

    /// The agents (by id) that take part in `dialog`.
    pub(super) fn agents_in(&self, dialog: &Dialog) -> Vec<String> {
        dialog
            .participants
            .iter()
            .filter_map(|p| self.agent_on(&p.media_address))
            .map(str::to_owned)
            .collect()
    }

    pub(super) fn notify_dialogs(
        &self,
        out: &mut Vec<Outgoing>,
        agent: &str,
        event: UpdateEvent,
        dialog: &Dialog,
        request_id: Option<&str>,
    ) {
        out.push(Outgoing {
            node: Node::Dialogs(agent.to_owned()),
            update: Update {
                event,
                request_id: request_id.map(str::to_owned),
                source: format!("/finesse/api/User/{agent}/Dialogs"),
                data: UpdateData::Dialogs(vec![dialog.clone()]),
            },
        });
    }

    pub(super) fn notify_dialog_put(
        &self,
        out: &mut Vec<Outgoing>,
        id: &str,
        request_id: Option<&str>,
    ) {
        let Some(call) = self.calls.get(id) else {
            return;
        };
        for agent in self.agents_in(&call.dialog) {
            out.push(Outgoing {
                node: Node::Dialogs(agent),
                update: Update {
                    event: UpdateEvent::Put,
                    request_id: request_id.map(str::to_owned),
                    source: dialog_uri(id),
                    data: UpdateData::Dialog(Box::new(call.dialog.clone())),
                },
            });
        }
    }

    pub(super) fn notify_cti_error(
        &self,
        out: &mut Vec<Outgoing>,
        agent: &str,
        source: String,
        request_id: Option<&str>,
        error: ApiError,
    ) {
        let node = if source.starts_with("/finesse/api/Dialog/") {
            Node::Dialogs(agent.to_owned())
        } else {
            Node::User(agent.to_owned())
        };
        out.push(Outgoing {
            node,
            update: Update {
                event: UpdateEvent::Put,
                request_id: request_id.map(str::to_owned),
                source,
                data: UpdateData::ApiErrors(vec![error]),
            },
        });
    }
}
