//! A command's `data` read field by field ([`Data`]: names matched
//! case-insensitively, an empty string counting as absent, ids as their
//! decimal text, each problem a [`FrameError`] naming the field and the frame)
//! and the checks of each field's value (`check_*`: lengths, characters,
//! formats).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::{
    MAX_ADDRESS_LEN, MAX_CALL_ID_LEN, MAX_CALL_VARIABLES, MAX_DTMF_LEN, MAX_REASON_CODE_ID_LEN,
    MAX_TEXT_LEN, MAX_VARIABLE_NAME_LEN, MAX_VARIABLE_VALUE_LEN, Secret, StreamPosition,
};
use crate::frame::{Frame, FrameError, map_get_ci};
use crate::topic::{Topic, TopicError};

/// Entries of `topics` that did not parse, with the reason.
type Rejected = Vec<(String, TopicError)>;

/// The fields of a command's `data`, with the frame's name for error messages.
pub(super) struct Data<'a> {
    map: Cow<'a, Map<String, Value>>,
    location: String,
}

impl<'a> Data<'a> {
    /// The `data` of `frame` as an object. `null`, an absent `data` and an empty string are
    /// an empty object; a string holding a JSON object (double-encoded `data`) is that
    /// object; anything else is refused.
    pub(super) fn of(frame: &'a Frame) -> Result<Data<'a>, FrameError> {
        let location = format!(
            "data of {}/{}/{}",
            frame.channel, frame.topic, frame.subtopic
        );
        let map = match &frame.data {
            Value::Object(map) => Cow::Borrowed(map),
            Value::Null => Cow::Owned(Map::new()),
            Value::String(s) if s.trim().is_empty() => Cow::Owned(Map::new()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(map)) => Cow::Owned(map),
                _ => return Err(data_not_an_object(frame)),
            },
            _ => return Err(data_not_an_object(frame)),
        };
        Ok(Data { map, location })
    }

    /// The value of `key` (case-insensitive, trimmed); `null` counts as absent.
    pub(super) fn get(&self, key: &str) -> Option<&Value> {
        map_get_ci(&self.map, key).filter(|v| !v.is_null())
    }

    pub(super) fn missing(&self, field: &'static str) -> FrameError {
        FrameError::MissingField {
            field,
            location: self.location.clone(),
        }
    }

    fn wrong_type(&self, field: &'static str, expected: &'static str) -> FrameError {
        FrameError::WrongType {
            field,
            expected,
            location: self.location.clone(),
        }
    }

    fn invalid(&self, field: &'static str, reason: impl Into<String>) -> FrameError {
        FrameError::InvalidField {
            field,
            reason: reason.into(),
            location: self.location.clone(),
        }
    }

    /// A text field: a string (trimmed) or a number (its decimal text); `None` if absent.
    pub(super) fn text(&self, field: &'static str) -> Result<Option<String>, FrameError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(self.wrong_type(field, "a string")),
        }
    }

    /// Runs `check` on a field's value.
    pub(super) fn checked(
        &self,
        field: &'static str,
        value: String,
        check: fn(&str) -> Result<(), String>,
    ) -> Result<String, FrameError> {
        match check(&value) {
            Ok(()) => Ok(value),
            Err(reason) => Err(self.invalid(field, reason)),
        }
    }

    /// A required, non-empty text field that passes `check`.
    pub(super) fn required_checked(
        &self,
        field: &'static str,
        check: fn(&str) -> Result<(), String>,
    ) -> Result<String, FrameError> {
        match self.text(field)? {
            None => Err(self.missing(field)),
            Some(value) if value.is_empty() => Err(self.invalid(field, "must not be empty")),
            Some(value) => self.checked(field, value, check),
        }
    }

    /// An optional text field that passes `check` when present; empty counts as absent.
    pub(super) fn optional_checked(
        &self,
        field: &'static str,
        check: fn(&str) -> Result<(), String>,
    ) -> Result<Option<String>, FrameError> {
        match self.text(field)? {
            None => Ok(None),
            Some(value) if value.is_empty() => Ok(None),
            Some(value) => self.checked(field, value, check).map(Some),
        }
    }

    /// `ReasonCodeId`, optional.
    pub(super) fn reason_code_id(&self) -> Result<Option<String>, FrameError> {
        self.optional_checked("ReasonCodeId", check_reason_code_id)
    }

    /// A secret (password or token): taken as sent, not trimmed; never echoed in errors.
    pub(super) fn secret(&self, field: &'static str, max: usize) -> Result<Secret, FrameError> {
        let text = match self.get(field) {
            None => return Err(self.missing(field)),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return Err(self.wrong_type(field, "a string")),
        };
        if text.trim().is_empty() {
            return Err(self.invalid(field, "must not be empty"));
        }
        if text.chars().count() > max {
            return Err(self.invalid(field, format!("is longer than {max} characters")));
        }
        Ok(Secret(text))
    }

    /// `topics`: an array of strings (a single string is taken as a one-topic list). Entries
    /// that are not valid topics are returned apart, with the reason.
    pub(super) fn topics(&self) -> Result<(Vec<Topic>, Rejected), FrameError> {
        let items: Vec<&Value> = match self.get("topics") {
            None => return Err(self.missing("topics")),
            Some(Value::Array(items)) => items.iter().collect(),
            Some(item @ Value::String(_)) => vec![item],
            Some(_) => return Err(self.wrong_type("topics", "an array of strings")),
        };
        let mut seen = BTreeSet::new();
        let mut topics = Vec::new();
        let mut rejected = Vec::new();
        for item in items {
            match item {
                Value::String(text) => match text.parse::<Topic>() {
                    Ok(topic) => {
                        if seen.insert(topic.clone()) {
                            topics.push(topic);
                        }
                    }
                    Err(error) => rejected.push((text.clone(), error)),
                },
                other => {
                    let text = other.to_string();
                    let error = TopicError::not_a_string(&text);
                    rejected.push((text, error));
                }
            }
        }
        Ok((topics, rejected))
    }

    /// `since`: `{topic: {offset, epoch}}`, keyed by canonical topic text. Keys that are not
    /// valid topics are dropped (such a topic is reported through `topics`); a malformed
    /// position refuses the command.
    pub(super) fn since(&self) -> Result<BTreeMap<String, StreamPosition>, FrameError> {
        let map = match self.get("since") {
            None => return Ok(BTreeMap::new()),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(self.wrong_type("since", "an object of topic: {offset, epoch}"));
            }
        };
        let mut since = BTreeMap::new();
        for (key, value) in map {
            let Ok(topic) = key.parse::<Topic>() else {
                continue;
            };
            let topic = topic.to_string();
            let Some(position) = stream_position(value) else {
                return Err(self.invalid(
                    "since",
                    format!(
                        "the position for \"{topic}\" must be {{\"offset\": <integer >= 0>, \
                         \"epoch\": <string of at most {MAX_TEXT_LEN} characters>}}"
                    ),
                ));
            };
            since.insert(topic, position);
        }
        Ok(since)
    }

    /// `callVariables`: `{name: value}` with string or number values, at most 40.
    pub(super) fn call_variables(
        &self,
        value: &Value,
    ) -> Result<Vec<(String, String)>, FrameError> {
        const FIELD: &str = "callVariables";
        let Value::Object(map) = value else {
            return Err(self.wrong_type(FIELD, "an object of name: value pairs"));
        };
        if map.len() > MAX_CALL_VARIABLES {
            return Err(self.invalid(
                FIELD,
                format!(
                    "has {} entries; at most {MAX_CALL_VARIABLES} are allowed",
                    map.len()
                ),
            ));
        }
        let mut variables = Vec::with_capacity(map.len());
        for (name, value) in map {
            let name = name.trim();
            if let Err(reason) = check_variable_name(name) {
                return Err(
                    self.invalid(FIELD, format!("variable name \"{}\" {reason}", clip(name)))
                );
            }
            let value = match value {
                Value::String(s) => s.trim().to_owned(),
                Value::Number(n) => n.to_string(),
                _ => {
                    return Err(self.invalid(
                        FIELD,
                        format!("the value of \"{name}\" must be a string or a number"),
                    ));
                }
            };
            if let Err(reason) = check_variable_value(&value) {
                return Err(self.invalid(FIELD, format!("the value of \"{name}\" {reason}")));
            }
            variables.push((name.to_owned(), value));
        }
        Ok(variables)
    }
}

/// A [`FrameError::WrongType`] for a `data` that is not an object.
fn data_not_an_object(frame: &Frame) -> FrameError {
    FrameError::WrongType {
        field: "data",
        expected: "an object",
        location: format!("frame {}/{}/{}", frame.channel, frame.topic, frame.subtopic),
    }
}

/// One `{offset, epoch}` of `since`; `offset` may also be a string of digits, `epoch` a
/// number.
fn stream_position(value: &Value) -> Option<StreamPosition> {
    let map = value.as_object()?;
    let offset = match map_get_ci(map, "offset")? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    let epoch = match map_get_ci(map, "epoch")? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    check_text(&epoch).ok()?;
    Some(StreamPosition { offset, epoch })
}

/// `text` cut to 64 characters, for error messages.
pub(super) fn clip(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(MAX).collect();
        cut.push('…');
        cut
    }
}

/// Counts characters, refusing more than `max`.
fn check_len(value: &str, max: usize) -> Result<(), String> {
    let len = value.chars().count();
    if len > max {
        Err(format!(
            "is {len} characters long; at most {max} are allowed"
        ))
    } else {
        Ok(())
    }
}

/// A dialog id: letters, digits, `-`, `_`; at most 64.
pub(super) fn check_call_id(value: &str) -> Result<(), String> {
    check_len(value, MAX_CALL_ID_LEN)?;
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        Ok(())
    } else {
        Err("may hold only letters, digits, '-' and '_'".to_owned())
    }
}

/// A reason code id: letters, digits, `-`, `_`; at most 32.
fn check_reason_code_id(value: &str) -> Result<(), String> {
    check_len(value, MAX_REASON_CODE_ID_LEN)?;
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        Ok(())
    } else {
        Err("may hold only letters, digits, '-' and '_'".to_owned())
    }
}

/// An address (phone number, extension, SIP user): printable ASCII, at most 64.
pub(super) fn check_address(value: &str) -> Result<(), String> {
    check_len(value, MAX_ADDRESS_LEN)?;
    if value.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        Ok(())
    } else {
        Err("may hold only printable ASCII characters".to_owned())
    }
}

/// A user name: no control characters, at most 128.
pub(super) fn check_user_name(value: &str) -> Result<(), String> {
    check_text(value)
}

/// Free text: no control characters, at most 128.
pub(super) fn check_text(value: &str) -> Result<(), String> {
    check_len(value, MAX_TEXT_LEN)?;
    if value.chars().any(char::is_control) {
        Err("must not contain control characters".to_owned())
    } else {
        Ok(())
    }
}

/// DTMF digits: 1 to 32 of `0-9 * # A-D` (any case).
pub(super) fn check_dtmf(value: &str) -> Result<(), String> {
    check_len(value, MAX_DTMF_LEN)?;
    if value
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c.to_ascii_uppercase(), '*' | '#' | 'A'..='D'))
    {
        Ok(())
    } else {
        Err("may hold only 0-9, *, # and A-D".to_owned())
    }
}

/// A call variable name: 1 to 64 letters, digits, `.`, `_`, `-`.
pub(super) fn check_variable_name(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".to_owned());
    }
    check_len(value, MAX_VARIABLE_NAME_LEN)?;
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        Ok(())
    } else {
        Err("may hold only letters, digits, '.', '_' and '-'".to_owned())
    }
}

/// A call variable value: no control characters, at most 1024.
pub(super) fn check_variable_value(value: &str) -> Result<(), String> {
    check_len(value, MAX_VARIABLE_VALUE_LEN)?;
    if value.chars().any(char::is_control) {
        Err("must not contain control characters".to_owned())
    } else {
        Ok(())
    }
}

/// `callbackTime`: exactly `YYYY-MM-DDTHH:MM`, a real calendar date, hour 00-23, minute
/// 00-59; no seconds and no zone.
pub(super) fn check_callback_time(value: &str) -> Result<(), String> {
    const SHAPE: &str =
        "must be YYYY-MM-DDTHH:MM (no seconds, no time zone), e.g. 2026-03-07T14:30";
    let bytes = value.as_bytes();
    let shape_ok = bytes.len() == 16
        && bytes.iter().enumerate().all(|(i, &b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 => b == b':',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(SHAPE.to_owned());
    }
    let number = |from: usize, to: usize| -> u32 {
        bytes
            .iter()
            .skip(from)
            .take(to - from)
            .fold(0, |n, &b| n * 10 + u32::from(b - b'0'))
    };
    let (year, month, day) = (number(0, 4), number(5, 7), number(8, 10));
    let (hour, minute) = (number(11, 13), number(14, 16));
    if !(1..=12).contains(&month) {
        return Err(format!("month {month:02} does not exist ({SHAPE})"));
    }
    let days = days_in_month(year, month);
    if day == 0 || day > days {
        return Err(format!(
            "day {day:02} does not exist in {year:04}-{month:02} ({SHAPE})"
        ));
    }
    if hour > 23 {
        return Err(format!("hour {hour:02} is not 00-23 ({SHAPE})"));
    }
    if minute > 59 {
        return Err(format!("minute {minute:02} is not 00-59 ({SHAPE})"));
    }
    Ok(())
}

/// Days in a month of the Gregorian calendar.
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_time_accepts_real_times() {
        for good in [
            "2026-03-07T14:30",
            "2026-12-31T23:59",
            "2026-01-01T00:00",
            "2024-02-29T10:00",
            "2000-02-29T10:00",
        ] {
            assert_eq!(check_callback_time(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn callback_time_refuses_bad_times() {
        for bad in [
            "2026-13-01T10:00",
            "2026-00-01T10:00",
            "2026-02-30T10:00",
            "2026-02-29T10:00",
            "1900-02-29T10:00",
            "2026-04-31T10:00",
            "2026-01-00T10:00",
            "2026-01-01T24:00",
            "2026-01-01T10:60",
            "2026-01-01T10:00:00",
            "2026-01-01T10:00Z",
            "2026-01-01T10:00+01:00",
            "2026-01-01 10:00",
            "2026-1-01T10:00",
            "26-01-01T10:00",
            "",
            "２０２６-01-01T10:00",
        ] {
            assert!(check_callback_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dtmf_rules() {
        assert!(check_dtmf("0123456789*#ABCDabcd").is_ok());
        assert!(check_dtmf("12E").is_err());
        assert!(check_dtmf(&"1".repeat(33)).is_err());
        assert!(check_dtmf(&"1".repeat(32)).is_ok());
    }
}
