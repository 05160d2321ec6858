//! The `esm-emulator` binary: flags, port file, request log, clean exit on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn request(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

#[test]
fn binary_serves_seeds_logs_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("esm-emulator-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port_file = dir.join("port");
    let _ = std::fs::remove_file(&port_file);
    let mut child = Command::new(env!("CARGO_BIN_EXE_esm-emulator"))
        .args(["--addr", "127.0.0.1:0", "--port-file"])
        .arg(&port_file)
        .args([
            "--region",
            "eu-west-1",
            "--account",
            "210987654321",
            "--rate-limit",
            "0",
            "--transition-delay-ms",
            "0",
            "--deleting-delay-ms",
            "0",
            "--seed-function",
            "worker",
            "--seed-function",
            "worker:live",
            "--seed-event-source",
            "arn:aws:sqs:eu-west-1:210987654321:q",
            "--require-seeded-sources",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    let port: u16 = loop {
        if let Ok(text) = std::fs::read_to_string(&port_file)
            && let Ok(port) = text.trim().parse()
        {
            break port;
        }
        assert!(Instant::now() < deadline, "no port file");
        std::thread::sleep(Duration::from_millis(20));
    };

    let (status, body) = request(
        port,
        "POST",
        "/2015-03-31/event-source-mappings",
        r#"{"FunctionName":"worker:live","EventSourceArn":"arn:aws:sqs:eu-west-1:210987654321:q"}"#,
    );
    assert_eq!(status, 202, "{body}");
    assert!(body.contains("arn:aws:lambda:eu-west-1:210987654321:function:worker:live"));
    assert!(body.contains("arn:aws:lambda:eu-west-1:210987654321:event-source-mapping:"));
    // Unseeded source is refused (--require-seeded-sources).
    let (status, _) = request(
        port,
        "POST",
        "/2015-03-31/event-source-mappings",
        r#"{"FunctionName":"worker","EventSourceArn":"arn:aws:sqs:eu-west-1:210987654321:other"}"#,
    );
    assert_eq!(status, 400);
    // No rate limit with --rate-limit 0.
    for _ in 0..40 {
        assert_eq!(
            request(port, "GET", "/2015-03-31/event-source-mappings", "").0,
            200
        );
    }

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "emulator did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        log.contains("POST /2015-03-31/event-source-mappings 202"),
        "{log}"
    );
    assert!(
        log.contains("GET /2015-03-31/event-source-mappings 200"),
        "{log}"
    );
    assert!(
        !log.contains("FunctionName"),
        "bodies must not be logged: {log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
