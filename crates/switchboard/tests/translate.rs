//! `switchboard translate` as a user runs it: the real binary, stdin in, stdout out.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use switchboard_core::testing::json_contains;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn translate(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("translate")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("switchboard starts");
    // The binary may exit before reading (a usage error): a broken pipe is fine.
    if let Err(e) = child.stdin.take().expect("stdin").write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    child.wait_with_output().expect("switchboard exits")
}

fn seed(file: &str) -> Vec<u8> {
    let path = repo().join("tests/fixtures/seed").join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn golden_stanza_through_the_binary() {
    let out = translate(
        &["--agent", "311640960", "--extension", "5068"],
        &seed("finesse/dialog-put-outbound-active.stanza.xml"),
    );
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line");
    let event: Value = serde_json::from_str(lines[0]).expect("JSON line");
    let expected: Value =
        serde_json::from_slice(&seed("seed-outbound-event.expected.json")).expect("JSON");
    if let Err(diff) = json_contains(&expected, &event) {
        panic!("{diff}");
    }
}

#[test]
fn several_dialogs_give_several_lines() {
    let update = std::fs::read_to_string(
        repo().join("tests/fixtures/finesse/dialogs-post-preview-reservation.update.xml"),
    )
    .expect("fixture");
    let (start, end) = (
        update.find("<Dialog>").expect("dialog"),
        update.find("</Dialog>").expect("end") + 9,
    );
    let dialog = &update[start..end];
    let second = dialog.replace("<id>16817521</id>", "<id>16817522</id>");
    let two = update.replacen(dialog, &format!("{dialog}{second}"), 1);
    let out = translate(
        &["--agent", "1001001", "--extension", "5001"],
        two.as_bytes(),
    );
    assert!(out.status.success());
    let ids: Vec<String> = String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON")["data"]["call"]["id"].to_string())
        .collect();
    assert_eq!(ids, ["\"16817521\"", "\"16817522\""]);
}

#[test]
fn bad_input_exits_2_with_one_line_naming_the_problem() {
    let cases: [(&[u8], &str); 5] = [
        (b"", "no input"),
        (
            b"<Update><event>PUT</event><data><dialog><id>1</id>",
            "document ends inside",
        ),
        (b"<presence/>", "root element is <presence>"),
        (b"<Update><data/></Update>", "<event> is missing"),
        (b"\xff\xfe<Update/>", "UTF-8"),
    ];
    for (input, needle) in cases {
        let out = translate(&["--agent", "1", "--extension", "2"], input);
        assert_eq!(
            out.status.code(),
            Some(2),
            "input {:?}",
            String::from_utf8_lossy(input)
        );
        assert!(out.stdout.is_empty());
        let err = String::from_utf8(out.stderr).expect("UTF-8");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(needle), "{err:?} should contain {needle:?}");
    }
}

#[test]
fn missing_agent_flag_is_a_usage_error() {
    let out = translate(&["--extension", "2"], b"<Update/>");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--agent"));
}
