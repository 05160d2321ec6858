//! The `esm-emulator` binary: flags, port file, request log, clean exit on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn request(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    request_with(port, method, path, "Content-Type: application/json", body)
}

fn request_with(port: u16, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n\
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
            "--sts-min-duration-seconds",
            "30",
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

    // STS accepts sessions down to --sts-min-duration-seconds.
    let (status, body) = request(
        port,
        "POST",
        "/_emulator/roles",
        r#"{"roleArn":"arn:aws:iam::111111111111:role/r","trust":["*"]}"#,
    );
    assert_eq!(status, 204, "{body}");
    let assume = |seconds: u32| {
        request_with(
            port,
            "POST",
            "/",
            "Content-Type: application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 \
             Credential=AKIDCLI/20260101/eu-west-1/sts/aws4_request, SignedHeaders=host, \
             Signature=00",
            &format!(
                "Action=AssumeRole&Version=2011-06-15&RoleSessionName=cli&DurationSeconds={seconds}\
                 &RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Fr"
            ),
        )
    };
    let (status, body) = assume(30);
    assert_eq!(status, 200, "{body}");
    let (status, body) = assume(29);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("greater than or equal to 30"), "{body}");

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
        log.contains("account=210987654321"),
        "the log names the account: {log}"
    );
    assert!(
        log.contains("POST / 200 sts:AssumeRole account=210987654321"),
        "{log}"
    );
    assert!(
        !log.contains("SessionToken") && !log.contains("RoleSessionName"),
        "STS bodies must not be logged: {log}"
    );
    assert!(
        !log.contains("FunctionName"),
        "bodies must not be logged: {log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
