//! `dcd cloud`: plan the flows, submit the run, wait, download the results (spec A.2).
//! (Being built: the payload comes first.)

pub mod payload;
