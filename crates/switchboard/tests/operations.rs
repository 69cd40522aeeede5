//! What an operator gets from the real binary, as a child process on free loopback ports:
//!
//! - `/metrics` on its own port (`server.metrics_listen`, and not on the main port then): a
//!   `# HELP` for every family, the Finesse REST latency as a histogram with `_bucket`
//!   series, `switchboard_build_info`, the `process_*` metrics, and no two families of one
//!   name (a counter `x_total` and a gauge `x` are one family to OpenMetrics);
//! - the landing page only in the demo, with the simulator's real address; under `run`, `/`
//!   is 404 and nothing shows the demo's password;
//! - text logs without colour codes when stderr is not a terminal, with them on a terminal,
//!   and without them on a terminal when `NO_COLOR` is set;
//! - configuration problems all at once, each under the name the user wrote (the
//!   environment variable, the file's `[section] key`, the flag); `--log-level verbose`
//!   refused before anything starts.
//!
//! Bounds are generous (a loaded 2-core CI machine); nothing here measures speed.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use switchboard_harness::{Demo, free_port, switchboard};

/// The binary under test.
const SWITCHBOARD: &str = env!("CARGO_BIN_EXE_switchboard");

/// How long a process may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(90);

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

async fn get(url: &str) -> (reqwest::StatusCode, String) {
    let response = http()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status();
    (status, response.text().await.expect("body"))
}

/// The value of the sample `series` (the whole text before the value, labels included).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Checks the exposition's families: each with one `# TYPE` and a `# HELP`, and no two
/// that OpenMetrics would read as one family (`x_total` counter and `x` gauge).
fn check_families(text: &str) -> BTreeMap<String, String> {
    let mut types = BTreeMap::new();
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
        assert!(
            types.insert(name.to_owned(), kind.to_owned()).is_none(),
            "{name} has two # TYPE lines"
        );
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no # HELP"
        );
        let family = match kind {
            "counter" => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        if let Some(other) = families.insert(family.to_owned(), name.to_owned()) {
            panic!("family {family} twice: {other} and {name}");
        }
    }
    types
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_metrics_on_their_own_port_landing_page_and_plain_text_logs() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let metrics_port = free_port();
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!("[server]\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n"),
    )
    .expect("write the configuration");
    let demo = Demo::start(
        SWITCHBOARD,
        &[
            "--config",
            config.to_str().expect("UTF-8 path"),
            "--log-format",
            "text",
        ],
    )
    .await;

    // A WebSocket connection, so the connection metrics have a value.
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/ws", demo.port))
        .await
        .expect("WebSocket connects");

    let (status, _) = get(&format!("{}/metrics", demo.base())).await;
    assert_eq!(
        status,
        reqwest::StatusCode::NOT_FOUND,
        "/metrics is on its own port only"
    );
    let url = format!("http://127.0.0.1:{metrics_port}/metrics");
    let deadline = Instant::now() + START_TIMEOUT;
    let text = loop {
        let (status, text) = get(&url).await;
        assert_eq!(status, reqwest::StatusCode::OK, "{url}\n{}", demo.logs());
        // The readiness probe's GET SystemInfo gives the latency histogram its first value.
        if text.contains("# TYPE switchboard_connections_open gauge")
            && text.contains("switchboard_finesse_rest_latency_seconds_bucket")
        {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "metrics incomplete after {START_TIMEOUT:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let types = check_families(&text);
    for (name, kind) in [
        ("switchboard_connections_open", "gauge"),
        ("switchboard_connections_total", "counter"),
        ("switchboard_finesse_rest_latency_seconds", "histogram"),
        ("switchboard_finesse_rest_requests_total", "counter"),
        ("switchboard_build_info", "gauge"),
        ("process_cpu_seconds_total", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
        ("process_start_time_seconds", "gauge"),
    ] {
        assert_eq!(
            types.get(name).map(String::as_str),
            Some(kind),
            "{name}\n{text}"
        );
    }
    let action = "action=\"GET SystemInfo\"";
    for le in ["0.005", "0.1", "1", "10", "+Inf"] {
        let series =
            format!("switchboard_finesse_rest_latency_seconds_bucket{{{action},le=\"{le}\"}}");
        assert!(sample(&text, &series).is_some(), "no {series}\n{text}");
    }
    let count = sample(
        &text,
        &format!("switchboard_finesse_rest_latency_seconds_count{{{action}}}"),
    )
    .expect("a _count");
    assert!(count >= 1.0, "{count}");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        sample(
            &text,
            &format!("switchboard_build_info{{version=\"{version}\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    let rss = sample(&text, "process_resident_memory_bytes").expect("RSS");
    assert!(rss > 1e6, "RSS {rss}");
    let fds = sample(&text, "process_open_fds").expect("open fds");
    assert!(fds >= 4.0, "open fds {fds}");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let started = sample(&text, "process_start_time_seconds").expect("start time");
    assert!(
        (now - START_TIMEOUT.as_secs_f64() - 60.0..=now + 1.0).contains(&started),
        "started at {started}, now {now}"
    );
    assert!(sample(&text, "process_cpu_seconds_total").expect("CPU") >= 0.0);
    drop(ws);

    // The landing page, with the simulator's real address.
    let (status, page) = get(&format!("{}/", demo.base())).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let simulator = format!("http://127.0.0.1:{}", demo.sim_port);
    assert!(page.contains(&format!("{simulator}/sim/calls")), "{page}");
    assert!(!page.contains("{{SIMULATOR}}"), "{page}");
    if demo.sim_port != 8082 {
        assert!(
            !page.contains("8082"),
            "the default port, not the real one:\n{page}"
        );
    }

    // Text logs to a file: no colour codes.
    let stderr = std::fs::read_to_string(demo.dir.path().join("stderr")).expect("stderr");
    assert!(stderr.contains("gateway listening"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in a file:\n{stderr}"
    );
}

/// `switchboard run` on free ports against a Finesse that is not there (the gateway serves
/// regardless; readiness says not ready).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_has_no_landing_page_and_serves_metrics_on_the_main_port() {
    let port = free_port();
    let finesse = free_port();
    let mut child = switchboard(SWITCHBOARD)
        .args(["run", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--finesse-primary", &format!("http://127.0.0.1:{finesse}")])
        .env("SWITCHBOARD_FINESSE_XMPP_DOMAIN", "finesse.local")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start switchboard run");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + START_TIMEOUT;
    while http().get(format!("{base}/healthz")).send().await.is_err() {
        if let Some(status) = child.try_wait().expect("child status") {
            panic!("switchboard run exited: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "not serving after {START_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for path in ["/", "/index.html"] {
        let (status, body) = get(&format!("{base}{path}")).await;
        assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "GET {path}: {body}");
        assert!(!body.contains("demo"), "GET {path}: {body}");
    }
    let (status, _) = get(&format!("{base}/agent")).await;
    assert_eq!(status, reqwest::StatusCode::OK, "the widget pages stay");
    let (status, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    check_families(&text);
    assert!(
        text.contains("# TYPE process_resident_memory_bytes gauge"),
        "{text}"
    );
    child.kill().await.expect("stop switchboard run");
}

/// A command under a pseudo-terminal (`script`), its output as the terminal saw it.
fn under_a_terminal(command: &str, no_color: bool) -> String {
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec", command, "/dev/null"])
        .stdin(Stdio::null())
        .env("SWITCHBOARD_FINESSE_XMPP_DOMAIN", "finesse.local")
        .env_remove("NO_COLOR");
    if no_color {
        script.env("NO_COLOR", "1");
    }
    let out = script.output().expect("run script");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn colour_on_a_terminal_unless_no_color() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no `script` to give the binary a terminal");
        return;
    }
    // `run` on a terminal logs the Finesse it uses, then exits at once: its port is taken
    // by the listener held here.
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = taken.local_addr().expect("port").port();
    let command = format!(
        "{} run --log-format text --listen 127.0.0.1:{port} --finesse-primary http://127.0.0.1:{}",
        env!("CARGO_BIN_EXE_switchboard"),
        free_port()
    );
    let coloured = under_a_terminal(&command, false);
    assert!(coloured.contains("cannot start the gateway"), "{coloured}");
    assert!(
        coloured.contains('\u{1b}'),
        "colour on a terminal:\n{coloured}"
    );
    let plain = under_a_terminal(&command, true);
    assert!(plain.contains("cannot start the gateway"), "{plain}");
    assert!(
        !plain.contains('\u{1b}'),
        "NO_COLOR: no colour codes:\n{plain}"
    );
    drop(taken);
}

#[test]
fn configuration_problems_all_at_once_under_the_names_the_user_wrote() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = dir.path().join("switchboard.toml");
    std::fs::write(
        &file,
        "[server]\nlisen = \"0.0.0.0:8080\"\n[limits]\nmax_connections = \"lots\"\n",
    )
    .expect("write the configuration");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["check-config", "--config"])
        .arg(&file)
        .args(["--log-level", "verbose"])
        .env("SWITCHBOARD_SERVER_LISTN", "0.0.0.0:9000")
        .env("SWITCHBOARD_HUB_QUEUE_MAX_BYTES", "1")
        .output()
        .expect("run check-config");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let f = file.display();
    for expected in [
        format!("{f} [server] lisen: unknown key"),
        format!("{f} [limits] max_connections: "),
        "SWITCHBOARD_SERVER_LISTN: unknown key".to_owned(),
        "SWITCHBOARD_HUB_QUEUE_MAX_BYTES: hub.queue_max_bytes must be at least 16384".to_owned(),
        "command line (log.level): log.level \"verbose\"".to_owned(),
    ] {
        assert!(stderr.contains(&expected), "no {expected:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("default."), "{stderr}");
}

#[test]
fn an_unknown_log_level_is_refused_before_anything_starts() {
    let port = free_port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "demo",
            "--log-level",
            "verbose",
            "--port",
            &port.to_string(),
        ])
        .args(["--sim-port", &free_port().to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("run demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("\"verbose\" is not a level"), "{stderr}");
    for ok in ["debug", "switchboard_gateway=debug,warn"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["check-config", "--log-level", ok])
            .output()
            .expect("run check-config");
        assert!(
            out.status.success(),
            "{ok}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
