//! `dcd cloud`: plan the flows, submit the run, wait, download the results (spec A.2).
//! (Being built: `run.rs` is wired in once the planner lands.)

pub mod payload;
