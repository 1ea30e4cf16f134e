//! The integration tests: one crate, one module per area.

mod architecture;
mod bad_input;
mod bugs;
mod checkpoint;
mod checkpoint_cli;
mod cli_errors;
mod engine;
mod export;
mod fuzz_smoke;
mod golden;
mod hunt;
mod lessons;
mod model_lessons;
mod peak_memory;
mod prose_runs;
mod render;
mod shapes;
mod stage_prose;
mod stepper;
mod support;
mod tiny;
