//! Finesse pubsub node paths and REST resource paths (Finesse Developer Guide: subscription
//! management):
//! which agent or team a notification is about.

use std::fmt;

/// A Finesse notification node (also the `source` of most Updates).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Node {
    /// `/finesse/api/User/{id}`: the user's state.
    User(String),
    /// `/finesse/api/User/{id}/Dialogs`: the user's dialogs and CTI errors.
    Dialogs(String),
    /// `/finesse/api/Team/{id}/Users`: state changes of a team's agents.
    TeamUsers(String),
    /// `/finesse/api/SystemInfo`.
    SystemInfo,
    /// `/finesse/api/Dialog/{id}`: the source of a Dialog item update.
    Dialog(String),
    /// Anything else, kept verbatim.
    Other(String),
}

const PREFIX: &str = "/finesse/api/";

impl Node {
    /// Reads a node or source path.
    pub fn parse(path: &str) -> Node {
        let other = || Node::Other(path.to_owned());
        let Some(rest) = path.trim().strip_prefix(PREFIX) else {
            return other();
        };
        // At most four segments are looked at (none of the known paths has
        // more than three); no vector.
        let mut parts = [""; 4];
        let mut n = 0;
        for part in rest.split('/') {
            if n == parts.len() {
                return other();
            }
            parts[n] = part;
            n += 1;
        }
        let ok = |id: &str| !id.is_empty();
        match &parts[..n] {
            ["SystemInfo"] => Node::SystemInfo,
            ["User", id] if ok(id) => Node::User((*id).to_owned()),
            ["User", id, "Dialogs"] if ok(id) => Node::Dialogs((*id).to_owned()),
            ["Team", id, "Users"] if ok(id) => Node::TeamUsers((*id).to_owned()),
            ["Dialog", id] if ok(id) => Node::Dialog((*id).to_owned()),
            _ => other(),
        }
    }

    /// The agent this node belongs to (`User` and `Dialogs` nodes).
    pub fn agent_id(&self) -> Option<&str> {
        match self {
            Node::User(id) | Node::Dialogs(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::User(id) => write!(f, "{PREFIX}User/{id}"),
            Node::Dialogs(id) => write!(f, "{PREFIX}User/{id}/Dialogs"),
            Node::TeamUsers(id) => write!(f, "{PREFIX}Team/{id}/Users"),
            Node::SystemInfo => write!(f, "{PREFIX}SystemInfo"),
            Node::Dialog(id) => write!(f, "{PREFIX}Dialog/{id}"),
            Node::Other(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for n in [
            Node::User("1001001".into()),
            Node::Dialogs("1001001".into()),
            Node::TeamUsers("5000".into()),
            Node::SystemInfo,
            Node::Dialog("16786700".into()),
        ] {
            assert_eq!(Node::parse(&n.to_string()), n);
        }
        assert_eq!(
            Node::parse("/finesse/api/User//Dialogs"),
            Node::Other("/finesse/api/User//Dialogs".into())
        );
        for other in [
            "/finesse/api/User/1/Dialogs/x",
            "/finesse/api/User/1/Dialogs/x/y/z",
            "/finesse/api/Dialog/5/",
            "/finesse/api/",
            "/finesse/api/SystemInfo/x",
        ] {
            assert_eq!(Node::parse(other), Node::Other(other.into()), "{other}");
        }
        assert_eq!(Node::Dialogs("7".into()).agent_id(), Some("7"));
    }
}
