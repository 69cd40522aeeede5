//! The load generator (`POST /sim/load`): calls offered to READY agents at a rate, in a mix of
//! kinds, and simulated agents that answer (or accept) and hang up after a talk time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use switchboard_finesse::DialogRequest;
use tokio_util::sync::CancellationToken;

use super::{Sim, lock};
use crate::world::{CallKind, CallOptions};

/// `POST /sim/load`: the load generator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    /// New calls per second across all READY agents.
    pub calls_per_second: f64,
    /// The mix of kinds, as weights (default: inbound 1, preview 1).
    #[serde(default)]
    pub mix: Vec<(CallKind, u32)>,
    /// Seconds before a simulated agent answers or accepts (absent: agents do not act).
    #[serde(default)]
    pub answer_after: Option<f64>,
    /// Seconds a simulated agent talks before dropping.
    #[serde(default = "default_talk")]
    pub talk_for: f64,
    /// Agents left to people (e.g. the demo's agent widget): they are offered
    /// calls like the others when READY, but nothing answers or drops for them.
    #[serde(default)]
    pub manual: Vec<String>,
}

fn default_talk() -> f64 {
    10.0
}

/// Starts (or replaces) the load generator.
pub fn start_load(sim: &Arc<Sim>, spec: LoadSpec) {
    let token = sim.shutdown.child_token();
    if let Some(old) = lock(&sim.load).replace(token.clone()) {
        old.cancel();
    }
    let sim = sim.clone();
    tokio::spawn(async move { run_load(sim, spec, token).await });
}

/// A scheduled action of a simulated agent.
struct Due {
    at: Instant,
    agent: String,
    dialog: String,
    action: switchboard_finesse::DialogAction,
}

async fn run_load(sim: Arc<Sim>, spec: LoadSpec, stop: CancellationToken) {
    let mix = if spec.mix.is_empty() {
        vec![(CallKind::Inbound, 1), (CallKind::Preview, 1)]
    } else {
        spec.mix.clone()
    };
    let total: u32 = mix.iter().map(|(_, w)| *w).sum::<u32>().max(1);
    let period = Duration::from_secs_f64(1.0 / spec.calls_per_second);
    let mut every = tokio::time::interval(
        period
            .min(Duration::from_millis(100))
            .max(Duration::from_micros(100)),
    );
    let mut next_call = Instant::now();
    let mut due: Vec<Due> = Vec::new();
    let mut rng = fastrand::Rng::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = every.tick() => {}
        }
        let now = Instant::now();
        while next_call <= now {
            next_call += period;
            let ready: Vec<(String, String)> = {
                let world = sim.world();
                world
                    .users()
                    .into_iter()
                    .filter(|u| u.state == switchboard_finesse::UserState::Ready)
                    .filter_map(|u| u.extension.clone().map(|e| (u.login_id, e)))
                    .collect()
            };
            if ready.is_empty() {
                continue;
            }
            let (agent, _ext) = ready[rng.usize(..ready.len())].clone();
            let mut pick = rng.u32(..total);
            let kind = mix
                .iter()
                .find(|(_, w)| {
                    if pick < *w {
                        true
                    } else {
                        pick -= *w;
                        false
                    }
                })
                .map_or(CallKind::Inbound, |(k, _)| *k);
            if let Ok(id) = sim.apply(|w| w.start_call(&agent, kind, &CallOptions::default()))
                && let Some(after) = spec.answer_after
                && !spec.manual.contains(&agent)
            {
                let action = if matches!(
                    kind,
                    CallKind::Preview | CallKind::DirectPreview | CallKind::CallbackPreview
                ) {
                    switchboard_finesse::DialogAction::Accept
                } else {
                    switchboard_finesse::DialogAction::Answer
                };
                due.push(Due {
                    at: now + Duration::from_secs_f64(after),
                    agent: agent.clone(),
                    dialog: id,
                    action,
                });
            }
        }
        // Simulated agents act when their time comes.
        let (ready_now, later): (Vec<Due>, Vec<Due>) = due.drain(..).partition(|d| d.at <= now);
        due = later;
        for d in ready_now {
            let Some(ext) = sim.world().user(&d.agent).ok().and_then(|u| u.extension) else {
                continue;
            };
            let req = DialogRequest {
                action: d.action.clone(),
                target_media_address: Some(ext.clone()),
            };
            let answered =
                sim.apply(|w| Ok(((), w.dialog_action(&d.dialog, &d.agent, &req, None)?)));
            if answered.is_err() || d.action == switchboard_finesse::DialogAction::Drop {
                continue;
            }
            // After answering, hang up after the talk time; an accepted reservation
            // became a new customer dialog.
            let dialog = if d.action == switchboard_finesse::DialogAction::Accept {
                sim.world()
                    .dialogs_of(&d.agent)
                    .ok()
                    .and_then(|ds| ds.last().map(|x| x.id.clone()))
            } else {
                Some(d.dialog.clone())
            };
            if let Some(dialog) = dialog {
                due.push(Due {
                    at: now + Duration::from_secs_f64(spec.talk_for),
                    agent: d.agent.clone(),
                    dialog,
                    action: switchboard_finesse::DialogAction::Drop,
                });
            }
        }
    }
}
