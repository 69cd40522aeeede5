//! The User: a Finesse agent or supervisor and its state (Finesse Developer Guide: notification
//! pages; User states).

use crate::Error;
use crate::enums::UserState;
use crate::xml::{Elem, XmlReader, XmlWriter};

/// A Finesse user as `GET /finesse/api/User/{id}` and User notifications carry it.
///
/// Team notifications (`/finesse/api/Team/{id}/Users`) carry a summary with
/// fewer fields; the same type holds both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    /// The agent id (`loginId`), the key of the user everywhere.
    pub login_id: String,
    /// The sign-in name.
    pub login_name: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// The extension the user is signed in on.
    pub extension: Option<String>,
    /// The agent state.
    pub state: UserState,
    /// A state change waiting for the current call to end.
    pub pending_state: Option<UserState>,
    /// The reason code id of NOT_READY or LOGOUT (`-1` or absent: none).
    pub reason_code_id: Option<String>,
    /// The reason code in full, when Finesse sends it.
    pub reason_code: Option<ReasonCode>,
    /// When `state` last changed.
    pub state_change_time: Option<String>,
    /// `Agent`, `Supervisor`, `Admin`.
    pub roles: Vec<String>,
    /// The team the user belongs to.
    pub team_id: Option<String>,
    /// That team's name.
    pub team_name: Option<String>,
    /// The teams a supervisor supervises.
    pub teams: Vec<TeamRef>,
    /// `/finesse/api/User/{id}`.
    pub uri: Option<String>,
    /// `/finesse/api/User/{id}/Dialogs`.
    pub dialogs: Option<String>,
}

/// A NOT_READY or LOGOUT reason code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasonCode {
    /// The reason code's id (what requests send as `reasonCodeId`).
    pub id: Option<String>,
    /// The numeric code.
    pub code: Option<String>,
    /// The label agents see.
    pub label: Option<String>,
    /// `NOT_READY` or `LOGOUT`.
    pub category: Option<String>,
    /// `/finesse/api/ReasonCode/{id}`.
    pub uri: Option<String>,
}

/// A team a supervisor supervises.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamRef {
    /// Team id.
    pub id: String,
    /// Team name.
    pub name: Option<String>,
    /// `/finesse/api/Team/{id}`.
    pub uri: Option<String>,
}

impl User {
    /// Parses a `<User>` (or `<user>`) document.
    pub fn from_xml(xml: &str) -> Result<User, Error> {
        let mut r = XmlReader::new(xml);
        let root = r.root()?;
        if root.name().as_bytes() != b"user" {
            return Err(Error::UnexpectedRoot {
                expected: "<User>",
                found: root.raw_name(),
            });
        }
        let user = User::read(&mut r, &root)?;
        r.finish()?;
        Ok(user)
    }

    /// Writes the user as a `<User>` document (the REST form).
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::with_capacity(1024);
        self.write(&mut w, "User");
        w.finish()
    }

    /// True if the user has the Supervisor role.
    pub fn is_supervisor(&self) -> bool {
        self.roles
            .iter()
            .any(|r| r.eq_ignore_ascii_case("Supervisor"))
    }

    /// The reason code id, with Finesse's `-1` ("none") read as `None`.
    pub fn reason(&self) -> Option<&str> {
        self.reason_code_id.as_deref().filter(|id| *id != "-1")
    }

    pub(crate) fn read<'a>(r: &mut XmlReader<'a>, el: &Elem<'a>) -> Result<User, Error> {
        let mut u = User::default();
        while let Some(c) = r.child(el)? {
            match c.name().as_bytes() {
                b"loginid" => u.login_id = r.trimmed(&c)?,
                b"loginname" => u.login_name = r.opt(&c)?,
                b"firstname" => u.first_name = r.opt(&c)?,
                b"lastname" => u.last_name = r.opt(&c)?,
                b"extension" => u.extension = r.opt(&c)?,
                b"state" => u.state = UserState::parse(&r.trimmed_cow(&c)?),
                b"pendingstate" => {
                    let s = r.trimmed_cow(&c)?;
                    u.pending_state = (!s.is_empty()).then(|| UserState::parse(&s));
                }
                b"reasoncodeid" => u.reason_code_id = r.opt(&c)?,
                b"reasoncode" => u.reason_code = Some(ReasonCode::read(r, &c)?),
                b"statechangetime" => u.state_change_time = r.opt(&c)?,
                b"roles" => {
                    while let Some(role) = r.child(&c)? {
                        if role.name().as_bytes() == b"role" {
                            if let Some(v) = r.opt(&role)? {
                                u.roles.push(v);
                            }
                        } else {
                            r.skip(&role)?;
                        }
                    }
                }
                b"teamid" => u.team_id = r.opt(&c)?,
                b"teamname" => u.team_name = r.opt(&c)?,
                b"teams" => {
                    while let Some(t) = r.child(&c)? {
                        if t.name().as_bytes() == b"team" {
                            if let Some(team) = TeamRef::read(r, &t)? {
                                u.teams.push(team);
                            }
                        } else {
                            r.skip(&t)?;
                        }
                    }
                }
                b"uri" => u.uri = r.opt(&c)?,
                b"dialogs" => u.dialogs = r.opt(&c)?,
                _ => r.skip(&c)?,
            }
        }
        if u.login_id.is_empty() {
            return Err(Error::Missing {
                element: "loginId",
                parent: "User",
            });
        }
        Ok(u)
    }

    pub(crate) fn write(&self, w: &mut XmlWriter, root: &str) {
        w.open(root);
        w.leaf_opt("dialogs", self.dialogs.as_deref());
        w.leaf_opt("extension", self.extension.as_deref());
        w.leaf_opt("firstName", self.first_name.as_deref());
        w.leaf_opt("lastName", self.last_name.as_deref());
        w.leaf("loginId", &self.login_id);
        w.leaf_opt("loginName", self.login_name.as_deref());
        w.open("roles");
        for role in &self.roles {
            w.leaf("role", role);
        }
        w.close("roles");
        w.leaf("state", self.state.as_str());
        w.leaf(
            "pendingState",
            self.pending_state.as_ref().map_or("", UserState::as_str),
        );
        w.leaf_opt("reasonCodeId", self.reason_code_id.as_deref());
        if let Some(rc) = &self.reason_code {
            rc.write(w);
        }
        w.leaf_opt("stateChangeTime", self.state_change_time.as_deref());
        w.leaf_opt("teamId", self.team_id.as_deref());
        w.leaf_opt("teamName", self.team_name.as_deref());
        if !self.teams.is_empty() {
            w.open("teams");
            for t in &self.teams {
                w.open("Team");
                w.leaf("id", &t.id);
                w.leaf_opt("name", t.name.as_deref());
                w.leaf_opt("uri", t.uri.as_deref());
                w.close("Team");
            }
            w.close("teams");
        }
        w.leaf_opt("uri", self.uri.as_deref());
        w.close(root);
    }
}

impl ReasonCode {
    fn read<'a>(r: &mut XmlReader<'a>, el: &Elem<'a>) -> Result<ReasonCode, Error> {
        let mut rc = ReasonCode::default();
        while let Some(c) = r.child(el)? {
            match c.name().as_bytes() {
                b"id" => rc.id = r.opt(&c)?,
                b"code" => rc.code = r.opt(&c)?,
                b"label" => rc.label = r.opt(&c)?,
                b"category" => rc.category = r.opt(&c)?,
                b"uri" => rc.uri = r.opt(&c)?,
                _ => r.skip(&c)?,
            }
        }
        Ok(rc)
    }

    fn write(&self, w: &mut XmlWriter) {
        w.open("ReasonCode");
        w.leaf_opt("category", self.category.as_deref());
        w.leaf_opt("code", self.code.as_deref());
        w.leaf_opt("id", self.id.as_deref());
        w.leaf_opt("label", self.label.as_deref());
        w.leaf_opt("uri", self.uri.as_deref());
        w.close("ReasonCode");
    }
}

impl TeamRef {
    fn read<'a>(r: &mut XmlReader<'a>, el: &Elem<'a>) -> Result<Option<TeamRef>, Error> {
        let mut t = TeamRef::default();
        while let Some(c) = r.child(el)? {
            match c.name().as_bytes() {
                b"id" => t.id = r.trimmed(&c)?,
                b"name" => t.name = r.opt(&c)?,
                b"uri" => t.uri = r.opt(&c)?,
                _ => r.skip(&c)?,
            }
        }
        Ok(if t.id.is_empty() { None } else { Some(t) })
    }
}
