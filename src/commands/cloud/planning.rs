//! Step 3 of `dcd cloud`: the plan — which flows run, in what order, with which files —
//! shown as the job block; and `--dry-run`, which stops here after every check a real run
//! makes, listing (or, with `--json`, describing) what would have run.

use super::devices::Checked;
use crate::cli::args::CloudArgs;
use crate::commands::Ctx;
use crate::exit::{CliError, Exit, signal};
use crate::output::Event;
use crate::plan::{self, Plan, PlanOptions};
use crate::render::cloud::{Job, PlanListing, dry_run_json};
use crate::render::json::FlowInfo;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A plan and what the later steps read from it.
pub struct Planned {
    /// Shared with the thread that builds the zip.
    pub plan: Arc<Plan>,
    pub root: PathBuf,
    /// Made on first use ([`Planned::info`]): a dry run never needs it.
    info: std::sync::OnceLock<PlannedFlows>,
}

impl Planned {
    /// The flows' names and tags by portable key.
    pub fn info(&self) -> &PlannedFlows {
        self.info
            .get_or_init(|| PlannedFlows(self.plan.flow_info(&self.root)))
    }
}

/// The flow names and tags the JSON output reports, from the plan.
pub struct PlannedFlows(BTreeMap<String, (String, Vec<String>)>);

impl FlowInfo for PlannedFlows {
    fn flow_name(&self, file: &str) -> Option<String> {
        self.0.get(file).map(|(n, _)| n.clone())
    }
    fn tags(&self, file: &str) -> Vec<String> {
        self.0.get(file).map(|(_, t)| t.clone()).unwrap_or_default()
    }
}

pub fn plan(args: &CloudArgs, ctx: &Ctx, checked: &Checked) -> Result<Planned, CliError> {
    let cwd =
        std::env::current_dir().map_err(|e| CliError::new(format!("No working directory: {e}")))?;
    let x = &args.execution;
    let opts = PlanOptions {
        flows: PathBuf::from(&checked.inputs.flows),
        cwd: cwd.clone(),
        config: x.config.clone(),
        include_tags: x.include_tags.clone(),
        exclude_tags: x.exclude_tags.clone(),
        exclude_flows: x.exclude_flows.clone(),
        per_flow_debug: crate::debug::enabled(),
        keep_sources: !args.dry_run,
    };
    let plan = signal::run(move || plan::plan(&opts))?.map_err(|e| CliError::new(e.0))?;
    for w in &plan.warnings {
        ctx.out.warn(w);
    }
    for d in &plan.debug {
        crate::debug!("{d}");
    }
    let root = plan.root();
    ctx.out
        .emit(Event::Planned(&job(args, &checked.app, &plan, &cwd)));
    Ok(Planned {
        plan: Arc::new(plan),
        root,
        info: std::sync::OnceLock::new(),
    })
}

/// The "Submitting new job" block's data.
fn job(args: &CloudArgs, app: &super::app::App, plan: &Plan, cwd: &Path) -> Job {
    let overrides = plan
        .flow_metadata
        .iter()
        .map(|(path, h)| (path, &h.overrides))
        .filter(|(_, o)| !o.is_empty())
        .map(|(path, o)| {
            let shown = path
                .strip_prefix(cwd)
                .map(|r| format!("./{}", r.display()))
                .unwrap_or_else(|_| path.display().to_string());
            (
                shown,
                o.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            )
        })
        .collect();
    Job {
        // One key per flow: the counts of `test_file_names` and `sequential_flows`.
        flows: plan.flows_to_run.len() + plan.sequence.as_ref().map_or(0, |s| s.flows.len()),
        total_flow_files: plan.total_flow_files,
        app: super::app::label(app),
        options: args.shown_options.clone(),
        overrides,
    }
}

/// `--dry-run`: nothing is uploaded or started.
pub fn dry_run(ctx: &Ctx, planned: &Planned) -> Result<Exit, CliError> {
    let (plan, root) = (&planned.plan, &planned.root);
    let listing = PlanListing {
        flows: plan.test_file_names(root),
        sequential: plan.sequential_flows(root),
        files: plan.zip_entries(root),
    };
    if ctx.json() {
        ctx.out.json(&dry_run_json(&listing));
    } else {
        ctx.out.emit(Event::DryRun(&listing));
    }
    Ok(Exit::Success)
}
