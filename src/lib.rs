//! attnstep: MiniMind's attention forward pass, one stage at a time, with every tensor shown.

pub mod backend;
pub mod bugs;
pub mod checkpoint;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diff;
pub mod dims;
pub mod error;
pub mod export;
pub(crate) mod files;
pub mod forward;
pub mod lesson;
pub mod memory;
pub mod numeric;
pub(crate) mod plan;
pub(crate) mod presentation;
pub mod presets;
pub mod render;
pub mod report;
pub(crate) mod rope;
pub mod stage;
pub(crate) mod stepper;
pub(crate) mod terminal;
pub mod text;
pub mod trace;
