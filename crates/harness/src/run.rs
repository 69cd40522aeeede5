//! `switchboard run` against a [`FinesseEnv`]: the `[finesse]` section of
//! its configuration file.

use crate::finesse::FinesseEnv;

impl FinesseEnv {
    /// The `[finesse]` section that points `switchboard run` at this
    /// environment: the simulator's REST, this Prosody over plain XMPP,
    /// explicit subscriptions, reconnects within 100-500 ms.
    pub fn run_config(&self) -> String {
        format!(
            r#"[finesse]
primary = "{rest}"
xmpp_port = {xmpp}
xmpp_tls = "plain"
xmpp_domain = "{domain}"
pubsub = "{pubsub}"
explicit_subscribe = true
reconnect_min = "100ms"
reconnect_max = "500ms"
"#,
            rest = self.rest_url(),
            xmpp = self.prosody.port(),
            domain = self.prosody.domain(),
            pubsub = self.prosody.pubsub_jid(),
        )
    }
}
