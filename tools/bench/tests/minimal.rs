//! The minimal broadcast server (`switchboard-bench minimal-server`) driven
//! end to end by the load tool's NATS target, over real sockets: every event
//! reaches every client once, in order, in both write modes. Counts only, no
//! timing assertions.

use clap::Parser;
use switchboard_bench::fanout;
use switchboard_bench::minimal;
use tokio::net::TcpListener;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    fanout: fanout::Args,
}

#[derive(Debug, Parser)]
struct ServerCli {
    #[command(flatten)]
    server: minimal::Args,
}

async fn run(direct: bool, scenario: &str) -> Vec<fanout::report::RunReport> {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let port = listener.local_addr().expect("address").port();
    let mut server_args = vec!["minimal"];
    if direct {
        server_args.push("--direct");
    }
    let server = ServerCli::parse_from(server_args).server;
    let serving = tokio::spawn(async move { minimal::serve(listener, &server).await });
    let url = format!("ws://127.0.0.1:{port}");
    let pid = std::process::id().to_string();
    let args = Cli::parse_from([
        "fanout",
        "--target",
        "nats",
        "--url",
        &url,
        "--server-pid",
        &pid,
        "--scenario",
        scenario,
        "--clients",
        "40",
        "--window",
        "8",
        "--rate",
        "200",
        "--duration",
        "1",
        "--runs",
        "1",
        "--settle",
        "0",
        "--payload-bytes",
        "300",
        "--stall-timeout",
        "10",
    ])
    .fanout;
    let reports = fanout::run(&args).await.expect("the benchmark runs");
    serving.abort();
    reports
}

fn check(reports: &[fanout::report::RunReport]) {
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.connected, 40, "{r:?}");
    assert!(r.events_published > 0, "{r:?}");
    assert_eq!(r.events_completed, r.events_published, "{r:?}");
    assert_eq!(r.deliveries, 40 * r.events_published, "{r:?}");
    assert_eq!((r.lost, r.duplicated, r.unmatched), (0, 0, 0), "{r:?}");
    assert_eq!(r.first_error, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_every_client_through_the_queue() {
    check(&run(false, "s1").await);
    check(&run(false, "s2").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_every_client_written_directly() {
    check(&run(true, "s1").await);
}
