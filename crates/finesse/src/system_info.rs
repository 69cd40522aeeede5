//! SystemInfo: whether Finesse is in service, and where its nodes and XMPP
//! domains are (Finesse Developer Guide: SystemInfo).

use crate::Error;
use crate::enums::SystemStatus;
use crate::xml::{Elem, XmlReader, XmlWriter};

/// `GET /finesse/api/SystemInfo` and the SystemInfo notification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemInfo {
    /// IN_SERVICE, OUT_OF_SERVICE, PARTIAL_SERVICE.
    pub status: SystemStatus,
    /// Why the status is what it is.
    pub status_reason: Option<String>,
    /// The XMPP domain of user JIDs.
    pub xmpp_domain: Option<String>,
    /// The pubsub service (`pubsub.<xmppDomain>`).
    pub xmpp_pub_sub_domain: Option<String>,
    /// UCCE or UCCX.
    pub deployment_type: Option<String>,
    /// Server time (GMT).
    pub current_timestamp: Option<String>,
    /// Minutes from GMT.
    pub timezone_offset: Option<String>,
    /// NON_SSO, SSO, HYBRID.
    pub system_auth_mode: Option<String>,
    /// The primary (side A) Finesse node.
    pub primary_node: Option<FinesseNode>,
    /// The secondary (side B) Finesse node; absent on a single-node deployment.
    pub secondary_node: Option<FinesseNode>,
    /// `/finesse/api/SystemInfo`.
    pub uri: Option<String>,
}

/// One Finesse server of the pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FinesseNode {
    /// Host name.
    pub host: String,
    /// REST port.
    pub https_port: Option<String>,
    /// XMPP port (plain).
    pub xmpp_port: Option<String>,
    /// XMPP port (TLS).
    pub xmpp_secure_port: Option<String>,
}

impl SystemInfo {
    /// Parses a `<SystemInfo>` document.
    pub fn from_xml(xml: &str) -> Result<SystemInfo, Error> {
        let mut r = XmlReader::new(xml);
        let root = r.root()?;
        if root.name().as_bytes() != b"systeminfo" {
            return Err(Error::UnexpectedRoot {
                expected: "<SystemInfo>",
                found: root.raw_name(),
            });
        }
        let info = SystemInfo::read(&mut r, &root)?;
        r.finish()?;
        Ok(info)
    }

    /// The node of the pair this SystemInfo describes: 0 for the primary
    /// (side A), 1 for the secondary (side B), and its host name. Finesse
    /// names a node's XMPP domain after the node's host, so the node is the
    /// one whose `host` equals `xmppDomain` (finesse.js reads it the same way
    /// to find the alternate host). `None` when `xmppDomain` names neither
    /// node (absent, or one domain for both): the content does not say.
    pub fn describes(&self) -> Option<(usize, &str)> {
        let domain = self.xmpp_domain.as_deref()?;
        [&self.primary_node, &self.secondary_node]
            .into_iter()
            .enumerate()
            .find_map(|(i, n)| {
                n.as_ref()
                    .filter(|n| n.host.eq_ignore_ascii_case(domain))
                    .map(|n| (i, n.host.as_str()))
            })
    }

    /// The XMPP domain and pubsub service of node `node` of the pair (0 the
    /// primary, 1 the secondary) as this SystemInfo, read from either node,
    /// tells them. When it names its node's domain after the node's host
    /// ([`describes`](Self::describes)), each node has its own: the other
    /// node's is its host, with `pubsub.<host>`. Otherwise both share the
    /// one it gives. `None` without `xmppDomain`, or for a node it does not list.
    pub fn xmpp_domain_of(&self, node: usize) -> Option<(String, String)> {
        let domain = self.xmpp_domain.as_deref()?;
        let own = || {
            let pubsub = self
                .xmpp_pub_sub_domain
                .clone()
                .unwrap_or_else(|| format!("pubsub.{domain}"));
            (domain.to_owned(), pubsub)
        };
        match self.describes() {
            Some((me, _)) if me != node => {
                let host = &[&self.primary_node, &self.secondary_node]
                    .get(node)?
                    .as_ref()?
                    .host;
                Some((host.clone(), format!("pubsub.{host}")))
            }
            _ => Some(own()),
        }
    }

    /// Writes the `<SystemInfo>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::with_capacity(512);
        self.write(&mut w, "SystemInfo");
        w.finish()
    }

    pub(crate) fn read<'a>(r: &mut XmlReader<'a>, el: &Elem<'a>) -> Result<SystemInfo, Error> {
        let mut s = SystemInfo::default();
        while let Some(c) = r.child(el)? {
            match c.name().as_bytes() {
                b"status" => s.status = SystemStatus::parse(&r.trimmed_cow(&c)?),
                b"statusreason" => s.status_reason = r.opt(&c)?,
                b"xmppdomain" => s.xmpp_domain = r.opt(&c)?,
                b"xmpppubsubdomain" => s.xmpp_pub_sub_domain = r.opt(&c)?,
                b"deploymenttype" => s.deployment_type = r.opt(&c)?,
                b"currenttimestamp" => s.current_timestamp = r.opt(&c)?,
                b"timezoneoffset" => s.timezone_offset = r.opt(&c)?,
                b"systemauthmode" => s.system_auth_mode = r.opt(&c)?,
                b"primarynode" => s.primary_node = FinesseNode::read(r, &c)?,
                b"secondarynode" => s.secondary_node = FinesseNode::read(r, &c)?,
                b"uri" => s.uri = r.opt(&c)?,
                _ => r.skip(&c)?,
            }
        }
        Ok(s)
    }

    pub(crate) fn write(&self, w: &mut XmlWriter, root: &str) {
        w.open(root);
        w.leaf_opt("currentTimestamp", self.current_timestamp.as_deref());
        w.leaf_opt("deploymentType", self.deployment_type.as_deref());
        if let Some(n) = &self.primary_node {
            n.write(w, "primaryNode");
        }
        if let Some(n) = &self.secondary_node {
            n.write(w, "secondaryNode");
        }
        w.leaf("status", self.status.as_str());
        w.leaf_opt("statusReason", self.status_reason.as_deref());
        w.leaf_opt("systemAuthMode", self.system_auth_mode.as_deref());
        w.leaf_opt("timezoneOffset", self.timezone_offset.as_deref());
        w.leaf_opt("uri", self.uri.as_deref());
        w.leaf_opt("xmppDomain", self.xmpp_domain.as_deref());
        w.leaf_opt("xmppPubSubDomain", self.xmpp_pub_sub_domain.as_deref());
        w.close(root);
    }
}

impl FinesseNode {
    fn read<'a>(r: &mut XmlReader<'a>, el: &Elem<'a>) -> Result<Option<FinesseNode>, Error> {
        let mut n = FinesseNode::default();
        while let Some(c) = r.child(el)? {
            match c.name().as_bytes() {
                b"host" => n.host = r.trimmed(&c)?,
                b"httpsport" => n.https_port = r.opt(&c)?,
                b"xmppport" => n.xmpp_port = r.opt(&c)?,
                b"xmppsecureport" => n.xmpp_secure_port = r.opt(&c)?,
                _ => r.skip(&c)?,
            }
        }
        Ok(if n.host.is_empty() { None } else { Some(n) })
    }

    fn write(&self, w: &mut XmlWriter, root: &str) {
        w.open(root);
        w.leaf("host", &self.host);
        w.leaf_opt("httpsPort", self.https_port.as_deref());
        w.leaf_opt("xmppPort", self.xmpp_port.as_deref());
        w.leaf_opt("xmppSecurePort", self.xmpp_secure_port.as_deref());
        w.close(root);
    }
}
