//! Team: a supervisor's view of a team and its agents (`GET /finesse/api/Team/{id}`).

use crate::Error;
use crate::user::User;
use crate::xml::XmlReader;
use crate::xml::XmlWriter;

/// A team with the summary of each member (id, names, state, reason, state time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Team {
    /// Team id.
    pub id: String,
    /// Team name.
    pub name: Option<String>,
    /// `/finesse/api/Team/{id}`.
    pub uri: Option<String>,
    /// The members, as User summaries.
    pub users: Vec<User>,
}

impl Team {
    /// Parses a `<Team>` document.
    pub fn from_xml(xml: &str) -> Result<Team, Error> {
        let mut r = XmlReader::new(xml);
        let root = r.root()?;
        if root.name().as_bytes() != b"team" {
            return Err(Error::UnexpectedRoot {
                expected: "<Team>",
                found: root.raw_name(),
            });
        }
        let mut t = Team::default();
        while let Some(c) = r.child(&root)? {
            match c.name().as_bytes() {
                b"id" => t.id = r.trimmed(&c)?,
                b"name" => t.name = r.opt(&c)?,
                b"uri" => t.uri = r.opt(&c)?,
                b"users" => {
                    while let Some(u) = r.child(&c)? {
                        if u.name().as_bytes() == b"user" {
                            t.users.push(User::read(&mut r, &u)?);
                        } else {
                            r.skip(&u)?;
                        }
                    }
                }
                _ => r.skip(&c)?,
            }
        }
        r.finish()?;
        if t.id.is_empty() {
            return Err(Error::Missing {
                element: "id",
                parent: "Team",
            });
        }
        Ok(t)
    }

    /// Writes the `<Team>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::with_capacity(512 + 256 * self.users.len());
        w.open("Team");
        w.leaf("id", &self.id);
        w.leaf_opt("name", self.name.as_deref());
        w.leaf_opt("uri", self.uri.as_deref());
        w.open("users");
        for u in &self.users {
            u.write(&mut w, "User");
        }
        w.close("users");
        w.close("Team");
        w.finish()
    }
}
