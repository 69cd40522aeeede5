//! The state cache fed with everything the simulated Finesse publishes ends
//! up equal to the simulator's own state, dialog by dialog; resync repairs
//! what was missed; ended dialogs do not accumulate.

use std::time::{Duration, Instant};

use switchboard_core::{CacheConfig, Change, DialogChange, EventSource, StateCache};
use switchboard_finesse::*;
use switchboard_sim::{CallKind, CallOptions, Outgoing, SimConfig, World};

const SUP: &str = "2001001";

/// The session a notification arrives on: the node's agent; Team and
/// SystemInfo nodes reach the supervisor.
fn session_of(o: &Outgoing) -> String {
    o.node.agent_id().map_or(SUP.to_owned(), str::to_owned)
}

/// What an agent's session receives: Finesse publishes each notification to
/// that agent's nodes (and Team/SystemInfo nodes to subscribers).
fn feed(cache: &StateCache, out: Vec<Outgoing>) -> Vec<Change> {
    out.into_iter()
        .flat_map(|o| {
            let n = Notification {
                node: Some(o.node.to_string()),
                update: o.update.clone(),
                ..Notification::default()
            };
            cache.apply(&session_of(&o), &n)
        })
        .collect()
}

fn sign_in(w: &mut World, cache: &StateCache, agent: &str, ext: &str) {
    let login = UserRequest {
        state: UserState::Login,
        extension: Some(ext.into()),
        reason_code_id: None,
    };
    feed(
        cache,
        w.put_user(agent, agent, &login, None).expect("login"),
    );
    let ready = UserRequest {
        state: UserState::Ready,
        ..Default::default()
    };
    feed(
        cache,
        w.put_user(agent, agent, &ready, None).expect("ready"),
    );
}

fn act(
    w: &mut World,
    cache: &StateCache,
    id: &str,
    agent: &str,
    ext: &str,
    action: DialogAction,
) -> Vec<Change> {
    let req = DialogRequest {
        action,
        target_media_address: Some(ext.into()),
    };
    feed(cache, w.dialog_action(id, agent, &req, None).expect("202"))
}

fn assert_converged(w: &World, cache: &StateCache, agents: &[&str]) {
    for agent in agents {
        let mut want = w.dialogs_of(agent).expect("dialogs");
        want.sort_by(|a, b| a.id.cmp(&b.id));
        let mut got: Vec<Dialog> = cache
            .snapshot_agent(agent)
            .dialogs
            .iter()
            .map(|d| (**d).clone())
            .collect();
        got.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(got, want, "dialogs of {agent}");
        let user = w.user(agent).expect("user");
        let cached = cache.user(agent).expect("cached user");
        assert_eq!(
            (&cached.state, &cached.pending_state, &cached.extension),
            (&user.state, &user.pending_state, &user.extension),
            "user {agent}"
        );
    }
    let live: usize = w.dialogs().len();
    assert_eq!(cache.dialog_count(), live, "one entry per live dialog");
}

#[test]
fn a_mixed_scenario_converges_dialog_by_dialog() {
    let mut w = World::new(SimConfig::default());
    let cache = StateCache::new(CacheConfig::default());
    let agents = ["1001001", "1001002", "1001003", "1001004"];
    for (i, a) in agents.iter().enumerate() {
        sign_in(&mut w, &cache, a, &format!("500{}", i + 1));
    }
    // Inbound answered, consulted to agent 2, transferred.
    let (inbound, out) = w
        .start_call("1001001", CallKind::Inbound, &CallOptions::default())
        .expect("call");
    feed(&cache, out);
    act(
        &mut w,
        &cache,
        &inbound,
        "1001001",
        "5001",
        DialogAction::Answer,
    );
    act(
        &mut w,
        &cache,
        &inbound,
        "1001001",
        "5001",
        DialogAction::ConsultCall {
            to_address: "5002".into(),
        },
    );
    let consult = w.dialogs_of("1001002").expect("d")[0].id.clone();
    act(
        &mut w,
        &cache,
        &consult,
        "1001002",
        "5002",
        DialogAction::Answer,
    );
    assert_converged(&w, &cache, &agents);
    // The consult dialog is one entry seen from both agents.
    assert!(
        cache
            .snapshot_agent("1001001")
            .dialogs
            .iter()
            .any(|d| d.id == consult)
    );
    assert!(
        cache
            .snapshot_agent("1001002")
            .dialogs
            .iter()
            .any(|d| d.id == consult)
    );
    act(
        &mut w,
        &cache,
        &inbound,
        "1001001",
        "5001",
        DialogAction::Transfer,
    );
    assert_converged(&w, &cache, &agents);
    // Preview accepted, callback scheduled, held, retrieved.
    let (res, out) = w
        .start_call("1001003", CallKind::Preview, &CallOptions::default())
        .expect("preview");
    feed(&cache, out);
    let changes = act(
        &mut w,
        &cache,
        &res,
        "1001003",
        "5003",
        DialogAction::Accept,
    );
    assert!(changes.iter().any(|c| matches!(c, Change::Dialog { change: DialogChange::Removed, dialog, .. } if dialog.id == res)));
    let call = w.dialogs_of("1001003").expect("d")[0].id.clone();
    act(
        &mut w,
        &cache,
        &call,
        "1001003",
        "5003",
        DialogAction::UpdateScheduledCallback {
            callback_time: Some("2026-12-01T10:30".into()),
            callback_number: None,
        },
    );
    act(&mut w, &cache, &call, "1001003", "5003", DialogAction::Hold);
    act(
        &mut w,
        &cache,
        &call,
        "1001003",
        "5003",
        DialogAction::Retrieve,
    );
    // A reservation rejected; a progressive call answered and dropped.
    let (res4, out) = w
        .start_call("1001004", CallKind::DirectPreview, &CallOptions::default())
        .expect("dp");
    feed(&cache, out);
    act(
        &mut w,
        &cache,
        &res4,
        "1001004",
        "5004",
        DialogAction::Reject,
    );
    let (prog, out) = w
        .start_call("1001004", CallKind::Progressive, &CallOptions::default())
        .expect("prog");
    feed(&cache, out);
    act(
        &mut w,
        &cache,
        &prog,
        "1001004",
        "5004",
        DialogAction::Answer,
    );
    assert_converged(&w, &cache, &agents);
    act(&mut w, &cache, &prog, "1001004", "5004", DialogAction::Drop);
    let last = w.dialogs_of("1001002").expect("d")[0].id.clone();
    act(&mut w, &cache, &last, "1001002", "5002", DialogAction::Drop);
    act(&mut w, &cache, &call, "1001003", "5003", DialogAction::Drop);
    assert_converged(&w, &cache, &agents);
    assert_eq!(cache.dialog_count(), 0, "every dialog left with its DELETE");
    // Team summaries merged, not replacing the full user.
    let u = cache.user("1001001").expect("user");
    assert_eq!(u.roles, ["Agent"]);
    assert_eq!(u.team_id.as_deref(), Some("5000"));
}

#[test]
fn resync_repairs_missed_notifications() {
    let mut w = World::new(SimConfig::default());
    let cache = StateCache::new(CacheConfig::default());
    sign_in(&mut w, &cache, "1001001", "5001");
    let (gone, out) = w
        .start_call("1001001", CallKind::Inbound, &CallOptions::default())
        .expect("call");
    feed(&cache, out);
    // Notifications lost while the XMPP session was down: the call was answered
    // and dropped, and a new preview reservation arrived.
    let req = |a| DialogRequest {
        action: a,
        target_media_address: Some("5001".into()),
    };
    w.dialog_action(&gone, "1001001", &req(DialogAction::Answer), None)
        .expect("answer");
    w.dialog_action(&gone, "1001001", &req(DialogAction::Drop), None)
        .expect("drop");
    let (new, _) = w
        .start_call("1001001", CallKind::Preview, &CallOptions::default())
        .expect("preview");
    let changes = cache.reconcile(
        "1001001",
        w.user("1001001").expect("u"),
        w.dialogs_of("1001001").expect("d"),
    );
    let summary: Vec<(String, DialogChange)> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Dialog {
                dialog,
                change,
                source: EventSource::Resync,
                ..
            } => Some((dialog.id.clone(), *change)),
            _ => None,
        })
        .collect();
    assert_eq!(
        summary,
        [
            (gone.clone(), DialogChange::Removed),
            (new.clone(), DialogChange::Added)
        ]
    );
    assert!(changes.iter().any(|c| matches!(c, Change::Agent { user, source: EventSource::Resync, .. } if user.state == UserState::ReservedOutboundPreview)));
    assert_converged(&w, &cache, &["1001001"]);
    // A second resync with nothing new changes nothing.
    assert!(
        cache
            .reconcile(
                "1001001",
                w.user("1001001").expect("u"),
                w.dialogs_of("1001001").expect("d")
            )
            .is_empty()
    );
    // The DELETED event of the vanished call is rendered for the agent.
    let removed = changes
        .iter()
        .find(|c| {
            matches!(
                c,
                Change::Dialog {
                    change: DialogChange::Removed,
                    ..
                }
            )
        })
        .expect("removed");
    let event: serde_json::Value =
        serde_json::from_str(switchboard_core::route::publish(removed, &cache).json())
            .expect("json");
    assert_eq!(event["data"]["event"], "DELETED");
    assert_eq!(event["data"]["source"], "resync");
    assert_eq!(event["data"]["call"]["id"], gone.as_str());
}

#[test]
fn ended_dialogs_without_delete_are_purged() {
    let cache = StateCache::new(CacheConfig {
        ended_dialog_retention: Duration::from_secs(60),
    });
    let put = |id: &str, state: DialogState| Notification {
        update: Update {
            event: UpdateEvent::Put,
            request_id: None,
            source: format!("/finesse/api/Dialog/{id}"),
            data: UpdateData::Dialog(Box::new(Dialog {
                id: id.into(),
                state,
                ..Dialog::default()
            })),
        },
        ..Notification::default()
    };
    // A day of calls whose DELETE never arrives: 10,000 dialogs end.
    for i in 0..10_000 {
        cache.apply("1001001", &put(&i.to_string(), DialogState::Active));
        cache.apply("1001001", &put(&i.to_string(), DialogState::Dropped));
    }
    cache.apply("1001001", &put("live", DialogState::Active));
    assert_eq!(cache.dialog_count(), 10_001);
    assert_eq!(cache.purge(Instant::now()), 0, "not before the retention");
    assert_eq!(
        cache.purge(Instant::now() + Duration::from_secs(61)),
        10_000
    );
    assert_eq!(cache.dialog_count(), 1);
    assert_eq!(cache.snapshot_agent("1001001").dialogs.len(), 1);
}

#[test]
fn snapshots_by_team_and_all() {
    let mut w = World::new(SimConfig::default());
    let cache = StateCache::new(CacheConfig::default());
    sign_in(&mut w, &cache, "1001001", "5001");
    sign_in(&mut w, &cache, "1001002", "5002");
    let team = cache.snapshot_team("5000");
    assert_eq!(team.len(), 2);
    assert!(
        team.iter()
            .all(|s| s.user.as_ref().is_some_and(|u| u.state == UserState::Ready))
    );
    assert!(cache.snapshot_team("6000").is_empty());
    assert_eq!(cache.snapshot_all().len(), 2);
    let out = w.set_status(
        switchboard_sim::Side::Primary,
        SystemStatus::OutOfService,
        None,
    );
    feed(&cache, out);
    assert_eq!(
        cache.system_info().expect("system").status,
        SystemStatus::OutOfService
    );
}

#[test]
fn a_repeated_notification_changes_nothing() {
    let cache = StateCache::new(CacheConfig::default());
    let n = parse_notification(include_str!(
        "../../../tests/fixtures/seed/finesse/dialog-put-outbound-active.stanza.xml"
    ))
    .expect("golden");
    assert_eq!(cache.apply("311640960", &n).len(), 1);
    assert!(
        cache.apply("311640960", &n).is_empty(),
        "same dialog again: no change, no event"
    );
    let mut changed = n.clone();
    if let UpdateData::Dialog(d) = &mut changed.update.data {
        d.state = DialogState::Dropped;
    }
    assert!(matches!(
        cache.apply("311640960", &changed)[..],
        [Change::Dialog {
            change: DialogChange::Updated,
            ..
        }]
    ));
}

/// A dialog in several agents' lists (a conference, a supervisor's monitored
/// call) is one entry: it stays while any list holds it, goes with the last
/// DELETE, and a purge takes it out of every list that held it.
#[test]
fn a_dialog_held_by_several_agents_goes_with_the_last() {
    let cache = StateCache::new(CacheConfig {
        ended_dialog_retention: Duration::from_secs(60),
    });
    let dialogs = |event: UpdateEvent, id: &str, state: DialogState| Notification {
        update: Update {
            event,
            request_id: None,
            source: "/finesse/api/User/x/Dialogs".into(),
            data: UpdateData::Dialogs(vec![Dialog {
                id: id.into(),
                state,
                ..Dialog::default()
            }]),
        },
        ..Notification::default()
    };
    let agents = ["1001001", "1001002", "2001001"];
    for a in agents {
        let changes = cache.apply(a, &dialogs(UpdateEvent::Post, "conf", DialogState::Active));
        assert_eq!(changes.len(), 1, "{a} gets the dialog in its list");
    }
    assert_eq!(cache.dialog_count(), 1);
    // A repeated DELETE on the same agent changes nothing the second time.
    for (i, a) in agents.iter().enumerate() {
        let delete = dialogs(UpdateEvent::Delete, "conf", DialogState::Dropped);
        assert_eq!(cache.apply(a, &delete).len(), 1, "{a} lets go");
        assert!(cache.apply(a, &delete).is_empty(), "{a} again");
        assert!(cache.snapshot_agent(a).dialogs.is_empty());
        let left = i + 1 < agents.len();
        assert_eq!(cache.dialog("conf").is_some(), left, "after {a}");
        for b in &agents[i + 1..] {
            assert_eq!(cache.snapshot_agent(b).dialogs.len(), 1, "{b} still has it");
        }
    }
    assert_eq!(cache.dialog_count(), 0);

    // Back again for two agents, then ended and never deleted: the purge
    // takes it from both lists, and leaves the third agent's own call.
    for a in &agents[..2] {
        cache.apply(a, &dialogs(UpdateEvent::Post, "conf", DialogState::Active));
        cache.apply(a, &dialogs(UpdateEvent::Put, "conf", DialogState::Dropped));
    }
    cache.apply(
        agents[2],
        &dialogs(UpdateEvent::Post, "own", DialogState::Active),
    );
    assert_eq!(cache.dialog_count(), 2);
    assert_eq!(cache.purge(Instant::now() + Duration::from_secs(61)), 1);
    assert_eq!(cache.dialog_count(), 1);
    for a in &agents[..2] {
        assert!(cache.snapshot_agent(a).dialogs.is_empty(), "{a}");
    }
    assert_eq!(cache.snapshot_agent(agents[2]).dialogs.len(), 1);
    assert_eq!(
        cache.snapshot_all().len(),
        1,
        "no empty list is left behind"
    );
}

/// Notifications that waited in the session's queue while a resync ran are
/// older than its REST read: none brings back a dialog the resync removed.
#[test]
fn queued_notifications_bring_no_dialog_the_resync_removed_back() {
    let mut w = World::new(SimConfig::default());
    let cache = StateCache::new(CacheConfig::default());
    sign_in(&mut w, &cache, "1001001", "5001");
    let (call, out) = w
        .start_call("1001001", CallKind::Inbound, &CallOptions::default())
        .expect("call");
    feed(&cache, out);
    let req = |a| DialogRequest {
        action: a,
        target_media_address: Some("5001".into()),
    };
    feed(
        &cache,
        w.dialog_action(&call, "1001001", &req(DialogAction::Answer), None)
            .expect("answer"),
    );
    // During the resync: the call is held, then dropped and deleted.
    let mut queued = w
        .dialog_action(&call, "1001001", &req(DialogAction::Hold), None)
        .expect("hold");
    queued.extend(
        w.dialog_action(&call, "1001001", &req(DialogAction::Drop), None)
            .expect("drop"),
    );
    let (changes, fence) = cache.resync(
        "1001001",
        w.user("1001001").expect("u"),
        w.dialogs_of("1001001").expect("d"),
    );
    assert!(changes.iter().any(|c| matches!(c,
        Change::Dialog { dialog, change: DialogChange::Removed, .. } if dialog.id == call)));
    assert!(fence.removed().contains(&call));
    for o in queued
        .iter()
        .filter(|o| o.node.agent_id() == Some("1001001"))
    {
        let n = Notification {
            node: Some(o.node.to_string()),
            update: o.update.clone(),
            ..Notification::default()
        };
        let (changes, _) = cache.apply_queued("1001001", n, &fence);
        let dialogs: Vec<&Change> = changes
            .iter()
            .filter(|c| matches!(c, Change::Dialog { .. }))
            .collect();
        assert!(dialogs.is_empty(), "{dialogs:?}");
    }
    assert!(cache.dialog(&call).is_none());
    // A call created while the resync ran (its POST queued) is a new dialog.
    let (next, out) = w
        .start_call("1001001", CallKind::Inbound, &CallOptions::default())
        .expect("call");
    let post = out
        .iter()
        .find(|o| o.update.event == UpdateEvent::Post)
        .expect("POST");
    let n = Notification {
        node: Some(post.node.to_string()),
        update: post.update.clone(),
        ..Notification::default()
    };
    let (changes, dropped) = cache.apply_queued("1001001", n, &fence);
    assert_eq!(dropped, 0);
    assert!(changes.iter().any(|c| matches!(c,
        Change::Dialog { dialog, change: DialogChange::Added, .. } if dialog.id == next)));
}

/// Every session on a node receives the same SystemInfo notification: one
/// change per node and status.
#[test]
fn a_system_info_change_is_made_once_per_node() {
    let cache = StateCache::new(CacheConfig::default());
    let info = |status| SystemInfo {
        status,
        ..SystemInfo::default()
    };
    let out = || info(SystemStatus::OutOfService);
    assert!(cache.apply_system(0, Some("i1"), out()).is_some());
    assert!(
        cache.apply_system(0, Some("i1"), out()).is_none(),
        "same item"
    );
    assert!(cache.apply_system(0, None, out()).is_none(), "same status");
    assert!(
        cache.apply_system(1, Some("i1"), out()).is_some(),
        "other node"
    );
    assert!(
        cache
            .apply_system(0, Some("i2"), info(SystemStatus::InService))
            .is_some()
    );
    // A late copy of the first item changes nothing back.
    assert!(cache.apply_system(0, Some("i1"), out()).is_none());
    assert_eq!(
        cache.system_info().expect("known").status,
        SystemStatus::InService
    );
}
