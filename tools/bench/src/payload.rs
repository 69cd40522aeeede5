//! The notifications a benchmark publishes, made from the golden capture.
//!
//! The golden notification (`tests/fixtures/seed/finesse/dialog-put-outbound-active.update.xml`:
//! an outbound call, 17 call variables, two participants) is parsed once and
//! varied per message, then written compactly with [`Update::to_xml`] (about
//! 3.0 KB), which is what Finesse puts, escaped, inside `<notification>`.
//! Every message is made so that applying it to the state cache makes exactly
//! one change, so a benchmark can wait for as many changes as it published.

use std::fmt;

use anyhow::Context;
use switchboard_finesse::{
    Action, Dialog, DialogState, Node, ParticipantState, Update, UpdateData, UpdateEvent, User,
    UserState, parse_update,
};

/// The golden `<Update>` (pretty-printed bare document).
pub const GOLDEN_UPDATE: &str =
    include_str!("../../../tests/fixtures/seed/finesse/dialog-put-outbound-active.update.xml");

/// A User PUT (agent NOT_READY with a reason code), the most frequent notification.
pub const USER_PUT_UPDATE: &str =
    include_str!("../../../tests/fixtures/finesse/user-put-not-ready.update.xml");

/// The first dialog id handed out (the golden one is 16786700).
const FIRST_DIALOG_ID: u64 = 20_000_000;

/// How many dialogs of one agent go through a lifecycle step together before
/// the next step, so that the notifications of one dialog are far apart in the
/// publishing order.
const LIFECYCLE_BATCH: usize = 128;

/// Which notifications are published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mix {
    /// The golden Dialog PUT, each with a new dialog id: every message adds a
    /// dialog to the cache (the cache grows to N dialogs).
    Put,
    /// Six notifications per dialog, as a call goes: Dialogs POST (ringing),
    /// Dialog PUT active, PUT held, PUT retrieved with a changed call
    /// variable, PUT dropped, Dialogs DELETE (the cache stays small).
    Lifecycle,
    /// User PUTs on the agent's User node, alternately NOT_READY (reason code
    /// 12) and READY: the most frequent notification, about 0.8 KB.
    User,
}

impl Mix {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Mix::Put => "put",
            Mix::Lifecycle => "lifecycle",
            Mix::User => "user",
        }
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One benchmark agent: its Finesse user id and extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// The Finesse user id (also the XMPP user name).
    pub id: String,
    /// The extension the agent signs in on.
    pub extension: String,
}

impl Agent {
    /// Agents `1001001`, `1001002`... on extensions `5001`, `5002`... (the
    /// simulator's default users).
    pub fn numbered(count: usize) -> Vec<Agent> {
        (1..=count)
            .map(|i| Agent {
                id: format!("{}", 1_001_000 + i),
                extension: format!("{}", 5000 + i),
            })
            .collect()
    }

    /// The agent's Dialogs node, where Finesse publishes its dialogs.
    pub fn dialogs_node(&self) -> String {
        Node::Dialogs(self.id.clone()).to_string()
    }
}

/// One item to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Index of the agent (in the slice given to [`plan`]) whose node it goes to.
    pub agent: usize,
    /// The pubsub node.
    pub node: String,
    /// The pubsub item id.
    pub item_id: String,
    /// The `<Update>` document (escaped on the wire by the XMPP client).
    pub text: String,
}

/// The `messages` notifications to publish, spread round-robin over `agents`.
pub fn plan(mix: Mix, agents: &[Agent], messages: usize) -> anyhow::Result<Vec<Message>> {
    anyhow::ensure!(!agents.is_empty(), "at least one agent is needed");
    let golden = parse_update(GOLDEN_UPDATE).context("parsing the golden notification")?;
    let UpdateData::Dialog(golden) = golden.data else {
        anyhow::bail!("the golden notification does not carry a <dialog>");
    };
    let user_put = parse_update(USER_PUT_UPDATE).context("parsing the User PUT")?;
    let UpdateData::User(user_put) = user_put.data else {
        anyhow::bail!("the User PUT does not carry a <user>");
    };
    let mut next_id = FIRST_DIALOG_ID;
    let per_agent: Vec<Vec<Message>> = agents
        .iter()
        .enumerate()
        .map(|(i, agent)| {
            // Agent i gets messages i, i + A, i + 2A... of the round robin.
            let share = messages / agents.len() + usize::from(i < messages % agents.len());
            match mix {
                Mix::Put => put_messages(&golden, i, agent, share, &mut next_id),
                Mix::Lifecycle => lifecycle_messages(&golden, i, agent, share, &mut next_id),
                Mix::User => user_messages(&user_put, i, agent, share),
            }
        })
        .collect();
    let mut queues: Vec<std::vec::IntoIter<Message>> =
        per_agent.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::with_capacity(messages);
    for n in 0..messages {
        let agent = n % queues.len();
        let m = queues[agent]
            .next()
            .context("an agent's share of the messages ran out")?;
        out.push(m);
    }
    for (n, m) in out.iter_mut().enumerate() {
        m.item_id = format!("bench-{n}");
    }
    Ok(out)
}

/// The golden dialog as agent `agent`'s call, with dialog id `id`.
fn dialog_for(golden: &Dialog, agent: &Agent, id: u64) -> Dialog {
    let mut d = golden.clone();
    d.id = id.to_string();
    d.uri = Some(Node::Dialog(d.id.clone()).to_string());
    d.from_address = Some(agent.extension.clone());
    d.media_properties.dnis = Some(agent.extension.clone());
    if let Some(p) = d.participants.first_mut() {
        p.media_address = agent.extension.clone();
    }
    d
}

fn message(agent: usize, node: String, update: &Update) -> Message {
    Message {
        agent,
        node,
        item_id: String::new(),
        text: update.to_xml(),
    }
}

fn dialog_put(d: Dialog) -> Update {
    Update {
        event: UpdateEvent::Put,
        request_id: None,
        source: Node::Dialog(d.id.clone()).to_string(),
        data: UpdateData::Dialog(Box::new(d)),
    }
}

fn put_messages(
    golden: &Dialog,
    index: usize,
    agent: &Agent,
    share: usize,
    next_id: &mut u64,
) -> Vec<Message> {
    let node = agent.dialogs_node();
    (0..share)
        .map(|_| {
            let id = *next_id;
            *next_id += 1;
            message(
                index,
                node.clone(),
                &dialog_put(dialog_for(golden, agent, id)),
            )
        })
        .collect()
}

fn user_messages(template: &User, index: usize, agent: &Agent, share: usize) -> Vec<Message> {
    let node = Node::User(agent.id.clone()).to_string();
    (0..share)
        .map(|n| {
            let mut u = template.clone();
            u.login_id = agent.id.clone();
            u.extension = Some(agent.extension.clone());
            u.uri = Some(node.clone());
            u.dialogs = Some(agent.dialogs_node());
            u.state_change_time = Some(format!(
                "2026-11-24T{:02}:{:02}:{:02}.{:03}Z",
                n / 3_600_000 % 24,
                n / 60_000 % 60,
                n / 1000 % 60,
                n % 1000
            ));
            if n % 2 == 1 {
                u.state = UserState::Ready;
                u.reason_code_id = None;
                u.reason_code = None;
            }
            let update = Update {
                event: UpdateEvent::Put,
                request_id: None,
                source: node.clone(),
                data: UpdateData::User(Box::new(u)),
            };
            message(index, node.clone(), &update)
        })
        .collect()
}

/// How many notifications one call makes in [`Mix::Lifecycle`].
pub const LIFECYCLE_STEPS: usize = 6;

/// Step `step` (0..[`LIFECYCLE_STEPS`]) of call `d` on `agent`'s node.
fn lifecycle_step(d: &Dialog, agent: &Agent, step: usize) -> Update {
    let dialogs_source = agent.dialogs_node();
    let mut d = d.clone();
    let set_agent = |d: &mut Dialog, state: ParticipantState, actions: Vec<Action>| {
        if let Some(p) = d.participants.first_mut() {
            p.state = state;
            p.actions = actions;
        }
    };
    match step {
        0 => {
            d.state = DialogState::Alerting;
            set_agent(&mut d, ParticipantState::Alerting, vec![Action::Answer]);
            if let Some(p) = d.participants.get_mut(1) {
                p.state = ParticipantState::Initiated;
                p.actions.clear();
            }
            Update {
                event: UpdateEvent::Post,
                request_id: None,
                source: dialogs_source,
                data: UpdateData::Dialogs(vec![d]),
            }
        }
        1 => dialog_put(d),
        2 => {
            set_agent(
                &mut d,
                ParticipantState::Held,
                vec![Action::Retrieve, Action::UpdateCallData, Action::Drop],
            );
            dialog_put(d)
        }
        3 => {
            if let Some(v) = d.media_properties.call_variables.first_mut() {
                v.value = "retrieved".into();
            }
            dialog_put(d)
        }
        4 => {
            d.state = DialogState::Dropped;
            for p in &mut d.participants {
                p.state = ParticipantState::Dropped;
                p.actions.clear();
            }
            dialog_put(d)
        }
        _ => {
            d.state = DialogState::Dropped;
            for p in &mut d.participants {
                p.state = ParticipantState::Dropped;
                p.actions.clear();
            }
            Update {
                event: UpdateEvent::Delete,
                request_id: None,
                source: dialogs_source,
                data: UpdateData::Dialogs(vec![d]),
            }
        }
    }
}

fn lifecycle_messages(
    golden: &Dialog,
    index: usize,
    agent: &Agent,
    share: usize,
    next_id: &mut u64,
) -> Vec<Message> {
    let node = agent.dialogs_node();
    let mut out = Vec::with_capacity(share);
    while out.len() < share {
        // A batch of calls goes through each step together: the notifications
        // of one call are a batch apart, however many are in flight.
        let left = (share - out.len()).div_ceil(LIFECYCLE_STEPS);
        let calls: Vec<Dialog> = (0..left.min(LIFECYCLE_BATCH))
            .map(|_| {
                let id = *next_id;
                *next_id += 1;
                dialog_for(golden, agent, id)
            })
            .collect();
        'steps: for step in 0..LIFECYCLE_STEPS {
            for d in &calls {
                if out.len() == share {
                    break 'steps;
                }
                out.push(message(
                    index,
                    node.clone(),
                    &lifecycle_step(d, agent, step),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::{CacheConfig, StateCache};
    use switchboard_finesse::parse_notification;

    /// Applies the plan to a cache the way the sessions would and counts the changes.
    fn changes_of(plan: &[Message], agents: &[Agent]) -> (usize, StateCache) {
        let cache = StateCache::new(CacheConfig::default());
        let mut changes = 0;
        for m in plan {
            let n = parse_notification(&m.text).unwrap();
            changes += cache.apply(&agents[m.agent].id, &n).len();
        }
        (changes, cache)
    }

    #[test]
    fn every_put_adds_one_dialog() {
        let agents = Agent::numbered(3);
        let plan = plan(Mix::Put, &agents, 100).unwrap();
        assert_eq!(plan.len(), 100);
        assert_eq!(plan[0].agent, 0);
        assert_eq!(plan[4].agent, 1);
        assert_eq!(plan[4].node, "/finesse/api/User/1001002/Dialogs");
        assert!(plan[4].text.contains("<mediaAddress>5002</mediaAddress>"));
        assert!(!plan[0].text.contains('\n'), "compact");
        let (changes, cache) = changes_of(&plan, &agents);
        assert_eq!(changes, 100);
        assert_eq!(cache.dialog_count(), 100);
    }

    #[test]
    fn a_lifecycle_makes_one_change_per_notification_and_leaves_nothing() {
        let agents = Agent::numbered(2);
        let n = 2 * LIFECYCLE_STEPS * (LIFECYCLE_BATCH + 3);
        let plan = plan(Mix::Lifecycle, &agents, n).unwrap();
        let (changes, cache) = changes_of(&plan, &agents);
        assert_eq!(changes, n);
        assert_eq!(cache.dialog_count(), 0, "every call was deleted");
    }

    #[test]
    fn a_cut_lifecycle_still_changes_on_every_notification() {
        let agents = Agent::numbered(3);
        for n in [1, 7, 100, 1001] {
            let plan = plan(Mix::Lifecycle, &agents, n).unwrap();
            assert_eq!(plan.len(), n);
            assert_eq!(changes_of(&plan, &agents).0, n, "{n} messages");
        }
    }

    #[test]
    fn user_puts_alternate_and_each_changes_the_agent() {
        let agents = Agent::numbered(2);
        let plan = plan(Mix::User, &agents, 12).unwrap();
        assert_eq!(plan[1].node, "/finesse/api/User/1001002");
        assert!(plan[0].text.contains("<state>NOT_READY</state>"));
        assert!(plan[2].text.contains("<state>READY</state>"));
        assert!(plan[3].text.contains("<extension>5002</extension>"));
        let (changes, cache) = changes_of(&plan, &agents);
        assert_eq!(changes, 12);
        assert_eq!(
            cache.user("1001002").unwrap().state,
            switchboard_finesse::UserState::Ready
        );
    }

    #[test]
    fn item_ids_are_distinct() {
        let plan = plan(Mix::Put, &Agent::numbered(1), 10).unwrap();
        let ids: std::collections::BTreeSet<&str> =
            plan.iter().map(|m| m.item_id.as_str()).collect();
        assert_eq!(ids.len(), 10);
    }
}
