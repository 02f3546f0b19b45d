//! The two devicecloud environments and the URL rules that pick one (docs/config.md,
//! "Environments").
//!
//! There is no `--env` flag: the environment follows from the API URL (or, for a logged-in
//! session, from the `env` stored with it). These are public constants of the service; the
//! Supabase anon keys are public by design (row-level security scopes them).

/// One environment's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Environment {
    pub name: &'static str,
    pub api_url: &'static str,
    pub console_url: &'static str,
    pub supabase_url: &'static str,
    pub supabase_anon_key: &'static str,
}

pub const PROD: Environment = Environment {
    name: "prod",
    api_url: "https://api.devicecloud.dev",
    console_url: "https://console.devicecloud.dev",
    supabase_url: "https://cloud.devicecloud.dev",
    supabase_anon_key: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZSIsInJlZiI6InBneWRucGhiaW1ldGluc2dma2JvIiwicm9sZSI6ImFub24iLCJpYXQiOjE3MDc1OTQzNDYsImV4cCI6MjAyMzE3MDM0Nn0.hAYOMFxxwX1exkQkY9xyQJGC_GhGnyogkj2N-kBkMI8",
};

pub const DEV: Environment = Environment {
    name: "dev",
    api_url: "https://api.dev.devicecloud.dev",
    console_url: "https://dev.console.devicecloud.dev",
    supabase_url: "https://lbmsowehtjwnqlurpemb.supabase.co",
    supabase_anon_key: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZSIsInJlZiI6ImxibXNvd2VodGp3bnFsdXJwZW1iIiwicm9sZSI6ImFub24iLCJpYXQiOjE3MDkyMTg0ODcsImV4cCI6MjAyNDc5NDQ4N30.zeLTMAuZ_WwYvGdeP0kdvL_Zrs-RQee5APPyxmWq7qQ",
};

pub const ALL: [Environment; 2] = [PROD, DEV];

/// An environment by its stored name (`"prod"` / `"dev"`).
pub fn by_name(name: &str) -> Option<Environment> {
    ALL.into_iter().find(|e| e.name == name)
}

/// `dev` if the URL contains `api.dev.` or `localhost`, else `prod`.
pub fn infer_from_api_url(url: &str) -> Environment {
    if url.contains("api.dev.") || url.contains("localhost") {
        DEV
    } else {
        PROD
    }
}

/// The environment whose API URL equals `url` exactly, trailing slashes ignored.
pub fn find_by_api_url(url: &str) -> Option<Environment> {
    let url = url.trim_end_matches('/');
    ALL.into_iter().find(|e| e.api_url == url)
}

/// `flag` (non-blank) > `stored` (non-blank) > prod; trailing slashes removed.
pub fn resolve_api_url(flag: Option<&str>, stored: Option<&str>) -> String {
    let pick = [flag, stored]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or(PROD.api_url);
    pick.trim_end_matches('/').to_string()
}

/// The console's result page for an upload: `<console>/results?upload=<id>&result=<first
/// result id>`, the console of the environment whose API URL matches exactly. Unknown API
/// URLs link to the dev console, as the TypeScript CLI does.
pub fn console_results_url(api_url: &str, upload_id: &str, first_result_id: Option<i64>) -> String {
    let console = find_by_api_url(api_url).unwrap_or(DEV).console_url;
    match first_result_id {
        Some(id) => format!("{console}/results?upload={upload_id}&result={id}"),
        None => format!("{console}/results?upload={upload_id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_url_precedence_is_flag_then_stored_then_prod() {
        assert_eq!(
            resolve_api_url(Some("http://x/"), Some("http://y")),
            "http://x"
        );
        assert_eq!(resolve_api_url(Some("  "), Some("http://y")), "http://y");
        assert_eq!(resolve_api_url(None, None), "https://api.devicecloud.dev");
    }

    #[test]
    fn environment_inference_and_exact_lookup() {
        assert_eq!(
            infer_from_api_url("https://api.dev.devicecloud.dev").name,
            "dev"
        );
        assert_eq!(infer_from_api_url("http://localhost:3000").name, "dev");
        assert_eq!(
            infer_from_api_url("https://api.devicecloud.dev").name,
            "prod"
        );
        assert_eq!(find_by_api_url("https://api.devicecloud.dev/"), Some(PROD));
        assert_eq!(find_by_api_url("http://127.0.0.1:9"), None);
    }

    #[test]
    fn console_url_uses_the_matching_env_else_dev() {
        assert_eq!(
            console_results_url("https://api.devicecloud.dev", "u1", Some(7)),
            "https://console.devicecloud.dev/results?upload=u1&result=7"
        );
        assert_eq!(
            console_results_url("http://127.0.0.1:1234", "u1", None),
            "https://dev.console.devicecloud.dev/results?upload=u1"
        );
    }
}
