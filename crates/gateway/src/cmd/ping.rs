//! `Broker/Session/Ping {data}` -> `Broker/Session/Pong` with the same `data`.

use serde_json::Value;
use switchboard_protocol::reply;

use super::{Conn, Origin};

/// Answers a ping.
pub(crate) fn run(conn: &Conn, origin: &Origin, data: &Value) {
    conn.send(reply::pong(data, origin.request_id()));
}
