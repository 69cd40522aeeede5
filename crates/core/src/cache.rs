//! The state cache: the current Finesse state as Switchboard knows it, the
//! truth for snapshots (docs/ARCHITECTURE.md, stage 3).
//!
//! It owns the dialogs by id (one entry per dialog, however many agents see
//! it: a consult, a conference, a monitored call), the list of dialogs of each
//! agent, each agent's Finesse user (state, extension, team), and the last
//! SystemInfo of each node. [`StateCache::apply`] takes one notification as
//! received on one agent's session and returns the [`Change`]s it made;
//! [`StateCache::reconcile`] does the same from a REST resync (after a
//! reconnect, when notifications may have been missed), and
//! [`StateCache::apply_queued`] applies the notifications that waited while a
//! resync ran without letting an older one bring back a dialog the resync
//! removed. A SystemInfo change is made once per node and status, however
//! many sessions receive it ([`StateCache::apply_system`]). Notifications of one agent must be applied in arrival
//! order, which the session that receives them guarantees by applying them one
//! at a time; different agents' sessions may apply concurrently.
//!
//! Memory is bounded: a dialog leaves the cache when the last agent's list
//! loses it (Dialogs DELETE or resync); a dialog that ended (DROPPED, FAILED)
//! but whose DELETE never came is removed by [`StateCache::purge`] after the
//! configured retention.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use switchboard_finesse::{
    ApiError, Dialog, DialogState, Node, Notification, SystemInfo, SystemStatus, Team, UpdateData,
    UpdateEvent, User,
};

use crate::event::EventSource;

/// Settings of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long an ended dialog (DROPPED or FAILED) whose DELETE never came
    /// stays in the cache.
    pub ended_dialog_retention: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ended_dialog_retention: Duration::from_secs(300),
        }
    }
}

/// What happened to a dialog in one agent's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogChange {
    /// Added to the agent's list (Dialogs POST, or found by resync).
    Added,
    /// Changed (Dialog PUT, or found changed by resync).
    Updated,
    /// Removed from the agent's list (Dialogs DELETE, or gone at resync).
    Removed,
}

/// One change the cache made.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A dialog changed as seen by `user_id`.
    Dialog {
        /// The Finesse user id of the agent whose list it is.
        user_id: String,
        /// The dialog after the change (before it, for `Removed`).
        dialog: Arc<Dialog>,
        /// What happened.
        change: DialogChange,
        /// Finesse's requestId of the request that caused it.
        request_id: Option<String>,
        /// Why the event is sent: a live notification (`Event`) or a resync.
        source: EventSource,
    },
    /// An agent's user (state, reason, pending state...) changed.
    Agent {
        /// The user after the change.
        user: Arc<User>,
        /// True when Finesse deleted the user.
        deleted: bool,
        /// Finesse's requestId.
        request_id: Option<String>,
        /// Why the event is sent: a live notification (`Event`) or a resync.
        source: EventSource,
    },
    /// A CTI error for one of the agent's requests (no state change).
    ApiError {
        /// The Finesse user id of the agent whose session received it.
        user_id: String,
        /// The dialog it is about, if any.
        dialog_id: Option<String>,
        /// The error.
        error: ApiError,
        /// Finesse's requestId of the failed request.
        request_id: Option<String>,
    },
    /// Finesse in or out of service.
    System {
        /// The new SystemInfo.
        info: Arc<SystemInfo>,
    },
}

#[derive(Debug, Clone)]
struct DialogEntry {
    dialog: Arc<Dialog>,
    /// When the dialog was first seen ended (DROPPED/FAILED).
    ended_at: Option<Instant>,
    /// The agents whose list holds the dialog (one to three: the agent, a
    /// consult or conference party, a supervisor): the entry goes when the
    /// last one lets go, without a look through every agent's list.
    holders: Vec<String>,
}

/// A snapshot of one agent: its user and its dialogs.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSnapshot {
    /// The agent's Finesse user, if known.
    pub user: Option<Arc<User>>,
    /// The dialogs in the agent's list, by id.
    pub dialogs: Vec<Arc<Dialog>>,
}

/// The cache. Share it with `Arc`.
#[derive(Debug, Default)]
pub struct StateCache {
    config: CacheConfig,
    dialogs: DashMap<String, DialogEntry>,
    agent_dialogs: DashMap<String, BTreeSet<String>>,
    agents: DashMap<String, Arc<User>>,
    system: Mutex<SystemState>,
    /// Agents whose own session feeds the cache (User node, resync): a Team
    /// node's summary of them is ignored, so two feeds of the same change
    /// (the agent's and its supervisor's) cannot interleave into stale states.
    own_feed: dashmap::DashSet<String>,
}

/// What the cache knows of Finesse's service status.
#[derive(Debug, Default)]
struct SystemState {
    /// The last SystemInfo passed on, whichever node it was about.
    last: Option<Arc<SystemInfo>>,
    /// Per node of the pair (0 primary, 1 secondary).
    nodes: BTreeMap<usize, NodeStatus>,
}

/// One Finesse node's status as last passed on.
#[derive(Debug, Default)]
struct NodeStatus {
    status: Option<(SystemStatus, Option<String>)>,
    /// The pubsub item ids of its latest SystemInfo notifications (at most
    /// [`SYSTEM_ITEMS`]): every session on the node receives the same item.
    items: VecDeque<String>,
}

/// SystemInfo item ids remembered per node.
const SYSTEM_ITEMS: usize = 16;

/// A resync's record of the dialogs it removed from one agent's list, for
/// the notifications that were queued while it ran
/// ([`StateCache::apply_queued`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ResyncFence {
    removed: BTreeSet<String>,
}

impl ResyncFence {
    /// The dialogs the resync removed.
    pub fn removed(&self) -> &BTreeSet<String> {
        &self.removed
    }
}

/// Whether two versions of a user show the same thing to clients: equal but
/// for the REST links (`uri`, `dialogs`), which a User notification and a REST
/// read may differ in. An update that changes nothing a client sees is no change.
fn same_view(a: &User, b: &User) -> bool {
    a.login_id == b.login_id
        && a.login_name == b.login_name
        && a.first_name == b.first_name
        && a.last_name == b.last_name
        && a.extension == b.extension
        && a.state == b.state
        && a.pending_state == b.pending_state
        && a.reason_code_id == b.reason_code_id
        && a.reason_code == b.reason_code
        && a.state_change_time == b.state_change_time
        && a.roles == b.roles
        && a.team_id == b.team_id
        && a.team_name == b.team_name
        && a.teams == b.teams
}

fn ended(d: &Dialog) -> bool {
    matches!(d.state, DialogState::Dropped | DialogState::Failed)
}

impl StateCache {
    /// An empty cache.
    pub fn new(config: CacheConfig) -> StateCache {
        StateCache {
            config,
            ..StateCache::default()
        }
    }

    /// Applies one notification received on `user_id`'s session and returns the
    /// changes it made, in order.
    pub fn apply(&self, user_id: &str, n: &Notification) -> Vec<Change> {
        self.apply_owned(user_id, n.clone())
    }

    /// [`apply`](Self::apply), taking the notification: its dialogs move into
    /// the cache instead of being copied.
    pub fn apply_owned(&self, user_id: &str, n: Notification) -> Vec<Change> {
        let Notification {
            node,
            update: u,
            item_id,
            ..
        } = n;
        let request_id = u.request_id;
        let delete = u.event == UpdateEvent::Delete;
        let mut out = Vec::new();
        match u.data {
            UpdateData::Dialogs(list) => {
                for d in list {
                    let change = if delete {
                        let d = Arc::new(d);
                        self.remove_from(user_id, &d.id.clone(), d)
                    } else {
                        self.upsert(user_id, d)
                    };
                    if let Some((dialog, change)) = change {
                        out.push(Change::Dialog {
                            user_id: user_id.to_owned(),
                            dialog,
                            change,
                            request_id: request_id.clone(),
                            source: EventSource::Event,
                        });
                    }
                }
            }
            UpdateData::Dialog(d) => {
                let change = if delete {
                    let d: Arc<Dialog> = Arc::new(*d);
                    self.remove_from(user_id, &d.id.clone(), d)
                } else {
                    self.upsert(user_id, *d)
                };
                if let Some((dialog, change)) = change {
                    out.push(Change::Dialog {
                        user_id: user_id.to_owned(),
                        dialog,
                        change,
                        request_id,
                        source: EventSource::Event,
                    });
                }
            }
            UpdateData::User(user) => {
                let node = Node::parse(node.as_deref().unwrap_or(&u.source));
                let summary = matches!(node, Node::TeamUsers(_)) || user.login_id != user_id;
                if summary && self.own_feed.contains(&user.login_id) {
                    return out;
                }
                // Looked up first: the id is known after the first
                // notification, and inserting it again would clone it for nothing.
                if !summary && !self.own_feed.contains(&user.login_id) {
                    self.own_feed.insert(user.login_id.clone());
                }
                let user = Arc::new(self.merge_user(user_id, &node, *user));
                if delete {
                    self.agents.remove(&user.login_id);
                } else {
                    // The same update often arrives twice: on the agent's own
                    // User node and on its supervisor's Team node.
                    // Replaced in place when known: one lookup, no new key.
                    let same = match self.agents.get_mut(&user.login_id) {
                        Some(mut known) => {
                            let same = same_view(&known, &user);
                            *known = user.clone();
                            same
                        }
                        None => {
                            self.agents.insert(user.login_id.clone(), user.clone());
                            false
                        }
                    };
                    if same {
                        return out;
                    }
                }
                out.push(Change::Agent {
                    user,
                    deleted: delete,
                    request_id,
                    source: EventSource::Event,
                });
            }
            UpdateData::ApiErrors(errors) => {
                let dialog_id = match Node::parse(&u.source) {
                    Node::Dialog(id) => Some(id),
                    _ => None,
                };
                for error in errors {
                    out.push(Change::ApiError {
                        user_id: user_id.to_owned(),
                        dialog_id: dialog_id.clone(),
                        error,
                        request_id: request_id.clone(),
                    });
                }
            }
            UpdateData::SystemInfo(info) => {
                let node = info.describes().map_or(0, |(i, _)| i);
                out.extend(self.apply_system(node, item_id.as_deref(), *info));
            }
            UpdateData::None | UpdateData::Unknown(_) => {}
        }
        out
    }

    /// Applies a SystemInfo about Finesse node `node` (0 the primary, 1 the
    /// secondary), received as pubsub item `item_id` or read from REST
    /// (`None`). Every session on a node receives the same notification: it
    /// makes one change, the first time; later copies (the same item id) and
    /// a status and reason equal to the node's last make none.
    pub fn apply_system(
        &self,
        node: usize,
        item_id: Option<&str>,
        info: SystemInfo,
    ) -> Option<Change> {
        let mut system = self
            .system
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let known = system.nodes.entry(node).or_default();
        if let Some(id) = item_id {
            if known.items.iter().any(|seen| seen == id) {
                return None;
            }
            if known.items.len() == SYSTEM_ITEMS {
                known.items.pop_front();
            }
            known.items.push_back(id.to_owned());
        }
        let status = (info.status.clone(), info.status_reason.clone());
        if known.status.as_ref() == Some(&status) {
            return None;
        }
        known.status = Some(status);
        let info = Arc::new(info);
        system.last = Some(info.clone());
        Some(Change::System { info })
    }

    /// Whether node `node`'s last status passed on was not IN_SERVICE (false
    /// when none was): a session that comes online there reads SystemInfo
    /// again, so clients learn that the node is back even when the
    /// notification saying so went to no session.
    pub fn out_of_service(&self, node: usize) -> bool {
        self.system
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .nodes
            .get(&node)
            .and_then(|n| n.status.as_ref())
            .is_some_and(|(status, _)| *status != SystemStatus::InService)
    }

    /// Applies a notification that was queued while `user_id`'s resync ran
    /// (received before the REST read answered, applied after it). The read
    /// is the newer truth for the dialogs it no longer has: a notification
    /// about a dialog the resync removed is dropped whatever it says, and so
    /// is an update (PUT) of a dialog that is not in the agent's list. A
    /// create (POST) of a dialog the resync did not remove is a new dialog
    /// and applies. Returns the changes, like [`apply_owned`](Self::apply_owned),
    /// and how many dialogs were dropped.
    pub fn apply_queued(
        &self,
        user_id: &str,
        mut n: Notification,
        fence: &ResyncFence,
    ) -> (Vec<Change>, usize) {
        let put = n.update.event == UpdateEvent::Put;
        let admits = |id: &str| {
            !fence.removed.contains(id)
                && (!put
                    || self
                        .agent_dialogs
                        .get(user_id)
                        .is_some_and(|list| list.contains(id)))
        };
        let dropped = match &mut n.update.data {
            UpdateData::Dialogs(list) => {
                let before = list.len();
                list.retain(|d| admits(&d.id));
                before - list.len()
            }
            UpdateData::Dialog(d) if !admits(&d.id) => 1,
            _ => 0,
        };
        if dropped > 0 && !matches!(&n.update.data, UpdateData::Dialogs(l) if !l.is_empty()) {
            return (Vec::new(), dropped);
        }
        (self.apply_owned(user_id, n), dropped)
    }

    /// The user to store: a User node carries the whole user; a Team node
    /// (`/finesse/api/Team/{id}/Users`) carries a summary, merged into what
    /// the cache knows so the fields it lacks (roles, team, names) stay.
    fn merge_user(&self, session: &str, node: &Node, user: User) -> User {
        let team_summary = matches!(node, Node::TeamUsers(_)) || user.login_id != session;
        if !team_summary {
            return user;
        }
        match self.agents.get(&user.login_id) {
            Some(known) => User {
                state: user.state,
                pending_state: user.pending_state,
                reason_code_id: user.reason_code_id,
                reason_code: user.reason_code,
                state_change_time: user.state_change_time,
                extension: user.extension,
                first_name: user.first_name.or_else(|| known.first_name.clone()),
                last_name: user.last_name.or_else(|| known.last_name.clone()),
                ..(**known).clone()
            },
            None => {
                let mut user = user;
                if let Node::TeamUsers(team) = node
                    && user.team_id.is_none()
                {
                    user.team_id = Some(team.clone());
                }
                user
            }
        }
    }

    /// The agent's own session stopped: Team-node summaries of it count again.
    pub fn release(&self, user_id: &str) {
        self.own_feed.remove(user_id);
    }

    /// Merges a team read from REST (`GET /finesse/api/Team/{id}`, e.g. when
    /// its supervisor signs in) into the cache: each member's state, with the
    /// team filled in; returns the members whose user changed.
    pub fn reconcile_team(&self, team: &Team) -> Vec<Change> {
        let node = Node::TeamUsers(team.id.clone());
        let mut out = Vec::new();
        for member in &team.users {
            if self.own_feed.contains(&member.login_id) {
                continue;
            }
            let mut user = self.merge_user("", &node, member.clone());
            if user.team_id.is_none() {
                user.team_id = Some(team.id.clone());
            }
            if user.team_name.is_none() {
                user.team_name = team.name.clone();
            }
            let unchanged = self
                .agents
                .get(&user.login_id)
                .is_some_and(|known| same_view(&known, &user));
            let user = Arc::new(user);
            self.agents.insert(user.login_id.clone(), user.clone());
            if unchanged {
                continue;
            }
            out.push(Change::Agent {
                user,
                deleted: false,
                request_id: None,
                source: EventSource::Resync,
            });
        }
        out
    }

    /// Inserts or replaces a dialog and puts it in `user_id`'s list; `None`
    /// when the agent already had exactly this dialog (a repeated notification,
    /// or a live update that a resync already brought).
    fn upsert(&self, user_id: &str, dialog: Dialog) -> Option<(Arc<Dialog>, DialogChange)> {
        let id = dialog.id.clone();
        let ended_now = ended(&dialog);
        let added = self
            .agent_dialogs
            .entry(user_id.to_owned())
            .or_default()
            .insert(id.clone());
        if !added && self.dialogs.get(&id).is_some_and(|e| *e.dialog == dialog) {
            return None;
        }
        let dialog = Arc::new(dialog);
        let mut entry = self.dialogs.entry(id).or_insert_with(|| DialogEntry {
            dialog: dialog.clone(),
            ended_at: None,
            holders: Vec::new(),
        });
        entry.dialog = dialog.clone();
        if !entry.holders.iter().any(|h| h == user_id) {
            entry.holders.push(user_id.to_owned());
        }
        entry.ended_at = match (ended_now, entry.ended_at) {
            (true, None) => Some(Instant::now()),
            (true, at) => at,
            (false, _) => None,
        };
        let change = if added {
            DialogChange::Added
        } else {
            DialogChange::Updated
        };
        Some((dialog, change))
    }

    /// Removes dialog `id` from `user_id`'s list; drops the entry when no list
    /// holds it any more. `None` if the agent did not have it.
    fn remove_from(
        &self,
        user_id: &str,
        id: &str,
        last: Arc<Dialog>,
    ) -> Option<(Arc<Dialog>, DialogChange)> {
        let removed = self
            .agent_dialogs
            .get_mut(user_id)
            .is_some_and(|mut list| list.remove(id));
        if !removed {
            return None;
        }
        self.agent_dialogs
            .remove_if(user_id, |_, list| list.is_empty());
        self.dialogs.remove_if_mut(id, |_, entry| {
            entry.holders.retain(|h| h != user_id);
            entry.holders.is_empty()
        });
        Some((last, DialogChange::Removed))
    }

    /// Brings `user_id`'s state in line with what Finesse's REST API says after
    /// a reconnect: dialogs gone are removed, new ones added, changed ones
    /// updated, and the user replaced if it differs. Returns the changes.
    pub fn reconcile(&self, user_id: &str, user: User, dialogs: Vec<Dialog>) -> Vec<Change> {
        self.resync(user_id, user, dialogs).0
    }

    /// [`reconcile`](Self::reconcile), also returning the fence that the
    /// notifications queued during the resync go through
    /// ([`apply_queued`](Self::apply_queued)).
    pub fn resync(
        &self,
        user_id: &str,
        user: User,
        dialogs: Vec<Dialog>,
    ) -> (Vec<Change>, ResyncFence) {
        self.own_feed.insert(user_id.to_owned());
        let mut fence = ResyncFence::default();
        let mut out = Vec::new();
        let fresh: BTreeMap<String, Dialog> =
            dialogs.into_iter().map(|d| (d.id.clone(), d)).collect();
        let known: Vec<String> = self
            .agent_dialogs
            .get(user_id)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default();
        for id in known.iter().filter(|id| !fresh.contains_key(*id)) {
            let last = self
                .dialogs
                .get(id)
                .map(|e| e.dialog.clone())
                .unwrap_or_else(|| {
                    Arc::new(Dialog {
                        id: id.clone(),
                        ..Dialog::default()
                    })
                });
            if let Some((dialog, change)) = self.remove_from(user_id, id, last) {
                fence.removed.insert(id.clone());
                out.push(Change::Dialog {
                    user_id: user_id.to_owned(),
                    dialog,
                    change,
                    request_id: None,
                    source: EventSource::Resync,
                });
            }
        }
        for (id, d) in fresh {
            let unchanged =
                known.contains(&id) && self.dialogs.get(&id).is_some_and(|e| *e.dialog == d);
            if unchanged {
                continue;
            }
            let Some((dialog, change)) = self.upsert(user_id, d) else {
                continue;
            };
            out.push(Change::Dialog {
                user_id: user_id.to_owned(),
                dialog,
                change,
                request_id: None,
                source: EventSource::Resync,
            });
        }
        let same_user = self
            .agents
            .get(&user.login_id)
            .is_some_and(|u| same_view(&u, &user));
        let user = Arc::new(user);
        self.agents.insert(user.login_id.clone(), user.clone());
        if !same_user {
            out.push(Change::Agent {
                user,
                deleted: false,
                request_id: None,
                source: EventSource::Resync,
            });
        }
        (out, fence)
    }

    /// Removes dialogs that ended longer ago than the retention without a
    /// DELETE; returns how many were removed. Call it periodically.
    pub fn purge(&self, now: Instant) -> usize {
        let limit = self.config.ended_dialog_retention;
        let stale: Vec<String> = self
            .dialogs
            .iter()
            .filter(|e| {
                e.ended_at
                    .is_some_and(|t| now.saturating_duration_since(t) >= limit)
            })
            .map(|e| e.key().clone())
            .collect();
        for id in &stale {
            let Some((_, entry)) = self.dialogs.remove(id) else {
                continue;
            };
            for user_id in &entry.holders {
                if let Some(mut list) = self.agent_dialogs.get_mut(user_id) {
                    list.remove(id);
                }
                self.agent_dialogs
                    .remove_if(user_id, |_, list| list.is_empty());
            }
        }
        stale.len()
    }

    /// The agent's user and dialogs.
    pub fn snapshot_agent(&self, user_id: &str) -> AgentSnapshot {
        let ids: Vec<String> = self
            .agent_dialogs
            .get(user_id)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default();
        AgentSnapshot {
            user: self.agents.get(user_id).map(|u| u.clone()),
            dialogs: ids
                .iter()
                .filter_map(|id| self.dialogs.get(id).map(|e| e.dialog.clone()))
                .collect(),
        }
    }

    /// Every known agent of team `team` (by the user's `teamId`), by agent id.
    pub fn snapshot_team(&self, team: &str) -> Vec<AgentSnapshot> {
        let mut ids: Vec<String> = self
            .agents
            .iter()
            .filter(|u| u.team_id.as_deref() == Some(team))
            .map(|u| u.login_id.clone())
            .collect();
        ids.sort();
        ids.iter().map(|id| self.snapshot_agent(id)).collect()
    }

    /// Every known agent, by agent id.
    pub fn snapshot_all(&self) -> Vec<AgentSnapshot> {
        let mut ids: BTreeSet<String> = self.agents.iter().map(|u| u.key().clone()).collect();
        ids.extend(self.agent_dialogs.iter().map(|l| l.key().clone()));
        ids.iter().map(|id| self.snapshot_agent(id)).collect()
    }

    /// A dialog by id.
    pub fn dialog(&self, id: &str) -> Option<Arc<Dialog>> {
        self.dialogs.get(id).map(|e| e.dialog.clone())
    }

    /// An agent's user.
    pub fn user(&self, user_id: &str) -> Option<Arc<User>> {
        self.agents.get(user_id).map(|u| u.clone())
    }

    /// The last SystemInfo passed on (of either node).
    pub fn system_info(&self) -> Option<Arc<SystemInfo>> {
        self.system
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .last
            .clone()
    }

    /// How many dialogs the cache holds (a gauge for metrics and memory checks).
    pub fn dialog_count(&self) -> usize {
        self.dialogs.len()
    }
}
