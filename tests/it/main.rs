//! The integration tests: one crate, one module per area.

mod cli_errors;
mod engine;
mod export;
mod lessons;
mod peak_memory;
mod render;
mod shapes;
mod stepper;
mod support;
