//! Choosing an organization, shared by `login` and `switch-org`: by name (case-insensitive),
//! slug or id when one is named; by asking on a terminal when there are several; never by
//! waiting for input that cannot come. A stop ends the request and the question at once, and
//! a message lists at most [`LISTED`] names.

use crate::api::ApiClient;
use crate::api::me::Org;
use crate::commands::Ctx;
use crate::exit::{CliError, signal};

/// Most organization names a message lists; the others are counted.
const LISTED: usize = 10;
/// Longest organization name a message shows whole.
const NAME_CHARS: usize = 60;

/// The user's organizations (`GET /me/orgs`), or why not (after `context`); a stop ends the
/// wait.
pub fn list(client: &ApiClient, context: &str) -> Result<Vec<Org>, CliError> {
    let client = client.clone();
    signal::run(move || client.my_orgs())?.map_err(|e| CliError::new(format!("{context}{e}")))
}

/// What [`pick`] decided.
pub enum Picked {
    One(Org),
    /// Several, and no terminal to ask on: their names, comma-separated.
    Ask(String),
}

/// The only org, or the one the user picks on a terminal.
pub fn pick(ctx: &Ctx, orgs: &[Org], title: &str) -> Result<Picked, CliError> {
    match orgs {
        [] => Err(CliError::new("No organizations found for this user.")),
        [only] => Ok(Picked::One(only.clone())),
        many if crate::term::prompt::can_prompt() && ctx.out.human() => {
            let names: Vec<String> = many.iter().map(label).collect();
            match ctx.out.choose(title, &names) {
                Some(i) => Ok(Picked::One(many[i].clone())),
                None => {
                    // No answer because of a stop ends as that stop.
                    signal::check()?;
                    Err(CliError::new("Cancelled."))
                }
            }
        }
        many => Ok(Picked::Ask(names(many))),
    }
}

fn label(o: &Org) -> String {
    match &o.slug {
        Some(slug) if *slug != o.name => format!("{} ({slug})", o.name),
        _ => o.name.clone(),
    }
}

/// The first [`LISTED`] names, comma-separated, each cut at [`NAME_CHARS`], then how many
/// more there are.
fn names(orgs: &[Org]) -> String {
    let mut out = orgs
        .iter()
        .take(LISTED)
        .map(|o| match o.name.char_indices().nth(NAME_CHARS) {
            Some((at, _)) => format!("{}…", &o.name[..at]),
            None => o.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    if orgs.len() > LISTED {
        out.push_str(&format!(" … and {} more", orgs.len() - LISTED));
    }
    out
}

/// The org named `wanted`: an exact name match ignoring case, else an exact slug, else an
/// exact id.
pub fn find<'a>(orgs: &'a [Org], wanted: &str) -> Result<&'a Org, CliError> {
    let wanted = wanted.trim();
    let by_name: Vec<&Org> = orgs
        .iter()
        .filter(|o| o.name.eq_ignore_ascii_case(wanted))
        .collect();
    match by_name.as_slice() {
        [one] => return Ok(one),
        [_, _, ..] => {
            return Err(CliError::new(format!(
                "More than one organization is named \"{wanted}\". Run `dcd switch-org` without an argument to choose, or give its slug or id."
            )));
        }
        [] => {}
    }
    orgs.iter()
        .find(|o| o.slug.as_deref() == Some(wanted))
        .or_else(|| orgs.iter().find(|o| o.id == wanted))
        .ok_or_else(|| {
            CliError::new(format!(
                "No org named \"{wanted}\". Available: {}",
                names(orgs)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str, name: &str, slug: Option<&str>) -> Org {
        Org {
            id: id.into(),
            name: name.into(),
            slug: slug.map(str::to_string),
        }
    }

    #[test]
    fn name_then_slug_then_id() {
        let orgs = [
            org("1", "Acme", Some("acme")),
            org("2", "Beta Labs", Some("beta")),
            org("3", "acme", None),
        ];
        assert!(
            find(&orgs, "ACME")
                .unwrap_err()
                .message
                .contains("More than one")
        );
        assert_eq!(find(&orgs, "beta labs").unwrap().id, "2");
        assert_eq!(find(&orgs, "beta").unwrap().id, "2");
        assert_eq!(find(&orgs, "3").unwrap().name, "acme");
        let e = find(&orgs, "nope").unwrap_err().message;
        assert_eq!(e, "No org named \"nope\". Available: Acme, Beta Labs, acme");
    }

    #[test]
    fn a_message_lists_ten_names_and_counts_the_rest() {
        let many: Vec<Org> = (0..20_000)
            .map(|i| org(&i.to_string(), &format!("Org {i}"), None))
            .collect();
        let listed = names(&many);
        assert!(
            listed.starts_with("Org 0, Org 1, ") && listed.ends_with("Org 9 … and 19990 more"),
            "{listed}"
        );
        let long = [org("1", &"x".repeat(5_000), None)];
        assert_eq!(names(&long).chars().count(), NAME_CHARS + 1);
    }
}
