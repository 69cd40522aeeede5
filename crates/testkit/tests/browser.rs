//! The browser harness against a tiny page served from the test: open, read, type, click,
//! wait for the JavaScript's change, console log, screenshot, and the errors of a missing
//! element. Needs Chromium (`apt-get install -y chromium chromium-driver`; tests/run does it).

use std::time::Duration;

use switchboard_testkit::{Browser, BrowserError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Generous: CI is a loaded 2-core machine; nothing here measures speed.
const WAIT: Duration = Duration::from_secs(30);

const PAGE: &str = r#"<!doctype html>
<html>
<head><meta charset="utf-8"><title>testkit browser</title></head>
<body>
  <h1>Switchboard testkit</h1>
  <p id="status">waiting</p>
  <input id="name" value="old value">
  <button id="go">Go</button>
  <script>
    document.getElementById("go").addEventListener("click", function () {
      var name = document.getElementById("name").value;
      // Later, as a page waiting for the server would.
      setTimeout(function () {
        document.getElementById("status").textContent = "clicked by " + name;
        console.log("status changed");
      }, 300);
    });
  </script>
</body>
</html>
"#;

/// Serves `PAGE` at `/` (404 elsewhere) over plain HTTP/1.1 on 127.0.0.1; returns the URL.
async fn serve_page() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let (status, body) = if request.starts_with(b"GET / ") {
                    ("200 OK", PAGE)
                } else {
                    ("404 Not Found", "not found")
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://{addr}/")
}

#[tokio::test]
async fn clicks_a_button_and_sees_the_page_change() {
    let url = serve_page().await;
    let browser = Browser::start().await.expect("start the browser");
    browser.goto(&url).await.expect("open the page");

    assert_eq!(browser.text("h1").await.expect("h1"), "Switchboard testkit");
    assert_eq!(browser.text("#status").await.expect("status"), "waiting");

    browser
        .fill("#name", "agent 1001001")
        .await
        .expect("fill the name");
    browser.click("#go").await.expect("click the button");
    let text = browser
        .wait_for_text("#status", "clicked by", WAIT)
        .await
        .expect("the status changes");
    assert_eq!(text, "clicked by agent 1001001");
    assert_eq!(browser.current_url().await, url);

    let log = browser.console_log().await.expect("console log");
    assert!(
        log.iter().any(|line| line.contains("status changed")),
        "console log: {log:?}"
    );

    let path = browser
        .screenshot("testkit-browser-selftest")
        .await
        .expect("screenshot");
    assert!(
        path.ends_with("target/test-artifacts/screenshots/testkit-browser-selftest.png"),
        "{path:?}"
    );
    let png = std::fs::read(&path).expect("read the screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG: {:?}",
        &png[..png.len().min(8)]
    );
    assert!(
        png.len() > 1000,
        "suspiciously small PNG: {} bytes",
        png.len()
    );

    browser.close().await.expect("close the browser");
}

#[tokio::test]
async fn a_missing_element_names_the_selector_and_the_page() {
    let url = serve_page().await;
    let mut browser = Browser::start().await.expect("start the browser");
    browser.goto(&url).await.expect("open the page");

    let err = browser
        .wait_for("#no-such-thing", Duration::from_secs(1))
        .await
        .expect_err("nothing matches");
    assert!(
        matches!(&err, BrowserError::Timeout { selector, url: page, .. } if selector == "#no-such-thing" && *page == url),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("`#no-such-thing`") && message.contains(&url),
        "{message}"
    );

    let err = browser
        .wait_for_text("#status", "never shown", Duration::from_secs(1))
        .await
        .expect_err("the text never comes");
    assert_eq!(
        err.to_string(),
        format!(
            "`#status` on {url} did not contain \"never shown\" after 1 s; its text was \"waiting\""
        )
    );

    browser.set_timeout(Duration::from_secs(1));
    let err = browser
        .click("#no-button")
        .await
        .expect_err("no button to click");
    assert!(
        matches!(&err, BrowserError::Timeout { selector, timeout, .. } if selector == "#no-button" && *timeout == Duration::from_secs(1)),
        "{err:?}"
    );

    let err = browser
        .screenshot("../escape")
        .await
        .expect_err("names stay in the screenshot folder");
    assert!(matches!(err, BrowserError::InvalidName { .. }), "{err:?}");
    // Dropped without close: chromedriver and Chromium are killed.
}
