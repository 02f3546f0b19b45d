//! Tests of the fake devicecloud API itself (tests/support/fake_cloud/), over raw TCP,
//! so that an end-to-end test failing means the CLI is wrong, not the fake.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::fake_cloud::*;
use crate::support::iso::iso_now;
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

    /// Any method with a body (content-length set).
    fn send(&mut self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut raw = format!(
            "{method} {target} HTTP/1.1\r\nhost: fake\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        raw.push_str("\r\n");
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes).expect(method)
    }

    fn post_json(&mut self, target: &str, body: &Value) -> Resp {
        self.send(
            "POST",
            target,
            &[("content-type", "application/json")],
            body.to_string().as_bytes(),
        )
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
    let sized =
        b"POST /uploads/notAnEndpoint HTTP/1.1\r\ncontent-length: 11\r\n\r\n{\"sha\":\"1\"}";
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

// ---------------------------------------------------------------------------
// Compatibility data, upload URLs, TUS, B2, finalise (docs/http-api.md, "Flow zip upload
// and submission", "App binary upload")
// ---------------------------------------------------------------------------

#[test]
fn compatibility_data_is_served_in_its_envelope_and_configurable() {
    let fc = FakeCloud::start(Scenario::default().api_key("k"));
    let mut c = Conn::open(&fc);
    let r = c
        .request(
            "GET",
            "/results/compatibility/data",
            &[("x-app-api-key", "k")],
        )
        .unwrap();
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["statusCode"], 200);
    assert_eq!(v["data"]["android"]["pixel-7"], json!(["33", "34", "35"]));
    assert_eq!(v["data"]["maestro"]["defaultVersion"], "1.39.13");
    assert_eq!(v["data"]["encryption"]["defaultOn"], false);
    assert_eq!(
        c.get("/results/compatibility/data").status,
        401,
        "API auth applies"
    );

    let fc = FakeCloud::start(Scenario::default().compat(json!({"ios": {}})));
    assert_eq!(
        get(&fc, "/results/compatibility/data").json()["data"],
        json!({"ios": {}})
    );
}

fn tus_create(c: &mut Conn, object: &str, length: usize, first: &[u8]) -> Resp {
    let meta = format!(
        "bucketName {},objectName {},contentType {},cacheControl {}",
        base64_encode(b"organizations"),
        base64_encode(object.as_bytes()),
        base64_encode(b"application/zip"),
        base64_encode(b"3600")
    );
    let len = length.to_string();
    let mut h = vec![
        ("tus-resumable", "1.0.0"),
        ("authorization", "Bearer anon-key"),
        ("x-upsert", "true"),
        ("upload-length", len.as_str()),
        ("upload-metadata", meta.as_str()),
    ];
    if !first.is_empty() {
        h.push(("content-type", "application/offset+octet-stream"));
    }
    c.send("POST", "/storage/v1/upload/resumable", &h, first)
}

/// The path part of an absolute URL the fake handed out.
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest[rest.find('/').unwrap()..].to_string()
}

#[test]
fn tus_assembles_chunks_across_creation_and_patches() {
    let fc = FakeCloud::start(Scenario::default());
    let mut c = Conn::open(&fc);
    let r = c.post_json(
        "/uploads/getFlowUploadUrl",
        &json!({"fileSize": 10, "useTus": true}),
    );
    assert_eq!(r.status, 201);
    let slot = r.json();
    let temp = slot["tempPath"].as_str().unwrap().to_string();
    assert_eq!(slot["path"], slot["tempPath"]);
    assert!(slot["finalPath"].as_str().unwrap().ends_with(".zip"));
    assert!(slot.get("b2").is_none(), "no b2 by default");

    let data: Vec<u8> = (0..10u8).collect();
    // Creation with upload: the first chunk rides along.
    let r = tus_create(&mut c, &temp, data.len(), &data[..4]);
    assert_eq!(r.status, 201, "{:?}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("tus-resumable"), Some("1.0.0"));
    assert_eq!(r.header("upload-offset"), Some("4"));
    let loc = r.header("location").unwrap().to_string();
    assert!(loc.starts_with(&fc.url()), "{loc}");
    let up = path_of(&loc);
    assert_eq!(fc.stored_object(&temp), None, "not complete yet");

    let tus = [
        ("tus-resumable", "1.0.0"),
        ("authorization", "Bearer anon-key"),
    ];
    let patch = |c: &mut Conn, offset: &str, ct: &str, body: &[u8]| {
        let mut h = tus.to_vec();
        h.push(("upload-offset", offset));
        h.push(("content-type", ct));
        c.send("PATCH", &up, &h, body)
    };
    // Wrong offset, wrong content type: refused, nothing appended.
    assert_eq!(
        patch(&mut c, "3", "application/offset+octet-stream", &data[4..]).status,
        409
    );
    assert_eq!(
        patch(&mut c, "4", "application/octet-stream", &data[4..]).status,
        415
    );
    let head = c.send("HEAD", &up, &tus, b"");
    assert_eq!(
        (head.status, head.header("upload-offset")),
        (200, Some("4"))
    );
    assert_eq!(head.header("upload-length"), Some("10"));

    let r = patch(&mut c, "4", "application/offset+octet-stream", &data[4..7]);
    assert_eq!((r.status, r.header("upload-offset")), (204, Some("7")));
    let r = patch(&mut c, "7", "application/offset+octet-stream", &data[7..]);
    assert_eq!((r.status, r.header("upload-offset")), (204, Some("10")));
    assert_eq!(fc.stored_object(&temp), Some(data.clone()));
    let u = &fc.tus_uploads()[0];
    assert_eq!(u.meta("bucketName"), Some("organizations"));
    assert_eq!(u.meta("cacheControl"), Some("3600"));
    assert_eq!((u.offset, u.length), (10, 10));
    // Too much data is refused.
    assert_eq!(
        patch(&mut c, "10", "application/offset+octet-stream", b"x").status,
        413
    );
    // The body of every PATCH was recorded.
    let patches: Vec<_> = fc
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.last().unwrap().body, b"x");

    // Protocol and auth checks; no upsert over an existing object.
    let r = c.send(
        "POST",
        "/storage/v1/upload/resumable",
        &[("upload-length", "1")],
        b"",
    );
    assert_eq!(r.status, 412);
    let r = c.send(
        "POST",
        "/storage/v1/upload/resumable",
        &[("tus-resumable", "1.0.0"), ("upload-length", "1")],
        b"",
    );
    assert_eq!(r.status, 401);
    let meta = format!(
        "bucketName {},objectName {}",
        base64_encode(b"b"),
        base64_encode(temp.as_bytes())
    );
    let r = c.send(
        "POST",
        "/storage/v1/upload/resumable",
        &[
            ("tus-resumable", "1.0.0"),
            ("authorization", "Bearer x"),
            ("upload-length", "1"),
            ("upload-metadata", meta.as_str()),
        ],
        b"",
    );
    assert_eq!(r.status, 409, "exists and no x-upsert");
    assert_eq!(
        c.send("HEAD", "/storage/v1/upload/resumable/tus-9999", &tus, b"")
            .status,
        404
    );
}

#[test]
fn tus_bearer_can_be_pinned() {
    let fc = FakeCloud::start(Scenario::default().tus_bearer("the-anon-key"));
    let mut c = Conn::open(&fc);
    assert_eq!(tus_create(&mut c, "o", 1, b"").status, 401);
}

#[test]
fn b2_simple_s3_and_large_uploads_check_sha1() {
    let data = b"hello b2 world".to_vec();
    let sha = sha1_hex(&data);
    assert_eq!(sha, "fc1a98a456803d966b2acd8e549ff819c8f6fbe9");

    // simple, B2 native
    let fc = FakeCloud::start(Scenario::default().b2(B2Mode::Simple));
    let mut c = Conn::open(&fc);
    let slot = c
        .post_json(
            "/uploads/getBinaryUploadUrl",
            &json!({"platform": "android", "fileSize": 14}),
        )
        .json();
    let simple = &slot["b2"]["simple"];
    assert_eq!(slot["b2"]["strategy"], "simple");
    let url = path_of(simple["uploadUrl"].as_str().unwrap());
    let token = simple["authorizationToken"].as_str().unwrap();
    let name = format!("organizations/{}", slot["finalPath"].as_str().unwrap());
    let enc = name.replace('/', "%2F");
    let bad = c.send(
        "POST",
        &url,
        &[
            ("authorization", token),
            ("x-bz-file-name", &enc),
            ("x-bz-content-sha1", "00"),
        ],
        &data,
    );
    assert_eq!(bad.status, 400);
    let no_auth = c.send(
        "POST",
        &url,
        &[("x-bz-file-name", &enc), ("x-bz-content-sha1", &sha)],
        &data,
    );
    assert_eq!(no_auth.status, 401);
    let ok = c.send(
        "POST",
        &url,
        &[
            ("authorization", token),
            ("x-bz-file-name", &enc),
            ("x-bz-content-sha1", &sha),
        ],
        &data,
    );
    assert_eq!(ok.status, 200);
    assert_eq!(fc.b2_object(&name), Some(data.clone()));

    // simple, S3 pre-signed: PUT, empty token
    let fc = FakeCloud::start(Scenario::default().b2(B2Mode::S3));
    let mut c = Conn::open(&fc);
    let slot = c
        .post_json(
            "/uploads/getFlowUploadUrl",
            &json!({"fileSize": 14, "useTus": true}),
        )
        .json();
    assert_eq!(slot["b2"]["simple"]["authorizationToken"], "");
    let url = slot["b2"]["simple"]["uploadUrl"].as_str().unwrap();
    let r = c.send("PUT", &path_of(url), &[("x-bz-content-sha1", &sha)], &data);
    assert_eq!(r.status, 200);
    let name = format!("organizations/{}", slot["finalPath"].as_str().unwrap());
    assert_eq!(fc.b2_object(&name), Some(data.clone()));

    // large: parts, then finishLargeFile (API) with the SHA-1 list
    let fc = FakeCloud::start(Scenario::default().b2(B2Mode::Large { parts: 2 }));
    let mut c = Conn::open(&fc);
    let slot = c
        .post_json(
            "/uploads/getFlowUploadUrl",
            &json!({"fileSize": 14, "useTus": true}),
        )
        .json();
    let large = &slot["b2"]["large"];
    assert_eq!(slot["b2"]["strategy"], "large");
    let urls = large["uploadPartUrls"].as_array().unwrap();
    assert_eq!(urls.len(), 2);
    let file_id = large["fileId"].as_str().unwrap();
    let (a, b) = data.split_at(7);
    let mut shas = Vec::new();
    for (i, (part, u)) in [a, b].iter().zip(urls).enumerate() {
        let n = (i + 1).to_string();
        let s = sha1_hex(part);
        let r = c.send(
            "POST",
            &path_of(u["uploadUrl"].as_str().unwrap()),
            &[
                ("authorization", u["authorizationToken"].as_str().unwrap()),
                ("x-bz-part-number", &n),
                ("x-bz-content-sha1", &s),
            ],
            part,
        );
        assert_eq!(r.status, 200);
        shas.push(s);
    }
    let wrong = c.post_json(
        "/uploads/finishLargeFile",
        &json!({"fileId": file_id, "partSha1Array": [shas[1], shas[0]]}),
    );
    assert_eq!(wrong.status, 400);
    let r = c.post_json(
        "/uploads/finishLargeFile",
        &json!({"fileId": file_id, "partSha1Array": shas}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["success"], true);
    assert_eq!(
        fc.b2_object(large["fileName"].as_str().unwrap()),
        Some(data)
    );
}

#[test]
fn finalise_needs_the_object_in_storage_then_dedup_finds_the_binary() {
    let fc = FakeCloud::start(Scenario::default().known_binary("abc", "bin-old"));
    let mut c = Conn::open(&fc);
    let r = c.post_json("/uploads/checkForExistingUpload", &json!({"sha": "abc"}));
    assert_eq!(
        (
            r.status,
            r.json()["exists"].clone(),
            r.json()["appBinaryId"].clone()
        ),
        (201, json!(true), json!("bin-old"))
    );
    assert_eq!(
        c.post_json("/uploads/checkForExistingUpload", &json!({"sha": "new"}))
            .json()["exists"],
        false
    );

    let slot = c
        .post_json(
            "/uploads/getBinaryUploadUrl",
            &json!({"platform": "ios", "fileSize": 3}),
        )
        .json();
    assert_eq!(
        c.post_json(
            "/uploads/getBinaryUploadUrl",
            &json!({"platform": "web", "fileSize": 3})
        )
        .status,
        400
    );
    let id = slot["id"].as_str().unwrap();
    let temp = slot["tempPath"].as_str().unwrap();
    let fin = json!({"backblazeSuccess": false, "bytes": 3, "id": id, "metadata": {"appId": "a", "platform": "ios"},
                     "path": temp, "sha": "new", "supabaseSuccess": true});
    assert_eq!(
        c.post_json("/uploads/finaliseUpload", &fin).status,
        400,
        "nothing stored yet"
    );
    assert_eq!(tus_create(&mut c, temp, 3, b"app").status, 201);
    assert_eq!(c.post_json("/uploads/finaliseUpload", &fin).status, 201);
    assert_eq!(fc.finalised(), vec![fin]);
    let r = c
        .post_json("/uploads/checkForExistingUpload", &json!({"sha": "new"}))
        .json();
    assert_eq!(r["appBinaryId"], id);
}

// ---------------------------------------------------------------------------
// Submission, estimate (docs/http-api.md, "The submission payload")
// ---------------------------------------------------------------------------

#[test]
fn json_submission_is_recorded_and_derives_a_passing_timeline() {
    let fc = FakeCloud::start(Scenario::default());
    let mut c = Conn::open(&fc);
    let slot = c
        .post_json(
            "/uploads/getFlowUploadUrl",
            &json!({"fileSize": 3, "useTus": true}),
        )
        .json();
    let temp = slot["tempPath"].as_str().unwrap();
    tus_create(&mut c, temp, 3, b"zip");
    let body = json!({
        "appBinaryId": "bin-1",
        "testFileNames": "[\"flows/a.yaml\",\"flows/b.yaml\"]",
        "sequentialFlows": "[\"flows/seq.yaml\"]",
        "name": "nightly",
        "iOSDevice": "iphone-16",
        "backblazeSuccess": false, "bytes": 3, "id": slot["id"], "path": temp,
        "supabaseSuccess": true, "useTus": true,
    });
    let r = c.post_json("/uploads/submitFlowTest", &body);
    assert_eq!(r.status, 201);
    let v = r.json();
    assert_eq!(v["message"], "Flows uploaded successfully");
    let rows = v["results"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["test_file_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["flows/a.yaml", "flows/b.yaml", "flows/seq.yaml"]);
    for r in rows {
        assert_eq!(r["status"], "PENDING");
        assert_eq!(r["test_upload_id"], ID);
        assert_eq!(r["binary_upload_id"], "bin-1");
        assert_eq!(r["platform"], "ios");
        assert!(r["id"].is_i64() && r["created_at"].is_string() && r["org_id"].is_number());
    }
    let subs = fc.submissions();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].via, "json");
    assert_eq!(subs[0].zip.as_deref(), Some(&b"zip"[..]));
    assert_eq!(
        subs[0].json("testFileNames"),
        Some(json!(["flows/a.yaml", "flows/b.yaml"]))
    );
    assert_eq!(subs[0].str("name"), Some("nightly"));

    // The run that follows: PENDING → RUNNING → PASSED, same ids.
    let ids: Vec<Value> = rows.iter().map(|r| r["id"].clone()).collect();
    let first = c.get(&results_path());
    assert_eq!(first.statuses(), ["PENDING"; 3]);
    assert_eq!(
        first.json()["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect::<Vec<_>>(),
        ids
    );
    assert_eq!(c.get(&results_path()).statuses(), ["RUNNING"; 3]);
    assert_eq!(c.get(&results_path()).statuses(), ["PASSED"; 3]);
    // And status by the submitted name.
    let st = c.get("/uploads/status?name=nightly").json();
    assert_eq!(st["status"], "PASSED");
}

#[test]
fn json_submission_can_be_refused_and_multipart_is_parsed() {
    let fc = FakeCloud::start(Scenario::new(two_snapshots()).submit_json_status(405));
    let mut c = Conn::open(&fc);
    assert_eq!(
        c.post_json("/uploads/submitFlowTest", &json!({})).status,
        405
    );

    let b = "XyZ-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"flowFile.zip\"\r\nContent-Type: application/zip\r\n\r\n").as_bytes());
    body.extend_from_slice(b"PK\x03\x04\r\n--not-the-boundary\x00zip");
    body.extend_from_slice(format!("\r\n--{b}\r\nContent-Disposition: form-data; name=\"testFileNames\"\r\n\r\n[\"a.yaml\"]").as_bytes());
    body.extend_from_slice(format!("\r\n--{b}\r\nContent-Disposition: form-data; name=\"config\"\r\n\r\n{{\"googlePlay\":false}}").as_bytes());
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={b}");
    let r = c.send("POST", "/uploads/flow", &[("content-type", &ct)], &body);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["results"][0]["test_file_name"], "a.yaml");
    let s = &fc.submissions()[0];
    assert_eq!(s.via, "multipart");
    assert_eq!(s.parts, ["file", "testFileNames", "config"]);
    assert_eq!(s.file_name.as_deref(), Some("flowFile.zip"));
    assert_eq!(s.file_type.as_deref(), Some("application/zip"));
    assert_eq!(
        s.zip.as_deref(),
        Some(&b"PK\x03\x04\r\n--not-the-boundary\x00zip"[..])
    );
    assert_eq!(s.json("config"), Some(json!({"googlePlay": false})));
    // The scenario's own timeline still plays.
    assert_eq!(c.get(&results_path()).statuses(), ["RUNNING"]);

    assert_eq!(
        c.send(
            "POST",
            "/uploads/flow",
            &[("content-type", &ct)],
            b"garbage"
        )
        .status,
        400
    );
    assert_eq!(
        c.send(
            "POST",
            "/uploads/flow",
            &[("content-type", "application/json")],
            b"{}"
        )
        .status,
        400
    );
    assert_eq!(fc.submissions().len(), 1);
}

#[test]
fn estimate_matrix_computed_fixed_or_missing() {
    let fc = FakeCloud::start(Scenario::default());
    let mut c = Conn::open(&fc);
    let body = json!({
        "testFileNames": "[\"a.yaml\",\"b.yaml\",\"own.yaml\"]",
        "testFileOverrides": "{\"own.yaml\":{\"IOS_DEVICE\":\"iphone-14\"}}",
        "deviceMatrix": "[{\"iOSDevice\":\"iphone-16\",\"iOSVersion\":\"18\"},{\"iOSDevice\":\"iphone-14\",\"iOSVersion\":\"17\"}]",
    });
    let v = c.post_json("/uploads/estimateMatrix", &body).json();
    assert_eq!(v["cellCount"], 2);
    assert_eq!(v["totalCost"], 1.0);
    assert_eq!(v["excludedFlows"], json!(["own.yaml"]));
    assert_eq!(
        v["columns"][0],
        json!({"deviceName": "iphone-16", "osVersion": "18", "googlePlay": false, "flowCount": 2, "cost": 0.5})
    );
    assert_eq!(
        c.post_json("/uploads/estimateMatrix", &json!({})).status,
        400
    );

    let fc = FakeCloud::start(Scenario::default().estimate(Estimate::Unsupported(404)));
    assert_eq!(
        Conn::open(&fc)
            .post_json("/uploads/estimateMatrix", &body)
            .status,
        404
    );
    let fc =
        FakeCloud::start(Scenario::default().estimate(Estimate::Fixed(json!({"cellCount": 9}))));
    assert_eq!(
        Conn::open(&fc)
            .post_json("/uploads/estimateMatrix", &body)
            .json(),
        json!({"cellCount": 9})
    );
}

#[test]
fn endpoint_faults_count_per_prefix() {
    let fc = FakeCloud::start(
        Scenario::default()
            .endpoint_fault("/uploads/getFlowUploadUrl", 1, Fault::Status(404))
            .endpoint_fault("/uploads/", 0, Fault::Status(503)),
    );
    let mut c = Conn::open(&fc);
    let req = json!({"fileSize": 1, "useTus": true});
    assert_eq!(
        c.post_json("/uploads/getFlowUploadUrl", &req).status,
        503,
        "first /uploads/ request"
    );
    assert_eq!(
        c.post_json("/uploads/getFlowUploadUrl", &req).status,
        404,
        "second getFlowUploadUrl"
    );
    assert_eq!(c.post_json("/uploads/getFlowUploadUrl", &req).status, 201);
}

// ---------------------------------------------------------------------------
// Artifacts and reports (docs/http-api.md, "Endpoints used by this build")
// ---------------------------------------------------------------------------

/// `GET` a manifest, then `POST` it to its bundle URL with these extra headers.
fn fetch_bundle(c: &mut Conn, manifest_path: &str, headers: &[(&str, &str)]) -> Resp {
    let m = c.get(manifest_path);
    assert_eq!(m.status, 200, "{}", String::from_utf8_lossy(&m.body));
    let m = m.json();
    let mut h = vec![("content-type", "application/json")];
    h.extend_from_slice(headers);
    let body = json!({"manifest": m["manifest"], "sig": m["sig"]}).to_string();
    c.send(
        "POST",
        &path_of(m["bundleUrl"].as_str().unwrap()),
        &h,
        body.as_bytes(),
    )
}

#[test]
fn bundles_refuse_credentials_and_stream_the_generated_zip() {
    let fc = FakeCloud::start(Scenario::default().artifacts_bytes(300_000));
    let mut c = Conn::open(&fc);
    let manifest = format!("/results/{ID}/artifacts-bundle?results=FAILED");
    let r = fetch_bundle(&mut c, &manifest, &[("x-app-api-key", "k")]);
    assert_eq!(r.status, 401);
    let r = fetch_bundle(&mut c, &manifest, &[("authorization", "Bearer t")]);
    assert_eq!(r.status, 401);
    let r = fetch_bundle(&mut c, &manifest, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/zip"));
    let want = fc.expected(&Download::ArtifactsBundle("FAILED".into()));
    assert_eq!(want.len(), 300_000);
    assert!(r.body == want, "bundle body differs");
    assert!(want.starts_with(b"PK\x03\x04 dcd fake artifacts bundle results=FAILED"));
    assert_ne!(
        want,
        fc.expected(&Download::ArtifactsInline("FAILED".into()))
    );

    // A tampered manifest is refused.
    let m = c.get(&manifest).json();
    let body = json!({"manifest": {"uploadId": ID}, "sig": m["sig"]}).to_string();
    let r = c.send(
        "POST",
        &path_of(m["bundleUrl"].as_str().unwrap()),
        &[],
        body.as_bytes(),
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        c.get(&format!("/results/{ID}/artifacts-bundle?results=SOME"))
            .status,
        400
    );

    // Inline artifacts and each report.
    let r = c.post_json(
        &format!("/results/{ID}/download"),
        &json!({"results": "ALL"}),
    );
    assert!(r.status == 200 && r.body == fc.expected(&Download::ArtifactsInline("ALL".into())));
    let r = c.get(&format!("/results/{ID}/report"));
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("application/xml"))
    );
    assert!(r.body.starts_with(b"<?xml") && r.body == fc.expected(&Download::Junit));
    let r = c.get(&format!("/allure/{ID}/download"));
    assert!(r.status == 200 && r.body == fc.expected(&Download::Allure));
    let r = c.get(&format!("/results/{ID}/html-report"));
    assert!(r.status == 200 && r.body == fc.expected(&Download::HtmlInline));
    let r = fetch_bundle(&mut c, &format!("/results/{ID}/report-bundle"), &[]);
    assert!(r.status == 200 && r.body == fc.expected(&Download::HtmlBundle));
    // All of it on one kept-alive connection, and every request recorded.
    assert!(fc.requests().iter().all(|r| r.conn == 0));
    let bundle_posts: Vec<_> = fc
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/bundle/"))
        .collect();
    assert_eq!(
        bundle_posts.iter().map(|r| r.status).collect::<Vec<_>>(),
        [401, 401, 200, 403, 200]
    );
}

#[test]
fn download_switches_not_deployed_missing_and_broken_streams() {
    let fc = FakeCloud::start(Scenario::default().bundles(false));
    let mut c = Conn::open(&fc);
    assert_eq!(
        c.get(&format!("/results/{ID}/artifacts-bundle?results=ALL"))
            .status,
        501
    );
    assert_eq!(c.get(&format!("/results/{ID}/report-bundle")).status, 501);

    let fc = FakeCloud::start(Scenario::default().artifacts_missing().reports_missing());
    let mut c = Conn::open(&fc);
    for p in [
        "artifacts-bundle?results=ALL",
        "report",
        "report-bundle",
        "html-report",
    ] {
        assert_eq!(c.get(&format!("/results/{ID}/{p}")).status, 404, "{p}");
    }
    assert_eq!(c.get(&format!("/allure/{ID}/download")).status, 404);
    assert_eq!(
        c.post_json(
            &format!("/results/{ID}/download"),
            &json!({"results": "ALL"})
        )
        .status,
        404
    );
    let other = "00000000-0000-0000-0000-000000000000";
    let fc = FakeCloud::start(Scenario::default());
    assert_eq!(get(&fc, &format!("/results/{other}/report")).status, 404);

    // Cut mid-stream: the full length is announced, fewer bytes arrive, then a reset.
    let fc = FakeCloud::start(
        Scenario::default()
            .artifacts_bytes(100_000)
            .stream_fault("/bundle/", StreamFault::CutAfter(1000)),
    );
    let mut c = Conn::open(&fc);
    let m = c
        .get(&format!("/results/{ID}/artifacts-bundle?results=ALL"))
        .json();
    let body = json!({"manifest": m["manifest"], "sig": m["sig"]}).to_string();
    let raw = format!(
        "POST {} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
        path_of(m["bundleUrl"].as_str().unwrap()),
        body.len()
    );
    match c.send_raw(raw.as_bytes()) {
        Err(_) => {}
        Ok(r) => panic!("a cut body must fail to read, got {} bytes", r.body.len()),
    }
    // The inline endpoint is not affected.
    let r = Conn::open(&fc).post_json(
        &format!("/results/{ID}/download"),
        &json!({"results": "ALL"}),
    );
    assert_eq!(r.body.len(), 100_000);

    // Stalled: bytes stop coming, the connection stays open.
    let fc = FakeCloud::start(
        Scenario::default().stream_fault("/results/", StreamFault::StallAfter(10)),
    );
    let mut c = Conn::open_with_timeout(&fc, Duration::from_millis(300));
    let t = Instant::now();
    let r = c
        .stream
        .write_all(format!("GET /results/{ID}/html-report HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes());
    assert!(r.is_ok());
    assert!(
        c.read_response().is_err(),
        "stalled body times out the reader"
    );
    assert!(t.elapsed() >= Duration::from_millis(250));
}

// ---------------------------------------------------------------------------
// List uploads (docs/http-api.md, "Endpoints used by this build")
// ---------------------------------------------------------------------------

fn some_uploads() -> Vec<Value> {
    vec![
        listed("u1", Some("nightly-1"), "2025-01-01T10:00:00.000Z"),
        listed("u2", Some("Nightly-2"), "2025-01-02T10:00:00.000Z"),
        listed("u3", Some("release"), "2025-01-03T10:00:00.000Z"),
        listed("u4", None, "2025-01-04T10:00:00.000Z"),
    ]
}

#[test]
fn list_filters_sorts_and_pages() {
    let fc = FakeCloud::start(Scenario::default().uploads(some_uploads()));
    let mut c = Conn::open(&fc);
    let ids = |r: &Resp| -> Vec<String> {
        r.json()["uploads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_string())
            .collect()
    };
    let r = c.get("/uploads/list");
    assert_eq!(ids(&r), ["u4", "u3", "u2", "u1"]);
    assert_eq!(
        (
            r.json()["total"].clone(),
            r.json()["limit"].clone(),
            r.json()["offset"].clone()
        ),
        (json!(4), json!(20), json!(0))
    );
    assert_eq!(
        r.json()["uploads"][0],
        listed("u4", None, "2025-01-04T10:00:00.000Z")
    );
    assert_eq!(
        ids(&c.get("/uploads/list?name=nightly-%2A")),
        ["u2", "u1"],
        "* wildcard, case-insensitive"
    );
    assert_eq!(ids(&c.get("/uploads/list?name=release")), ["u3"]);
    assert_eq!(ids(&c.get("/uploads/list?name=rel")), Vec::<String>::new());
    assert_eq!(
        ids(&c.get("/uploads/list?from=2025-01-02&to=2025-01-03")),
        ["u3", "u2"],
        "a bare --to date is inclusive"
    );
    assert_eq!(
        ids(&c.get("/uploads/list?from=2025-01-02T10:00:01Z")),
        ["u4", "u3"]
    );
    let page = c.get("/uploads/list?limit=2&offset=1");
    assert_eq!(ids(&page), ["u3", "u2"]);
    assert_eq!(
        (
            page.json()["total"].clone(),
            page.json()["limit"].clone(),
            page.json()["offset"].clone()
        ),
        (json!(4), json!(2), json!(1))
    );
    assert_eq!(c.get("/uploads/list?from=yesterday").status, 400);
    assert_eq!(c.get("/uploads/list?limit=-1").status, 400);
    assert_eq!(fc.requests()[1].query_param("name"), Some("nightly-*"));
}

#[test]
fn helpers_wildcards_dates_base64_multipart() {
    assert!(wildcard_match("a*c", "ABBC"));
    assert!(wildcard_match("*", ""));
    assert!(wildcard_match("*-*-x", "a-b-c-x"));
    assert!(!wildcard_match("a*c", "abd"));
    assert_eq!(parse_date("1970-01-02", false), Some(86_400));
    assert_eq!(parse_date("1970-01-02", true), Some(2 * 86_400 - 1));
    assert_eq!(parse_date("1970-01-01T01:00+01:00", false), Some(0));
    assert_eq!(parse_date("1970-01-01T00:00:10.5Z", false), Some(10));
    assert_eq!(parse_date("Jan 1", false), None);
    for s in [&b""[..], b"f", b"fo", b"foo", b"foob", b"\xff\x00\x10"] {
        assert_eq!(base64_decode(&base64_encode(s)).as_deref(), Some(s));
    }
    assert_eq!(base64_encode(b"organizations"), "b3JnYW5pemF0aW9ucw==");
    assert_eq!(base64_decode("!!"), None);
    assert!(parse_multipart("multipart/form-data", b"").is_err());
    assert!(
        parse_multipart(
            "multipart/form-data; boundary=b",
            b"--b\r\nno-colon\r\n\r\nx\r\n--b--"
        )
        .is_err()
    );
    let p = parse_multipart(
        "multipart/form-data; boundary=\"b\"",
        b"--b\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nv\r\n--b--\r\n",
    )
    .unwrap();
    assert_eq!((p[0].name.as_str(), p[0].data.as_slice()), ("k", &b"v"[..]));
}
