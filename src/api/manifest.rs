//! The release manifest (`{"version": …}`) the update check reads: one GET with no auth
//! headers through the shared agent configuration (proxy, TLS, no redirects), under one
//! overall deadline, body capped. Any failure is `None`: the check is silent.

use crate::clock::Timings;
use crate::domain::update;
use crate::net::agent;

/// Largest manifest read.
const MAX_MANIFEST: u64 = 64 << 10;

/// The newest version the manifest at `url` names, or `None` on any failure (network,
/// status other than 200, not JSON, no plausible `version`). Never takes longer than
/// `timings.update_check`.
pub fn latest_version(url: &str, timings: &Timings) -> Option<String> {
    crate::net::tls::install_provider();
    let agent = agent::transfer_agent(timings, url);
    let started = std::time::Instant::now();
    let req = ureq::http::Request::get(url)
        .header("accept", "application/json")
        .body(())
        .ok()?;
    let req = agent
        .configure_request(req)
        .timeout_global(Some(timings.update_check))
        .build();
    let result = agent.run(req);
    let ms = started.elapsed().as_millis();
    let url = crate::debug::redact_url(url);
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            crate::debug!("update check: GET {url} failed after {ms} ms: {e}");
            return None;
        }
    };
    let status = resp.status().as_u16();
    crate::debug!("update check: GET {url} → {status} ({ms} ms)");
    if status != 200 {
        return None;
    }
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_MANIFEST)
        .read_to_vec()
        .ok()?;
    let doc: serde_json::Value = serde_json::from_slice(&body).ok()?;
    update::latest_version(&doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::testserver::{closed_port, resp, serve, stuck};
    use std::time::{Duration, Instant};

    fn t() -> Timings {
        Timings::scaled(0.01)
    }

    #[test]
    fn reads_the_version_of_a_200_json_manifest() {
        let s = serve(vec![resp(
            "200 OK",
            &[("content-type", "application/json")],
            r#"{"version":"9.1.0","url":"x"}"#,
        )]);
        let url = format!("{}/latest.json?channel=beta", s.base);
        assert_eq!(latest_version(&url, &t()).as_deref(), Some("9.1.0"));
        let head = s.requests.recv().unwrap();
        assert!(
            head.starts_with("GET /latest.json?channel=beta HTTP/1.1"),
            "{head}"
        );
        assert!(
            !head.to_ascii_lowercase().contains("x-app-api-key"),
            "{head}"
        );
    }

    #[test]
    fn every_failure_is_silent_none() {
        let s = serve(vec![
            resp("404 Not Found", &[], r#"{"version":"9.0.0"}"#),
            resp("302 Found", &[("location", "http://127.0.0.1:1/")], ""),
            resp("200 OK", &[], "<html>not json</html>"),
            resp("200 OK", &[], r#"{"version":"\u001b[2Jx"}"#),
        ]);
        for _ in 0..4 {
            assert_eq!(latest_version(&format!("{}/m", s.base), &t()), None);
        }
        let refused = format!("http://127.0.0.1:{}/m", closed_port());
        assert_eq!(latest_version(&refused, &t()), None);
        assert_eq!(latest_version("not a url", &t()), None);
    }

    #[test]
    fn a_server_that_never_answers_costs_at_most_the_deadline() {
        // The deadline is short and every other timeout a minute: returning well within the
        // minute means the deadline ended the request (a loaded machine may take seconds).
        let minute = Duration::from_secs(60);
        let timings = Timings {
            update_check: Duration::from_millis(250),
            http_connect: minute,
            http_request: minute,
            transfer_window: minute,
            ..t()
        };
        let addr = stuck(None);
        let started = Instant::now();
        assert_eq!(latest_version(&format!("http://{addr}/m"), &timings), None);
        assert!(started.elapsed() < minute / 2, "{:?}", started.elapsed());
    }

    #[test]
    fn an_oversized_manifest_is_refused() {
        let big = format!(r#"{{"version":"9.0.0","pad":"{}"}}"#, "x".repeat(70_000));
        let s = serve(vec![resp("200 OK", &[], &big)]);
        assert_eq!(latest_version(&format!("{}/m", s.base), &t()), None);
    }
}
