//! Any bytes as a client WebSocket text frame: envelope parse, then command
//! parse. Must never panic, and a password must never show in an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_protocol::{Command, Frame};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Frame::parse(text) {
        Ok(frame) => match Command::from_frame(&frame) {
            Ok(cmd) => {
                let _ = cmd.name();
                if let Command::SignIn { password, .. } = &cmd {
                    let shown = format!("{password:?} {password}");
                    let pw = password.expose();
                    if !pw.is_empty() && !"\"***\"".contains(pw) {
                        assert!(!shown.contains(pw), "password shown by Debug/Display");
                    }
                }
                let _ = format!("{cmd:?}");
            }
            Err(e) => {
                let _ = e.to_string();
            }
        },
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
