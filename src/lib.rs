//! attnstep: MiniMind's attention forward pass, one stage at a time, with every tensor shown.

pub mod backend;
pub mod config;
pub mod dims;
pub mod forward;
pub mod numeric;
pub mod presets;
pub mod rope;
pub mod trace;
pub mod app;
pub mod cli;
pub mod export;
pub mod memory;
pub mod render;
