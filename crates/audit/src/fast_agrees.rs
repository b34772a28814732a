//! The fast scanner reads every line it accepts exactly as serde does: real and synthetic
//! lines, tricky but valid events, impossible times and mutated lines.

use crate::event::{Decoded, decode_with_serde};
use crate::fast::native;
use crate::request::Request;

/// The fast reading of `text` (a request, or why its times are impossible), or `None` when
/// it leaves the line to serde.
fn fast(text: &str) -> Option<String> {
    native(text).map(|n| format!("{:?}", n.into_request()))
}

/// Serde's reading in the same shape: `Some` with one request or the error that makes the
/// line malformed, `None` for another count of items.
fn serde(text: &str) -> Option<String> {
    let mut out = Vec::new();
    let res = decode_with_serde(text, &mut |d| {
        let item: Result<Request<'_>, String> = match d {
            Decoded::Request(r) => Ok(r),
            Decoded::BadItem(why) => Err(why),
        };
        out.push(format!("{item:?}"));
    });
    match res {
        Ok(()) => (out.len() == 1).then(|| out.remove(0)),
        Err(why) => Some(format!("{:?}", Err::<Request<'_>, String>(why))),
    }
}

fn fixture_lines() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/real/audit");
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        lines.extend(
            text.lines()
                .map(|l| l.trim().to_owned())
                .filter(|l| l.starts_with('{')),
        );
    }
    let mut synth = Vec::new();
    crate::synth::write_synthetic(
        &mut synth,
        &crate::synth::SynthOpts {
            bytes: 200_000,
            ..Default::default()
        },
    )
    .expect("synth");
    lines.extend(
        String::from_utf8(synth)
            .expect("utf8")
            .lines()
            .map(str::to_owned),
    );
    lines
}

#[test]
fn agrees_with_serde_on_real_and_synthetic_lines() {
    let lines = fixture_lines();
    let mut handled = 0;
    for line in &lines {
        let want = serde(line);
        if let Some(got) = fast(line) {
            handled += 1;
            assert_eq!(Some(got), want, "{line}");
        }
    }
    // Every synthetic line and nearly every real native event takes the fast path.
    assert!(
        handled >= lines.len() * 9 / 10,
        "{handled} of {}",
        lines.len()
    );
}

#[test]
fn tricky_but_valid_events_read_like_serde() {
    let cases = [
        r#"{"verb":"get","user":{"username":"al\"ice\u00e9\ud83d\ude00","groups":["a","b\"c"]},"requestURI":"/api/v1/pods?x=\/"}"#,
        r#" { "verb" : "list" , "requestObject" : {"a":[1,-2.5e+3,0,true,false,null,{"b":{}},[]],"c":"}{]["} , "sourceIPs" : [ "1.1.1.1" , "2.2.2.2" ] } "#,
        r#"{"verb":null,"requestURI":"/x","user":null,"objectRef":null,"responseStatus":{"code":null,"message":""}}"#,
        r#"{"verb":"get","responseStatus":{"code":-1},"sourceIPs":[],"annotations":{"k":"v\\"}}"#,
        r#"{"verb":"get","responseStatus":{"code":70000,"message":"m"},"timestamp":"2017-09-11T19:55:05Z"}"#,
        r#"{"verb":"get","impersonatedUser":{"username":"bob"},"objectRef":{"resource":"pods","subresource":"exec","namespace":"ns","apiGroup":""}}"#,
        "{\"verb\":\"get\",\t\"x\":\r1}",
        // Long-running requests may last for hours.
        r#"{"verb":"watch","requestURI":"/api/v1/pods?watch=1","requestReceivedTimestamp":"2024-05-01T10:00:00Z","stageTimestamp":"2024-05-01T15:00:00Z"}"#,
        r#"{"verb":"create","requestURI":"/api/v1/namespaces/a/pods/b/exec","objectRef":{"resource":"pods","subresource":"exec"},"requestReceivedTimestamp":"2024-05-01T10:00:00Z","stageTimestamp":"2024-05-01T15:00:00Z"}"#,
    ];
    for case in cases {
        let got = fast(case);
        assert!(got.is_some(), "not handled: {case}");
        assert!(
            got.as_deref().is_some_and(|g| g.starts_with("Ok(")),
            "{got:?}"
        );
        assert_eq!(got, serde(case), "{case}");
    }
}

#[test]
fn impossible_times_are_refused_alike() {
    // See: issue 15, "an event stamped 0001-01-01 pushed p50 to 83 s".
    let cases = [
        (
            r#"{"verb":"get","requestURI":"/x","requestReceivedTimestamp":"0001-01-01T00:00:00Z","stageTimestamp":"2024-05-01T10:00:00Z"}"#,
            "requestReceivedTimestamp 0001-01-01T00:00:00Z is before 2014, older than Kubernetes: not a real time",
        ),
        (
            r#"{"verb":"get","requestURI":"/x","timestamp":"1970-01-01T00:00:00Z"}"#,
            "timestamp 1970-01-01T00:00:00Z is before 2014, older than Kubernetes: not a real time",
        ),
        (
            r#"{"verb":"get","requestURI":"/x","requestReceivedTimestamp":"2024-05-01T10:00:00Z","stageTimestamp":"9999-01-01T00:00:00Z"}"#,
            "stageTimestamp 9999-01-01T00:00:00Z is more than a day after this machine's clock",
        ),
        (
            r#"{"verb":"get","requestURI":"/x","requestReceivedTimestamp":"2024-05-01T10:00:05Z","stageTimestamp":"2024-05-01T10:00:00Z"}"#,
            "stageTimestamp is 5.000 s before requestReceivedTimestamp",
        ),
        (
            r#"{"verb":"list","requestURI":"/api/v1/pods","requestReceivedTimestamp":"2024-05-01T10:00:00Z","stageTimestamp":"2024-05-01T12:30:00Z"}"#,
            "latency of 2.5 h (stageTimestamp - requestReceivedTimestamp) is longer than any list request that is not long-running can take",
        ),
        (
            r#"{"verb":"get","requestURI":"/x","requestReceivedTimestamp":"yesterday"}"#,
            "requestReceivedTimestamp \"yesterday\" is not an RFC 3339 time",
        ),
    ];
    for (case, why) in cases {
        let got = fast(case);
        assert_eq!(
            got,
            Some(format!("{:?}", Err::<Request<'_>, String>(why.to_owned()))),
            "{case}"
        );
        assert_eq!(got, serde(case), "{case}");
    }
    // Half a second of clock disorder between the two stamps is tolerated.
    let jitter = r#"{"verb":"get","requestURI":"/x","requestReceivedTimestamp":"2024-05-01T10:00:00.5Z","stageTimestamp":"2024-05-01T10:00:00Z"}"#;
    assert!(fast(jitter).is_some_and(|g| g.starts_with("Ok(")));
}

#[test]
fn left_to_serde() {
    let cases = [
        // Envelopes.
        r#"{"kind":"EventList","items":[]}"#,
        r#"{"message":"{}"}"#,
        r#"{"protoPayload":{},"verb":"get"}"#,
        // Duplicates, escaped keys, coercions, bad syntax.
        r#"{"verb":"get","verb":"list"}"#,
        r#"{"verb":"get","user":{"username":"a","username":"b"}}"#,
        r#"{"ver\u0062":"get"}"#,
        r#"{"verb":"get","responseStatus":{"code":200.0}}"#,
        r#"{"verb":"get","responseStatus":{"code":1e2}}"#,
        r#"{"verb":"get","responseStatus":{"code":99999999999999999999}}"#,
        r#"{"verb":"get","user":["alice"]}"#,
        r#"{"verb":"get","x":01}"#,
        r#"{"verb":"get","x":"\x"}"#,
        r#"{"verb":"get","x":"\u12"}"#,
        r#"{"verb":"get","x":[1,]}"#,
        r#"{"verb":"get","x":{"a":1,}}"#,
        r#"{"verb":"get",}"#,
        r#"{"verb":"get"} x"#,
        r#"{"verb":"get","x":tru}"#,
        r#"{"verb":"get","x":-}"#,
        r#"{"verb":"get","x":1.}"#,
        r#"{"verb":"get","sourceIPs":[null]}"#,
        "{\"verb\":\"g\x01et\"}",
        r#"{"verb":"get""#,
        r#"{"kind":"Pod"}"#,
        "[]",
    ];
    for case in cases {
        assert_eq!(fast(case), None, "{case}");
    }
    let deep = format!(
        r#"{{"verb":"get","x":{}1{}}}"#,
        "[".repeat(150),
        "]".repeat(150)
    );
    assert_eq!(fast(&deep), None);
}

#[test]
fn mutated_lines_never_disagree_with_serde() {
    let lines = fixture_lines();
    let alphabet: &[u8] = b"\"\\{}[],:0-e.n tu\x01a/";
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let mut checked = 0;
    for round in 0..6000 {
        let mut bytes = lines[round % lines.len()].clone().into_bytes();
        for _ in 0..1 + next(3) {
            if bytes.is_empty() {
                break;
            }
            let at = next(bytes.len());
            match next(3) {
                0 => {
                    bytes.remove(at);
                }
                1 => bytes.insert(at, alphabet[next(alphabet.len())]),
                _ => bytes.truncate(at.max(1)),
            }
        }
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        if let Some(got) = fast(text) {
            checked += 1;
            assert_eq!(Some(got), serde(text), "{text}");
        }
    }
    assert!(checked > 500, "{checked}");
}
