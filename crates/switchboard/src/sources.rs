//! Where each configuration value came from, and every problem of a load at
//! once: this module owns the configuration's providers (file, environment,
//! flags, in that order over the defaults), the walk that checks each key the
//! user set on its own (so one wrong key does not hide the next), and the
//! names problems are reported under: the environment variable as it was
//! written (`SWITCHBOARD_SERVER_LISTN`), `[section] key` of the file, or the
//! command line.

use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::Serialize;

/// The sections of the file, as environment variables spell them (lower case).
pub(crate) const SECTIONS: [&str; 7] =
    ["server", "limits", "auth", "hub", "finesse", "log", "demo"];

const FLAGS: &str = "command-line flags";
const ENVIRONMENT: &str = "environment";

/// The layered configuration: `defaults`, then `file`, then the
/// `SWITCHBOARD_<SECTION>_<KEY>` environment, then `flags`.
pub(crate) fn figment<T: Serialize>(
    defaults: &T,
    file: Option<&Path>,
    flags: &serde_json::Value,
) -> Figment {
    let mut figment = Figment::from(Serialized::defaults(defaults));
    if let Some(file) = file {
        figment = figment.merge(Toml::file(file));
    }
    figment
        .merge(
            Env::prefixed("SWITCHBOARD_")
                // Only SWITCHBOARD_<SECTION>_<KEY>: other variables with the
                // prefix (SWITCHBOARD_CONFIG, or SWITCHBOARD_PORT and the like
                // that Kubernetes injects for a Service named switchboard) are
                // not configuration keys.
                .filter(|key| {
                    let key = key.as_str().to_ascii_lowercase();
                    SECTIONS.iter().any(|s| {
                        key.strip_prefix(s)
                            .is_some_and(|rest| rest.starts_with('_'))
                    })
                })
                .map(|key| key.as_str().replacen('_', ".", 1).into())
                .lowercase(true),
        )
        .merge(Flags(flags.clone()))
}

/// The command line's settings, as a provider with a name of its own.
struct Flags(serde_json::Value);

impl Provider for Flags {
    fn metadata(&self) -> Metadata {
        Metadata::named(FLAGS)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::defaults(&self.0).data()
    }
}

/// Where the value at `path` (`section` or `section.key`) was set: the
/// environment variable, the file and `[section] key`, or the command line.
/// `None` for a default.
pub(crate) fn origin(figment: &Figment, path: &str) -> Option<String> {
    let metadata = figment.find_metadata(path)?;
    let (section, key) = path.split_once('.').unwrap_or((path, ""));
    let place = if key.is_empty() {
        format!("[{section}]")
    } else {
        format!("[{section}] {key}")
    };
    match &metadata.source {
        Some(Source::File(file)) => Some(format!("{} {place}", file.display())),
        _ if metadata.name.contains(ENVIRONMENT) => Some(format!(
            "SWITCHBOARD_{}",
            path.replace('.', "_").to_ascii_uppercase()
        )),
        _ if metadata.name == FLAGS => Some(format!("command line ({path})")),
        _ => None,
    }
}

/// Extracts `T` when everything loads. Otherwise checks each key the user set
/// on its own and returns `T` built from the keys that load, with one problem
/// per key that does not (unknown section or key, or a value of the wrong
/// kind), each named by [`origin`]. `Err` only when no value can be read at
/// all (a file that is not TOML).
pub(crate) fn extract<T>(
    figment: &Figment,
    defaults: &T,
) -> Result<(T, Vec<String>), Box<figment::Error>>
where
    T: Serialize + serde::de::DeserializeOwned,
{
    let whole = match figment.extract::<T>() {
        Ok(config) => return Ok((config, Vec::new())),
        Err(e) => e,
    };
    let data: Dict = figment.extract().map_err(Box::new)?;
    let known = serde_json::to_value(defaults).unwrap_or_default();
    let mut good = Figment::from(Serialized::defaults(defaults));
    let mut problems = Vec::new();
    for (section, value) in &data {
        let name = |path: &str| origin(figment, path).unwrap_or_else(|| path.to_owned());
        let Some(known_keys) = known.get(section).and_then(serde_json::Value::as_object) else {
            problems.push(format!(
                "{}: unknown section (sections: {})",
                name(section),
                SECTIONS.join(", ")
            ));
            continue;
        };
        let Some(keys) = value.as_dict() else {
            problems.push(format!("{}: must be a table of keys", name(section)));
            continue;
        };
        for (key, value) in keys {
            let path = format!("{section}.{key}");
            if !known_keys.contains_key(key) {
                let mut names: Vec<&str> = known_keys.keys().map(String::as_str).collect();
                names.sort_unstable();
                problems.push(format!(
                    "{}: unknown key (the keys of [{section}]: {})",
                    name(&path),
                    names.join(", ")
                ));
                continue;
            }
            let alone = Figment::from(Serialized::defaults(defaults))
                .merge(Serialized::default(&path, value))
                .extract::<T>();
            match alone {
                Ok(_) => good = good.merge(Serialized::default(&path, value)),
                Err(e) => {
                    // The value as written, unless the error already quotes it.
                    let why = e.kind.to_string();
                    let written = match value.as_str() {
                        Some(text) if !why.contains(text) => format!(" (the value is {text:?})"),
                        _ => String::new(),
                    };
                    problems.push(format!("{}: {why}{written}", name(&path)));
                }
            }
        }
    }
    if problems.is_empty() {
        // Not a problem of any one key: report figment's own.
        return Err(Box::new(whole));
    }
    let config = good.extract::<T>().map_err(Box::new)?;
    Ok((config, problems))
}

/// Prefixes each problem that starts with a `section.key` set by the user with
/// where it was set (`SWITCHBOARD_LIMITS_MAX_CONNECTIONS: limits.max_connections
/// must be at least 1`).
pub(crate) fn locate(figment: &Figment, problems: Vec<String>) -> Vec<String> {
    problems
        .into_iter()
        .map(|p| {
            let path = p.split([' ', ':']).next().unwrap_or_default().to_owned();
            match path.contains('.').then(|| origin(figment, &path)).flatten() {
                Some(place) => format!("{place}: {p}"),
                None => p,
            }
        })
        .collect()
}
