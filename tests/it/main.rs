//! The integration tests: one crate, one module per area.

mod bugs;
mod checkpoint;
mod checkpoint_cli;
mod cli_errors;
mod engine;
mod export;
mod golden;
mod hunt;
mod lessons;
mod peak_memory;
mod render;
mod shapes;
mod stepper;
mod support;
