//! Tests of the fake devicecloud API itself (tests/support/fake_cloud.rs), over raw TCP,
//! so that an end-to-end test failing means the CLI is wrong, not the fake.

#[path = "support/fake_cloud.rs"]
mod fake_cloud;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fake_cloud::*;
use serde_json::{Value, json};

const ID: &str = DEFAULT_UPLOAD_ID;

// ---------------------------------------------------------------------------
// A tiny HTTP/1.1 client with keep-alive
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    /// `results[*].status` of a results body.
    fn statuses(&self) -> Vec<String> {
        self.json()["results"]
            .as_array()
            .expect("results array")
            .iter()
            .map(|r| r["status"].as_str().unwrap().to_string())
            .collect()
    }
}

struct Conn {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(fc: &FakeCloud) -> Conn {
        Conn::open_with_timeout(fc, Duration::from_secs(2))
    }
    fn open_with_timeout(fc: &FakeCloud, timeout: Duration) -> Conn {
        let stream = TcpStream::connect(fc.addr()).expect("connect");
        stream.set_read_timeout(Some(timeout)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Conn { stream, reader }
    }

    fn send_raw(&mut self, raw: &[u8]) -> io::Result<Resp> {
        self.stream.write_all(raw)?;
        self.read_response()
    }

    fn request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> io::Result<Resp> {
        let mut raw = format!("{method} {target} HTTP/1.1\r\nhost: fake\r\n");
        for (k, v) in headers {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        raw.push_str("\r\n");
        self.send_raw(raw.as_bytes())
    }

    fn get(&mut self, target: &str) -> Resp {
        self.request("GET", target, &[]).expect("GET")
    }

    fn read_response(&mut self) -> io::Result<Resp> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "EOF before response",
            ));
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        assert!(line.starts_with("HTTP/1.1 "), "{line:?}");
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').expect("header line");
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
        };
        if status != 304 && status != 204 {
            let len: usize = resp
                .header("content-length")
                .expect("every answer has content-length")
                .parse()
                .unwrap();
            resp.body = vec![0; len];
            self.reader.read_exact(&mut resp.body)?;
        }
        Ok(resp)
    }

    /// True when the server closed the connection (EOF or reset) before `timeout`.
    fn closed_by_server(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.reader.read(&mut b), Ok(0))
            || matches!(self.reader.read(&mut b), Err(e) if e.kind() == io::ErrorKind::ConnectionReset)
    }
}

fn results_path() -> String {
    format!("/results/{ID}?view=summary")
}

fn get(fc: &FakeCloud, target: &str) -> Resp {
    Conn::open(fc).get(target)
}

fn two_snapshots() -> Vec<Vec<Value>> {
    vec![
        vec![row(1, "./a.yaml", "RUNNING")],
        vec![duration(row(1, "./a.yaml", "PASSED"), 3.5)],
    ]
}

// ---------------------------------------------------------------------------
// Timeline, keep-alive, recording
// ---------------------------------------------------------------------------

#[test]
fn per_request_timeline_over_one_keep_alive_connection() {
    let fc = FakeCloud::start(Scenario::new(two_snapshots()));
    assert!(fc.url().starts_with("http://127.0.0.1:"));
    assert_eq!(fc.snapshot_index(), 0);
    let mut c = Conn::open(&fc);
    let r0 = c
        .request(
            "GET",
            &results_path(),
            &[("x-app-api-key", "k1"), ("User-Agent", "t/1")],
        )
        .unwrap();
    assert_eq!(r0.status, 200);
    assert_eq!(
        r0.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(r0.header("connection"), Some("keep-alive"));
    assert_eq!(r0.json()["statusCode"], 200);
    assert_eq!(r0.statuses(), ["RUNNING"]);
    // Same socket, second and third request: advance then cap at the last snapshot.
    assert_eq!(c.get(&results_path()).statuses(), ["PASSED"]);
    let r2 = c.get(&results_path());
    assert_eq!(r2.statuses(), ["PASSED"]);
    assert_eq!(r2.json()["results"][0]["duration_seconds"], 3.5);
    assert_eq!(fc.snapshot_index(), 1);

    let reqs = fc.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(fc.count("/results/"), 3);
    assert_eq!(fc.count("/uploads"), 0);
    assert_eq!(fc.results_requests().len(), 3);
    let first = &reqs[0];
    assert_eq!(first.method, "GET");
    assert_eq!(first.path, format!("/results/{ID}"));
    assert_eq!(
        first.query,
        vec![("view".to_string(), "summary".to_string())]
    );
    assert_eq!(first.header("X-App-Api-Key"), Some("k1"));
    assert!(
        first
            .headers
            .iter()
            .any(|(k, v)| k == "user-agent" && v == "t/1")
    );
    assert!(reqs.iter().all(|r| r.status == 200));
    assert!(reqs.iter().all(|r| r.conn == first.conn), "one connection");
    assert_ne!(get(&fc, &results_path()).status, 0);
    assert_ne!(fc.requests()[3].conn, first.conn, "a new connection");
    assert!(reqs.windows(2).all(|w| w[0].at <= w[1].at));
}

#[test]
fn manual_mode_moves_only_when_told() {
    let snaps = vec![
        vec![row(1, "a", "PENDING")],
        vec![row(1, "a", "RUNNING")],
        vec![row(1, "a", "PASSED")],
    ];
    let fc = FakeCloud::start(Scenario::new(snaps).manual());
    let mut c = Conn::open(&fc);
    assert_eq!(c.get(&results_path()).statuses(), ["PENDING"]);
    assert_eq!(c.get(&results_path()).statuses(), ["PENDING"]);
    fc.advance();
    assert_eq!(fc.snapshot_index(), 1);
    assert_eq!(c.get(&results_path()).statuses(), ["RUNNING"]);
    fc.set_snapshot(99);
    assert_eq!(fc.snapshot_index(), 2);
    fc.advance();
    assert_eq!(fc.snapshot_index(), 2);
    assert_eq!(c.get(&results_path()).statuses(), ["PASSED"]);
    fc.set_snapshot(0);
    assert_eq!(c.get(&results_path()).statuses(), ["PENDING"]);
}

#[test]
fn every_mode_follows_the_clock_until_pinned() {
    let snaps = vec![
        vec![row(1, "a", "PENDING")],
        vec![row(1, "a", "RUNNING")],
        vec![row(1, "a", "PASSED")],
    ];
    let fc = FakeCloud::start(Scenario::new(snaps).every(Duration::from_millis(100)));
    assert_eq!(fc.snapshot_index(), 0);
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(get(&fc, &results_path()).statuses(), ["PASSED"]);
    assert_eq!(fc.snapshot_index(), 2);
    fc.set_snapshot(0);
    assert_eq!(get(&fc, &results_path()).statuses(), ["PENDING"]);
    fc.advance();
    assert_eq!(fc.snapshot_index(), 1);
}

// ---------------------------------------------------------------------------
// ETag / 304
// ---------------------------------------------------------------------------

#[test]
fn if_none_match_gets_304_and_counts_as_an_answer() {
    let same = vec![row(1, "a", "RUNNING")];
    let snaps = vec![same.clone(), same, vec![row(1, "a", "PASSED")]];
    let fc = FakeCloud::start(Scenario::new(snaps));
    let mut c = Conn::open(&fc);
    let r0 = c.get(&results_path());
    let tag = r0.header("etag").expect("etag").to_string();
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && tag.len() > 2,
        "{tag}"
    );

    let hdrs = [
        ("If-None-Match", tag.as_str()),
        ("cache-control", "max-age=0"),
    ];
    let r1 = c.request("GET", &results_path(), &hdrs).unwrap();
    assert_eq!(r1.status, 304);
    assert!(r1.body.is_empty());
    assert_eq!(r1.header("etag"), Some(tag.as_str()));
    assert_eq!(r1.header("content-length"), None);

    // The 304 advanced the timeline: snapshot 2 differs, so a full 200 with a new tag.
    let r2 = c.request("GET", &results_path(), &hdrs).unwrap();
    assert_eq!(r2.status, 200);
    assert_eq!(r2.statuses(), ["PASSED"]);
    assert_ne!(r2.header("etag"), Some(tag.as_str()));

    // Weak form and lists match too; a stale tag doesn't.
    let r2tag = r2.header("etag").unwrap().to_string();
    let list = format!("\"nope\", W/{r2tag}");
    assert_eq!(
        c.request("GET", &results_path(), &[("if-none-match", &list)])
            .unwrap()
            .status,
        304
    );
    assert_eq!(
        c.request("GET", &results_path(), &[("if-none-match", &tag)])
            .unwrap()
            .status,
        200
    );

    let statuses: Vec<u16> = fc.results_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 304, 200, 304, 200]);
}

#[test]
fn etag_can_be_switched_off() {
    let fc = FakeCloud::start(Scenario::new(two_snapshots()).etag(false));
    let mut c = Conn::open(&fc);
    let r = c.get(&results_path());
    assert_eq!(r.header("etag"), None);
    let r = c
        .request("GET", &results_path(), &[("if-none-match", "*")])
        .unwrap();
    assert_eq!(r.status, 200);
}

// ---------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------

#[test]
fn answered_faults_and_they_do_not_advance_the_timeline() {
    let sc = Scenario::new(two_snapshots())
        .fault(0, Fault::Status(502))
        .fault(
            1,
            Fault::TooManyRequests {
                retry_after_secs: Some(7),
            },
        )
        .fault(
            2,
            Fault::TooManyRequests {
                retry_after_secs: None,
            },
        )
        .fault(3, Fault::InvalidJson)
        .fault(4, Fault::EmptyResults)
        .fault(5, Fault::ErrorEnvelope(500))
        .fault(6, Fault::NotModified)
        .fault(7, Fault::Status(500));
    let fc = FakeCloud::start(sc);
    let mut c = Conn::open(&fc);

    let r = c.get(&results_path());
    assert_eq!(r.status, 502);
    assert_eq!(
        r.json(),
        json!({"statusCode": 502, "message": "Bad Gateway", "error": "Bad Gateway"})
    );

    let r = c.get(&results_path());
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.json()["statusCode"], 429);
    let r = c.get(&results_path());
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), None);

    let r = c.get(&results_path());
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());

    let r = c.get(&results_path());
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"statusCode": 200, "results": []}))
    );

    let r = c.get(&results_path());
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["statusCode"], 500);
    assert!(r.json()["message"].is_string());
    assert!(r.json().get("results").is_none());

    let r = c.get(&results_path()); // unconditional, still 304
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());

    let r = c.get(&results_path());
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["message"], "Internal server error");

    // None of those moved the timeline.
    assert_eq!(c.get(&results_path()).statuses(), ["RUNNING"]);
    assert_eq!(c.get(&results_path()).statuses(), ["PASSED"]);
    let statuses: Vec<u16> = fc.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [502, 429, 429, 200, 200, 200, 304, 500, 200, 200]);
}

#[test]
fn reset_closes_without_an_answer() {
    let fc = FakeCloud::start(Scenario::new(two_snapshots()).fault(0, Fault::Reset));
    let mut c = Conn::open(&fc);
    match c.request("GET", &results_path(), &[]) {
        Err(e) => assert!(
            matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
            ),
            "{e:?}"
        ),
        Ok(r) => panic!("expected a reset, got {r:?}"),
    }
    assert_eq!(fc.requests()[0].status, 0);
    // Not an answer: the next request still sees snapshot 0.
    assert_eq!(get(&fc, &results_path()).statuses(), ["RUNNING"]);
}

#[test]
fn slow_answers_normally_after_the_delay() {
    let delay = Duration::from_millis(150);
    let fc = FakeCloud::start(Scenario::new(two_snapshots()).fault(0, Fault::Slow(delay)));
    let mut c = Conn::open(&fc);
    let t = Instant::now();
    let r = c.get(&results_path());
    assert!(t.elapsed() >= delay, "{:?}", t.elapsed());
    assert_eq!(r.statuses(), ["RUNNING"]);
    // A slow answer is a normal answer: the timeline moved.
    assert_eq!(c.get(&results_path()).statuses(), ["PASSED"]);
    assert_eq!(fc.requests()[0].status, 200);
}

#[test]
fn hang_outlasts_the_client_read_timeout() {
    let fc = FakeCloud::start(Scenario::new(two_snapshots()).fault(0, Fault::Hang));
    let mut c = Conn::open_with_timeout(&fc, Duration::from_millis(200));
    let t = Instant::now();
    let err = c.request("GET", &results_path(), &[]).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
    assert!(t.elapsed() >= Duration::from_millis(190));
    drop(c);
    assert_eq!(fc.requests()[0].status, 0);
    assert_eq!(get(&fc, &results_path()).statuses(), ["RUNNING"]);
}

// ---------------------------------------------------------------------------
// /uploads/status
// ---------------------------------------------------------------------------

#[test]
fn upload_status_derives_status_tests_and_superseded_by() {
    let a = "./flows/a.yaml";
    let b = "./flows/b.yaml";
    let failed_a = || failed(row(1, a, "FAILED"), "boom");
    let snaps = vec![
        vec![row(1, a, "PENDING"), row(2, b, "QUEUED")],
        vec![row(1, a, "RUNNING"), row(2, b, "QUEUED")],
        vec![
            failed_a(),
            row(2, b, "PASSED"),
            retry(row(3, a, "RUNNING"), 1),
        ],
        vec![
            failed_a(),
            row(2, b, "PASSED"),
            retry(duration(row(3, a, "PASSED"), 12.5), 1),
        ],
        vec![
            failed_a(),
            row(2, b, "PASSED"),
            retry(failed(row(3, a, "FAILED"), "again"), 1),
        ],
        vec![
            superseded(row(1, a, "RUNNING"), "new-upload"),
            row(2, b, "PASSED"),
        ],
    ];
    let sc = Scenario::new(snaps)
        .manual()
        .name("my run/1")
        .created_at("2025-05-05T05:05:05.000Z");
    let fc = FakeCloud::start(sc);
    let mut c = Conn::open(&fc);
    let by_id = format!("/uploads/status?uploadId={ID}");
    let by_name = "/uploads/status?name=my+run%2F1";

    let body = c.get(&by_id).json();
    assert_eq!(body["uploadId"], ID);
    assert_eq!(body["status"], "PENDING");
    assert_eq!(body["name"], "my run/1");
    assert_eq!(body["createdAt"], "2025-05-05T05:05:05.000Z");
    assert_eq!(body["appBinaryId"], "bin-123");
    assert_eq!(
        body["consoleUrl"],
        format!("https://console.devicecloud.dev/results?upload={ID}&result=1")
    );
    assert_eq!(body["tests"].as_array().unwrap().len(), 2);
    assert_eq!(
        body["tests"][0],
        json!({"name": a, "status": "PENDING", "durationSeconds": null, "failReason": null,
               "createdAt": "2025-05-05T05:05:05.000Z"})
    );
    assert!(body.get("supersededBy").is_none());
    assert_eq!(c.get(by_name).json(), body);

    let status_at = |c: &mut Conn, i: usize| {
        fc.set_snapshot(i);
        c.get(&by_id).json()
    };
    assert_eq!(status_at(&mut c, 1)["status"], "RUNNING");
    let running_retry = status_at(&mut c, 2);
    assert_eq!(running_retry["status"], "RUNNING");
    let passed = status_at(&mut c, 3);
    assert_eq!(passed["status"], "PASSED");
    // Only the newest row of each retry chain, original order kept.
    let names: Vec<_> = passed["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, [json!(b), json!(a)]);
    assert_eq!(passed["tests"][1]["durationSeconds"], 12.5);
    let failed_run = status_at(&mut c, 4);
    assert_eq!(failed_run["status"], "FAILED");
    assert_eq!(failed_run["tests"][1]["failReason"], "again");
    let sup = status_at(&mut c, 5);
    assert_eq!(sup["status"], "FAILED");
    assert_eq!(sup["supersededBy"], "new-upload");
    assert_eq!(sup["tests"][0]["status"], "CANCELLED");

    // Errors.
    let r = c.get("/uploads/status?uploadId=nope");
    assert_eq!(
        (r.status, r.json()["statusCode"].clone()),
        (404, json!(404))
    );
    assert_eq!(c.get("/uploads/status?name=other").status, 404);
    let r = c.get("/uploads/status");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "Bad Request");

    // Reading the status never touched the results timeline.
    assert_eq!(fc.count("/uploads/status"), 10);
    assert_eq!(fc.results_requests().len(), 0);
    assert_eq!(
        fc.requests()[1].query,
        vec![("name".into(), "my run/1".into())]
    );
}

#[test]
fn upload_status_faults_and_no_timeline_advance() {
    let sc = Scenario::new(two_snapshots())
        .status_fault(0, Fault::Status(503))
        .status_fault(1, Fault::ErrorEnvelope(401));
    let fc = FakeCloud::start(sc);
    let mut c = Conn::open(&fc);
    let by_id = format!("/uploads/status?uploadId={ID}");
    assert_eq!(c.get(&by_id).status, 503);
    let env = c.get(&by_id);
    assert_eq!(
        (env.status, env.json()["statusCode"].clone()),
        (200, json!(401))
    );
    assert_eq!(c.get(&by_id).json()["status"], "RUNNING");
    assert_eq!(c.get(&by_id).json()["status"], "RUNNING");
    assert_eq!(fc.snapshot_index(), 0);
    // Status faults are counted separately from results faults.
    assert_eq!(c.get(&results_path()).status, 200);
}

// ---------------------------------------------------------------------------
// Auth and routing
// ---------------------------------------------------------------------------

#[test]
fn api_key_auth() {
    let fc = FakeCloud::start(Scenario::new(two_snapshots()).api_key("secret"));
    let mut c = Conn::open(&fc);
    let r = c.get(&results_path());
    assert_eq!(
        (r.status, r.json()),
        (401, json!({"statusCode": 401, "message": "Unauthorized"}))
    );
    let wrong = [("x-app-api-key", "nope")];
    assert_eq!(
        c.request("GET", &results_path(), &wrong).unwrap().status,
        401
    );
    let right = [("x-app-api-key", "secret")];
    assert_eq!(
        c.request("GET", &results_path(), &right).unwrap().status,
        200
    );
    // Every endpoint, including unknown ones.
    assert_eq!(c.get("/uploads/status?uploadId=x").status, 401);
    assert_eq!(c.get("/nothing").status, 401);
    assert_eq!(c.request("GET", "/nothing", &right).unwrap().status, 404);
    // Rejections don't advance the timeline.
    assert_eq!(
        c.request("GET", &results_path(), &right)
            .unwrap()
            .statuses(),
        ["PASSED"]
    );
}

#[test]
fn bearer_auth_with_org() {
    let fc = FakeCloud::start(Scenario::new(two_snapshots()).bearer("tok", "org-1"));
    let mut c = Conn::open(&fc);
    let send = |c: &mut Conn, h: &[(&str, &str)]| c.request("GET", &results_path(), h).unwrap();
    assert_eq!(send(&mut c, &[]).status, 401);
    assert_eq!(
        send(
            &mut c,
            &[("authorization", "Bearer nope"), ("x-dcd-org", "org-1")]
        )
        .status,
        401
    );
    assert_eq!(send(&mut c, &[("x-app-api-key", "tok")]).status, 401);
    let r = send(
        &mut c,
        &[("authorization", "Bearer tok"), ("x-dcd-org", "org-2")],
    );
    assert_eq!(
        (r.status, r.json()),
        (403, json!({"message": "Access denied to org"}))
    );
    assert_eq!(send(&mut c, &[("authorization", "Bearer tok")]).status, 403);
    let r = send(
        &mut c,
        &[("Authorization", "Bearer tok"), ("X-DCD-Org", "org-1")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.statuses(), ["RUNNING"]);
}

#[test]
fn unknown_paths_and_uploads_are_nest_404s() {
    let fc = FakeCloud::start(Scenario::new(two_snapshots()));
    let mut c = Conn::open(&fc);
    let r = c.get("/x");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"statusCode": 404, "message": "Cannot GET /x", "error": "Not Found"})
    );
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let r = c
        .request(
            "POST",
            &format!("/results/{ID}"),
            &[("content-length", "0")],
        )
        .unwrap();
    assert_eq!(r.json()["message"], format!("Cannot POST /results/{ID}"));
    let r = c.get("/results/00000000-0000-0000-0000-000000000000");
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (404, json!("Not Found"))
    );
    // None of it advanced the timeline.
    assert_eq!(c.get(&results_path()).statuses(), ["RUNNING"]);
}

// ---------------------------------------------------------------------------
// HTTP edge cases
// ---------------------------------------------------------------------------

#[test]
fn bodies_chunked_and_sized_are_recorded_on_a_kept_alive_connection() {
    let fc = FakeCloud::start(Scenario::new(two_snapshots()));
    let mut c = Conn::open(&fc);
    let chunked =
        b"POST /uploads/finalise HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n\
                    6;ext=1\r\nhello \r\n5\r\nworld\r\n0\r\ntrailer: x\r\n\r\n";
    assert_eq!(c.send_raw(chunked).unwrap().status, 404);
    let sized = b"POST /uploads/checkForExistingUpload HTTP/1.1\r\ncontent-length: 11\r\n\r\n{\"sha\":\"1\"}";
    assert_eq!(c.send_raw(sized).unwrap().status, 404);
    assert_eq!(c.get(&results_path()).status, 200);
    let reqs = fc.requests();
    assert_eq!(reqs[0].body, b"hello world");
    assert_eq!(reqs[1].body, br#"{"sha":"1"}"#);
    assert_eq!(reqs[1].method, "POST");
    assert_eq!(fc.count("/uploads/"), 2);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let fc = FakeCloud::start(Scenario::new(two_snapshots()));
    let mut c = Conn::open(&fc);
    let one = format!("GET {} HTTP/1.1\r\nhost: x\r\n\r\n", results_path());
    c.stream
        .write_all(format!("{one}{one}").as_bytes())
        .unwrap();
    assert_eq!(c.read_response().unwrap().statuses(), ["RUNNING"]);
    assert_eq!(c.read_response().unwrap().statuses(), ["PASSED"]);
}

#[test]
fn connection_close_is_honoured() {
    let fc = FakeCloud::start(Scenario::new(two_snapshots()));
    let mut c = Conn::open(&fc);
    let r = c
        .request("GET", &results_path(), &[("Connection", "close")])
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed_by_server());
    // HTTP/1.0 without keep-alive closes too.
    let mut c = Conn::open(&fc);
    let raw = format!("GET {} HTTP/1.0\r\n\r\n", results_path());
    assert_eq!(c.send_raw(raw.as_bytes()).unwrap().status, 200);
    assert!(c.closed_by_server());
}

#[test]
fn malformed_requests_get_400_and_close() {
    let fc = FakeCloud::start(Scenario::new(two_snapshots()));
    for raw in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /x HTTP/2.0\r\n\r\n",
        b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST /x HTTP/1.1\r\ncontent-length: lots\r\n\r\n",
        b"POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        b"GET nope HTTP/1.1\r\n\r\n",
        b"\xff\xfe / HTTP/1.1\r\n\r\n",
    ] {
        let mut c = Conn::open(&fc);
        let r = c.send_raw(raw).unwrap();
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(raw));
        assert_eq!(r.json()["statusCode"], 400);
        assert!(c.closed_by_server());
    }
    // The fake is still fine afterwards.
    assert_eq!(get(&fc, &results_path()).statuses(), ["RUNNING"]);
}

#[test]
fn query_strings_are_percent_decoded() {
    assert_eq!(
        parse_query("a=1&b=x%20y+z&c&d=%zz&e=%E2%9C%93&&f=a%3Db"),
        [
            ("a", "1"),
            ("b", "x y z"),
            ("c", ""),
            ("d", "%zz"),
            ("e", "✓"),
            ("f", "a=b"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert_eq!(percent_decode("100%", false), "100%");
    assert_eq!(percent_decode("a+b%2", false), "a+b%2");
}

#[test]
fn dropping_stops_the_server() {
    let fc = FakeCloud::start(Scenario::new(two_snapshots()));
    let addr = fc.addr();
    let mut idle = Conn::open(&fc);
    assert_eq!(idle.get(&results_path()).status, 200);
    let t = Instant::now();
    drop(fc);
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(
        TcpStream::connect(addr).is_err(),
        "still accepting after drop"
    );
    // An idle kept-alive connection is closed soon after, not held forever.
    assert!(idle.closed_by_server());
}

// ---------------------------------------------------------------------------
// Row builders and the demo scenario
// ---------------------------------------------------------------------------

#[test]
fn row_builders() {
    let r = row(7, "./f.yaml", "RUNNING");
    assert_eq!(
        r,
        json!({"id": 7, "test_file_name": "./f.yaml", "status": "RUNNING", "retry_of": null,
               "fail_reason": null, "duration_seconds": null, "simulator_name": "pixel-7-34",
               "config": {"deviceName": "pixel-7", "osVersion": "34"},
               "cancellation_reason": null})
    );
    let keys: Vec<_> = r.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys[..3], ["id", "test_file_name", "status"]);
    let r = duration(failed(retry(r, 3), "nope"), 1.5);
    assert_eq!(
        (r["retry_of"].clone(), r["status"].clone()),
        (json!(3), json!("FAILED"))
    );
    assert_eq!(
        (r["fail_reason"].clone(), r["duration_seconds"].clone()),
        (json!("nope"), json!(1.5))
    );
    let s = superseded(row(1, "f", "RUNNING"), "abc");
    assert_eq!(s["status"], "CANCELLED");
    assert_eq!(s["cancellation_reason"], "superseded_by:abc");
}

#[test]
fn demo_scenario_is_a_believable_passing_run() {
    let sc = demo_scenario();
    assert_eq!(sc.name.as_deref(), Some("demo-run"));
    let Advance::Every(period) = sc.advance else {
        panic!("demo advances with the clock");
    };
    let total = period * (sc.snapshots.len() as u32 - 1);
    assert!((15..=25).contains(&total.as_secs()), "{total:?}");
    let first = &sc.snapshots[0];
    assert!(first.iter().all(|r| r["status"] == "PENDING"));
    let last = sc.snapshots.last().unwrap();
    assert!(
        last.iter()
            .all(|r| matches!(r["status"].as_str(), Some("PASSED" | "FAILED")))
    );
    let failed_row = last
        .iter()
        .find(|r| r["status"] == "FAILED")
        .expect("one failure");
    assert_eq!(failed_row["fail_reason"], "Element not found: 'Pay now'");
    let retry_row = last
        .iter()
        .find(|r| r["retry_of"] == failed_row["id"])
        .expect("a retry");
    assert!(retry_row["id"].as_i64() > failed_row["id"].as_i64());
    let latest = latest_rows(last);
    assert_eq!(latest.len(), 4);
    assert!(latest.iter().all(|r| r["status"] == "PASSED"));
    assert!(
        iso_now().ends_with('Z') && iso_now().len() == 24,
        "{}",
        iso_now()
    );
    assert_eq!(sc.created_at.len(), 24);

    let fc = FakeCloud::start(sc);
    let status = "/uploads/status?name=demo-run";
    assert_eq!(get(&fc, status).json()["status"], "PENDING");
    fc.set_snapshot(usize::MAX);
    let done = get(&fc, status).json();
    assert_eq!(done["status"], "PASSED");
    assert_eq!(done["tests"].as_array().unwrap().len(), 4);
    assert_eq!(
        get(&fc, &results_path()).json()["results"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}
