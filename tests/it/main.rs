//! The integration tests: one crate, one module per area.

mod bad_input;
mod bugs;
mod checkpoint;
mod cli_errors;
mod engine;
mod export;
mod fuzz_smoke;
mod golden;
mod lessons;
mod render;
mod shapes;
mod stepper;
mod support;
