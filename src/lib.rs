//! attnstep: MiniMind's attention forward pass, one stage at a time, with every tensor shown.

pub mod app;
pub mod backend;
pub mod cli;
pub mod config;
pub mod dims;
pub mod export;
pub mod forward;
pub mod lesson;
pub mod memory;
pub mod numeric;
pub mod presentation;
pub mod presets;
pub mod progress;
pub mod render;
pub mod rope;
pub mod shapes;
pub mod text;
pub mod stepper;
pub mod terminal;
pub mod trace;
