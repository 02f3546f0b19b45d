//! What the account commands print — `login`, `logout`, `whoami`, `switch-org` — as pure
//! functions of plain data.

use super::Style;
use super::status::{fields, section};
use crate::sanitize::clean;

/// The stored login as `whoami` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whoami {
    pub user: String,
    pub org: String,
    pub env: String,
}

/// `⏺ devicecloud.dev` with the user, org and environment.
pub fn whoami(w: &Whoami, s: Style) -> Vec<String> {
    let mut out = section("devicecloud.dev", s);
    out.extend(fields(
        &[
            ("user", clean(&w.user)),
            ("org", clean(&w.org)),
            ("env", clean(&w.env)),
        ],
        s,
    ));
    out
}

/// The end of a login: who, which org, and how to change org when there are several.
pub fn logged_in(email: &str, org: Option<&str>, orgs: usize, s: Style) -> Vec<String> {
    let mut out = vec![
        String::new(),
        format!(
            "{} {}",
            s.green("✓"),
            s.bold(&format!("Logged in as {}", clean(email)))
        ),
    ];
    if let Some(org) = org {
        out.push(format!("Organization: {}", clean(org)));
    }
    if orgs > 1 {
        out.push(
            s.dim("You belong to several organizations: switch with `dcd switch-org <name>`."),
        );
    }
    out
}

/// `✓ <message>`.
pub fn done(message: &str, s: Style) -> Vec<String> {
    vec![format!("{} {}", s.green("✓"), s.bold(&clean(message)))]
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Style = Style { color: false };

    #[test]
    fn whoami_snapshot() {
        let w = Whoami {
            user: "dev@example.com".into(),
            org: "Acme".into(),
            env: "prod".into(),
        };
        insta::assert_snapshot!(whoami(&w, PLAIN).join("\n"), @r"

        ⏺ devicecloud.dev
            user   dev@example.com
            org    Acme
            env    prod
        ");
    }

    #[test]
    fn logged_in_snapshot() {
        insta::assert_snapshot!(logged_in("a@b.c", Some("Acme"), 2, PLAIN).join("\n"), @r"

        ✓ Logged in as a@b.c
        Organization: Acme
        You belong to several organizations: switch with `dcd switch-org <name>`.
        ");
    }
}
