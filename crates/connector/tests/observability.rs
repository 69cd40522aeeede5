//! The metrics and the tracing events of the REST client: the documented
//! names and labels, one debug event per request, and never a user id in a
//! label nor a credential anywhere. One test in this binary: it installs the
//! global metrics recorder.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use switchboard_connector::metrics::{REST_LATENCY_SECONDS, REST_REQUESTS_TOTAL};
use switchboard_connector::{Credentials, FinesseClient, RestConfig};
use switchboard_finesse::{DialogAction, DialogRequest, UserRequest, UserState};
use switchboard_sim::{NoticeSink, SimConfig, SimOptions, start};

type Labels = Vec<(String, String)>;
/// Per (name, labels): how many increments or records.
type Counts = Mutex<HashMap<(String, Labels), Arc<AtomicU64>>>;

/// Counts counter increments and histogram records per (name, labels).
#[derive(Clone, Default)]
struct Capture {
    counters: Arc<Counts>,
    histograms: Arc<Counts>,
}

struct CountRecords(Arc<AtomicU64>);

impl metrics::HistogramFn for CountRecords {
    fn record(&self, _value: f64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn entry(map: &Counts, key: &Key) -> Arc<AtomicU64> {
    let labels = key
        .labels()
        .map(|l| (l.key().to_owned(), l.value().to_owned()))
        .collect();
    map.lock()
        .expect("lock")
        .entry((key.name().to_owned(), labels))
        .or_default()
        .clone()
}

impl Recorder for Capture {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(entry(&self.counters, key))
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(CountRecords(entry(&self.histograms, key))))
    }
}

/// The tracing output, as text.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn snapshot(map: &Counts) -> Vec<(String, Labels, u64)> {
    map.lock()
        .expect("lock")
        .iter()
        .map(|((name, labels), n)| (name.clone(), labels.clone(), n.load(Ordering::Relaxed)))
        .collect()
}

#[tokio::test]
async fn metrics_and_events_name_the_action_never_the_user_or_secret() {
    const SECRET: &str = "wrong-Pa55-xyz";
    let capture = Capture::default();
    metrics::set_global_recorder(capture.clone()).expect("the only recorder");
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("switchboard_connector=debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let sim = start(SimOptions {
        config: SimConfig::default(),
        primary: any,
        secondary: None,
        scenario: None,
        sink: NoticeSink::Discard,
    })
    .await
    .expect("simulator starts");
    let c = FinesseClient::new(&format!("http://{}", sim.primary), RestConfig::default())
        .expect("client");
    let good = Credentials::basic("1001001", "demo");
    let bad = Credentials::basic("1001001", SECRET);

    c.system_info().await.expect("SystemInfo");
    c.user(&good, "1001001").await.expect("User");
    c.user(&bad, "1001001").await.expect_err("401");
    let login = UserRequest {
        state: UserState::Login,
        extension: Some("5001".into()),
        reason_code_id: None,
    };
    let rid = c.put_user(&good, "1001001", &login).await.expect("LOGIN");
    let hold = DialogRequest {
        action: DialogAction::Hold,
        target_media_address: Some("5001".into()),
    };
    c.dialog_action(&bad, "no-such-dialog", &hold)
        .await
        .expect_err("401");

    let counters = snapshot(&capture.counters);
    let count = |action: &str, status: &str| {
        counters
            .iter()
            .filter(|(name, labels, _)| {
                name == REST_REQUESTS_TOTAL
                    && labels
                        == &vec![
                            ("action".to_owned(), action.to_owned()),
                            ("status".to_owned(), status.to_owned()),
                        ]
            })
            .map(|(_, _, n)| *n)
            .sum::<u64>()
    };
    assert_eq!(count("GET SystemInfo", "200"), 1, "{counters:?}");
    assert_eq!(count("GET User", "200"), 1, "{counters:?}");
    assert_eq!(count("GET User", "401"), 1, "{counters:?}");
    assert_eq!(count("PUT User LOGIN", "202"), 1, "{counters:?}");
    assert_eq!(count("PUT Dialog HOLD", "401"), 1, "{counters:?}");

    let histograms = snapshot(&capture.histograms);
    let records = |action: &str| {
        histograms
            .iter()
            .filter(|(name, labels, _)| {
                name == REST_LATENCY_SECONDS
                    && labels == &vec![("action".to_owned(), action.to_owned())]
            })
            .map(|(_, _, n)| *n)
            .sum::<u64>()
    };
    assert_eq!(records("GET User"), 2, "{histograms:?}");
    assert_eq!(records("PUT User LOGIN"), 1, "{histograms:?}");

    for (name, labels, _) in counters.iter().chain(&histograms) {
        for (_, value) in labels {
            assert!(
                !value.contains("1001001") && !value.contains(SECRET) && !value.contains("demo"),
                "{name} {labels:?}"
            );
        }
    }

    let text = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("utf-8");
    let events: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Finesse REST request"))
        .collect();
    assert_eq!(events.len(), 5, "{text}");
    let login_event = events
        .iter()
        .find(|l| l.contains(rid.as_str()))
        .expect("the LOGIN event names its requestId");
    for field in [
        "DEBUG",
        "method=PUT",
        "path=\"/finesse/api/User/1001001\"",
        "status=\"202\"",
        "elapsed_ms=",
    ] {
        assert!(login_event.contains(field), "{field} in {login_event}");
    }
    assert!(!text.contains(SECRET), "{text}");
    assert!(
        !text.to_ascii_lowercase().contains("authorization"),
        "{text}"
    );
    assert!(!text.contains("MTAwMTAwMTpkZW1v"), "{text}");
}
