//! Subscription topics (docs/protocol.md section 4): `agent/<id>`, `team/<id>`, `dialog/<id>`,
//! `queue/<id>` and `all`, their parser and their canonical text form, which is also the name
//! of the event stream a topic delivers (`stream` in server events, keys of `since`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest id a topic may carry, in characters.
pub const MAX_TOPIC_ID_LEN: usize = 64;

/// How much of a refused topic an error message repeats, in characters.
const MAX_ECHO_LEN: usize = 80;

/// A subscription topic. Its text form is the lower-case kind, a slash and the id, or `all`;
/// it serializes as that text.
///
/// Parsing accepts the kind in any case (`Agent/1001001`) and surrounding whitespace; the id
/// must be 1 to 64 characters of `A-Z a-z 0-9 . _ -` and keeps its case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// `agent/<id>`: one agent's state and calls (id: the Finesse user id).
    Agent(String),
    /// `team/<id>`: every agent of a team (id: the Finesse team id).
    Team(String),
    /// `dialog/<id>`: one dialog (id: the Finesse dialog id, the `CallID` of commands).
    Dialog(String),
    /// `queue/<id>`: one queue's statistics.
    Queue(String),
    /// `all`: everything (administrators only).
    All,
}

impl Topic {
    /// The kind: `agent`, `team`, `dialog`, `queue` or `all`.
    pub fn kind(&self) -> &'static str {
        match self {
            Topic::Agent(_) => "agent",
            Topic::Team(_) => "team",
            Topic::Dialog(_) => "dialog",
            Topic::Queue(_) => "queue",
            Topic::All => "all",
        }
    }

    /// The id after the slash; `None` for [`Topic::All`].
    pub fn id(&self) -> Option<&str> {
        match self {
            Topic::Agent(id) | Topic::Team(id) | Topic::Dialog(id) | Topic::Queue(id) => Some(id),
            Topic::All => None,
        }
    }

    /// True when the topic's text parses back to this topic: its id is 1 to 64 characters of
    /// `A-Z a-z 0-9 . _ -` (always true for [`Topic::All`]). A topic built from an id found
    /// elsewhere (a Finesse id) may not be; such a topic has no stream.
    pub fn is_valid(&self) -> bool {
        self.id().is_none_or(|id| valid_id(id).is_ok())
    }
}

/// Checks a topic id: not empty, at most 64 characters, only `A-Z a-z 0-9 . _ -`.
/// On failure, the length in characters when that is what is wrong.
fn valid_id(id: &str) -> Result<(), IdProblem> {
    if id.is_empty() {
        return Err(IdProblem::Empty);
    }
    let len = id.chars().count();
    if len > MAX_TOPIC_ID_LEN {
        return Err(IdProblem::TooLong(len));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(IdProblem::Invalid);
    }
    Ok(())
}

/// What [`valid_id`] found wrong.
enum IdProblem {
    Empty,
    TooLong(usize),
    Invalid,
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id() {
            Some(id) => write!(f, "{}/{}", self.kind(), id),
            None => f.write_str("all"),
        }
    }
}

impl FromStr for Topic {
    type Err = TopicError;

    fn from_str(text: &str) -> Result<Topic, TopicError> {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("all") {
            return Ok(Topic::All);
        }
        let Some((kind, id)) = trimmed.split_once('/') else {
            return Err(TopicError::UnknownKind { topic: echo(text) });
        };
        let make: fn(String) -> Topic = match kind.to_ascii_lowercase().as_str() {
            "agent" => Topic::Agent,
            "team" => Topic::Team,
            "dialog" => Topic::Dialog,
            "queue" => Topic::Queue,
            _ => {
                return Err(TopicError::UnknownKind { topic: echo(text) });
            }
        };
        match valid_id(id) {
            Ok(()) => Ok(make(id.to_owned())),
            Err(IdProblem::Empty) => Err(TopicError::EmptyId { topic: echo(text) }),
            Err(IdProblem::TooLong(len)) => Err(TopicError::IdTooLong {
                topic: echo(text),
                len,
            }),
            Err(IdProblem::Invalid) => Err(TopicError::InvalidId { topic: echo(text) }),
        }
    }
}

impl Serialize for Topic {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Topic {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Topic, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The text of a refused topic as repeated in an error message: cut to 80 characters.
fn echo(text: &str) -> String {
    if text.chars().count() <= MAX_ECHO_LEN {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(MAX_ECHO_LEN).collect();
        cut.push('…');
        cut
    }
}

/// Why a topic was refused. Each message names the topic (cut to 80 characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Not `all` and not one of the kinds `agent`, `team`, `dialog`, `queue` followed by `/`.
    #[error(
        "unknown topic \"{topic}\": expected agent/<id>, team/<id>, dialog/<id>, queue/<id> or all"
    )]
    UnknownKind {
        /// The topic as sent.
        topic: String,
    },
    /// Nothing after the slash.
    #[error("topic \"{topic}\" has no id after the slash")]
    EmptyId {
        /// The topic as sent.
        topic: String,
    },
    /// The id is longer than 64 characters.
    #[error("the id of topic \"{topic}\" is {len} characters long; at most 64 are allowed")]
    IdTooLong {
        /// The topic as sent.
        topic: String,
        /// The id's length in characters.
        len: usize,
    },
    /// The id has characters other than letters, digits, `.`, `_` and `-`.
    #[error("the id of topic \"{topic}\" may hold only letters, digits, '.', '_' and '-'")]
    InvalidId {
        /// The topic as sent.
        topic: String,
    },
    /// The entry of `topics` is not a string at all.
    #[error("topic {topic} is not a string")]
    NotAString {
        /// The entry as JSON text.
        topic: String,
    },
}

impl TopicError {
    /// A [`TopicError::NotAString`] for a JSON entry of `topics`.
    pub(crate) fn not_a_string(json: &str) -> TopicError {
        TopicError::NotAString { topic: echo(json) }
    }
}

#[cfg(test)]
mod tests {
    use super::Topic;
    use proptest::prelude::*;

    /// `is_valid` is exactly "the text parses back to the same topic".
    fn round_trips(t: &Topic) -> bool {
        t.to_string().parse::<Topic>().as_ref() == Ok(t)
    }

    #[test]
    fn is_valid_is_the_round_trip() {
        let long = "a".repeat(64);
        let too_long = "a".repeat(65);
        let ids = [
            "1001001", "a.b_c-D", "", " ", "a b", "a/b", "é", "x\u{0}", &long, &too_long, "all",
        ];
        for id in ids {
            for t in [
                Topic::Agent(id.into()),
                Topic::Team(id.into()),
                Topic::Dialog(id.into()),
                Topic::Queue(id.into()),
            ] {
                assert_eq!(t.is_valid(), round_trips(&t), "{t:?}");
            }
        }
        assert!(Topic::All.is_valid());
    }

    proptest! {
        #[test]
        fn is_valid_matches_the_parser(id in ".{0,70}") {
            let t = Topic::Dialog(id);
            prop_assert_eq!(t.is_valid(), round_trips(&t));
        }
    }
}
