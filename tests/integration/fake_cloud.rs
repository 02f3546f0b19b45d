//! Smoke tests of the fake devicecloud API itself (tests/support/fake_cloud/), over raw TCP.
//!
//! Every end-to-end test drives the fake through the real binary and checks what it
//! recorded, so the fake's timelines, faults, storage, submissions and downloads are proven
//! there. What stays here is the basic contract (a per-request timeline over one kept-alive
//! connection, the recording) and what no end-to-end test uses: the switches `etag(false)`,
//! `tus_bearer` and `estimate`, and `make demo`'s scenario.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

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
// The basic contract
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
// Switches no end-to-end test uses
// ---------------------------------------------------------------------------

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

#[test]
fn tus_bearer_can_be_pinned() {
    let fc = FakeCloud::start(Scenario::default().tus_bearer("the-anon-key"));
    let mut c = Conn::open(&fc);
    assert_eq!(tus_create(&mut c, "o", 1, b"").status, 401);
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
