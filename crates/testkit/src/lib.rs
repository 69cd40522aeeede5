//! Test helpers for Switchboard: a private Prosody per test, standing in for the Finesse
//! notification service (Openfire); a private headless Chromium per test ([`Browser`], see
//! [`browser`]) for end-to-end tests of the web pages; re-exports the XMPP client of
//! `switchboard-xmpp`.
//!
//! Used as a dev-dependency by the other crates' tests and by the Finesse simulator's
//! publisher. Not published.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use switchboard_testkit::{Prosody, ProsodyOptions, TlsMode, XmppClient, XmppConfig};
//!
//! let server = Prosody::start_async(ProsodyOptions::with_accounts([("1001001", "agentpw")])).await?;
//! let (admin, _) = XmppClient::connect(XmppConfig::new(server.addr(), server.admin_jid(), server.admin_password()).tls(TlsMode::Plain)).await?;
//! let node = "/finesse/api/User/1001001/Dialogs";
//! admin.create_node(&server.pubsub_jid(), node).await?;
//! let (agent, mut items) = XmppClient::connect(XmppConfig::new(server.addr(), server.jid("1001001"), "agentpw").tls(TlsMode::Plain)).await?;
//! agent.subscribe(&server.pubsub_jid(), node, agent.bare_jid()).await?;
//! admin.publish(&server.pubsub_jid(), node, "item-1", "<Update>...</Update>").await?;
//! let item = items.recv().await;
//! # Ok(()) }
//! ```

pub mod browser;
pub mod prosody;

pub use browser::{Browser, BrowserError, BrowserOptions};
pub use prosody::{Prosody, ProsodyOptions, TestkitError};
// The XMPP client lives in `switchboard-xmpp`; tests reach it from here too.
pub use switchboard_xmpp as xmpp;
pub use switchboard_xmpp::{IqKind, ReceivedItem, TlsMode, XmppClient, XmppConfig, XmppError};
