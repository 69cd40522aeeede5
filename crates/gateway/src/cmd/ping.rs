//! `Broker/Session/Ping {data}` -> `Broker/Session/Pong` with the same `data`.

use serde_json::Value;
use switchboard_protocol::reply;

use super::{Conn, ReplyTo};

/// Answers a ping.
pub(crate) fn run(conn: &Conn, reply_to: &ReplyTo, data: &Value) {
    conn.send(reply::pong(data, reply_to.request_id()));
}
