//! The release manifest (`{"version": …}`) the update check and `dcd upgrade` read: one GET
//! with no auth headers through the shared agent configuration (proxy, TLS, no redirects),
//! under one overall deadline, body capped. For the update check any failure is `None`: the
//! check is silent; `dcd upgrade` is told why.

use crate::clock::Timings;
use crate::domain::update;
use crate::net::agent;

/// Largest manifest read.
const MAX_MANIFEST: u64 = 64 << 10;

/// The newest version the manifest at `url` names, or `None` on any failure (network,
/// status other than 200, not JSON, no plausible `version`). Never takes longer than
/// `timings.update_check`.
pub fn latest_version(url: &str, timings: &Timings) -> Option<String> {
    match read(url, timings, timings.update_check, "update check") {
        Ok(doc) => update::latest_version(&doc),
        Err(why) => {
            crate::debug!("update check: {why}");
            None
        }
    }
}

/// What `dcd upgrade` reads: the manifest's version, `Ok(None)` when the channel has no
/// release (`"version": null`), or why the manifest could not be used. It waits for the
/// manifest as long as for any API request.
pub fn release(url: &str, timings: &Timings) -> Result<Option<String>, String> {
    let doc = read(url, timings, timings.http_request, "upgrade")?;
    if doc.get("version").is_some_and(serde_json::Value::is_null) {
        return Ok(None);
    }
    update::latest_version(&doc)
        .map(Some)
        .ok_or_else(|| format!("{} names no usable version", crate::debug::redact_url(url)))
}

/// One GET of the manifest for `what` (named in the debug line), within `deadline`: its
/// JSON, or why not. The update check waits briefly; `dcd upgrade` as long as any request.
fn read(
    url: &str,
    timings: &Timings,
    deadline: std::time::Duration,
    what: &str,
) -> Result<serde_json::Value, String> {
    crate::net::tls::install_provider();
    let agent = agent::transfer_agent(timings, url);
    let started = std::time::Instant::now();
    let shown = crate::debug::redact_url(url);
    let req = ureq::http::Request::get(url)
        .header("accept", "application/json")
        .body(())
        .map_err(|e| format!("{shown} is not a usable URL: {e}"))?;
    let req = agent
        .configure_request(req)
        .timeout_global(Some(deadline))
        .build();
    let result = agent.run(req);
    let ms = started.elapsed().as_millis();
    let mut resp = result.map_err(|e| format!("GET {shown} failed after {ms} ms: {e}"))?;
    let status = resp.status().as_u16();
    crate::debug!("{what}: GET {shown} → {status} ({ms} ms)");
    if status != 200 {
        return Err(format!("GET {shown} answered HTTP {status}"));
    }
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_MANIFEST)
        .read_to_vec()
        .map_err(|e| format!("GET {shown}: {e}"))?;
    serde_json::from_slice(&body).map_err(|_| format!("{shown} is not JSON"))
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
