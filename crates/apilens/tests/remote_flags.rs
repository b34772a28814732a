//! How `--prometheus`, `--amp-workspace`, `--sigv4` and `--sigv4-region` combine on the commands
//! that read through a remote engine: mistakes are told before any request is sent.

use std::process::{Command, Output};

fn apilens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(args)
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap()
}

fn fails_with(args: &[&str], message: &str) {
    let out = apilens(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(message), "{args:?}: {stderr}");
}

#[test]
fn workspace_flags_are_checked_before_any_request() {
    for command in ["query", "report", "dashboard"] {
        let with = |extra: &[&'static str]| {
            let mut args = vec![command];
            if command == "query" {
                args.push("up");
            }
            args.extend_from_slice(extra);
            args
        };
        fails_with(
            &with(&["--amp-workspace", "ws-1"]),
            "workspace ws-1: no region: pass --sigv4-region or set AWS_REGION",
        );
        fails_with(
            &with(&[
                "--amp-workspace",
                "arn:aws:aps:us-west-2:1:workspace/ws-9",
                "--sigv4-region",
                "eu-west-1",
            ]),
            "the ARN is in us-west-2, not eu-west-1",
        );
        // A region without --sigv4 or --amp-workspace is a mistake, not silently unused.
        for alone in [
            &[
                "--prometheus",
                "http://127.0.0.1:9",
                "--sigv4-region",
                "eu-west-1",
            ][..],
            &["--sigv4-region", "eu-west-1"][..],
        ] {
            fails_with(&with(alone), "<--sigv4|--amp-workspace <ID|ARN>>");
        }
        fails_with(
            &with(&[
                "--amp-workspace",
                "ws-1",
                "--prometheus",
                "http://127.0.0.1:9",
            ]),
            "cannot be used with",
        );
    }
}
