//! moto in server mode: a real AWS API emulator (CloudWatch Logs, S3, Firehose, IAM) on loopback.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{KillOnDrop, free_port, http_status, peers_run, wait_for};

/// A `moto_server` (PyPI `moto[server]`) on a free loopback port, stopped on drop.
///
/// Every AWS service moto emulates answers on the one port, so a client points its endpoint
/// (`--endpoint-url`, `AWS_ENDPOINT_URL`) there. Authentication is off until
/// [`Moto::enforce_auth`]: from then on every request must carry a valid SigV4 signature of an
/// access key created through moto's IAM, allowed by that user's policies.
#[derive(Debug)]
pub struct Moto {
    child: KillOnDrop,
    port: u16,
}

impl Moto {
    /// Starts `moto_server` and waits (up to 60 s) until it answers. `None`, with a note on
    /// stdout, when moto is not installed and `CI` is unset; under `CI` a missing moto fails the
    /// calling test.
    pub fn start() -> Option<Moto> {
        if !peers_run(&[("moto_server", &["-h"])]) {
            return None;
        }
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let mut child = KillOnDrop(child);
        wait_for(
            &format!("moto_server on 127.0.0.1:{port}"),
            Duration::from_secs(60),
            || {
                if let Ok(Some(status)) = child.0.try_wait() {
                    panic!("moto_server exited with {status} before it answered on port {port}");
                }
                http_status(port, "/moto-api/") == 200
            },
        );
        Some(Moto { child, port })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its base URL, `http://127.0.0.1:PORT`: the endpoint of every service.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Turns authentication on: from now on requests need a valid signature of a key made
    /// through moto's IAM and a policy that allows the action (moto's
    /// `/moto-api/reset-auth`).
    ///
    /// # Panics
    ///
    /// When moto does not accept the change.
    pub fn enforce_auth(&self) {
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        let request = format!(
            "POST /moto-api/reset-auth HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Length: 1\r\n\r\n0",
            self.port
        );
        std::io::Write::write_all(&mut stream, request.as_bytes()).expect("ask moto");
        let mut answer = String::new();
        let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
        assert!(
            answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
            "moto refused to enforce authentication: {answer}"
        );
    }

    /// Kills the emulator now, as an endpoint that dies in the middle of a read.
    pub fn kill(&mut self) {
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
    }
}
