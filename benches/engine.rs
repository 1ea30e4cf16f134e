//! `cargo bench`: the costs issue 11 sets goals for. The numeric trace of one MiniMind2 prefill
//! (hidden 512, 8 heads, 2 KV heads) at L = 64, 512 and 2048, recording every tensor; the
//! shapes-only trace of Llama 3 70B at a 128k-token prefill; and drawing the softmax stage of a
//! MiniMind2 trace at L = 4096, as `run --stage softmax` and the stepper do. Traces are dropped
//! outside the timed part.

use std::hint::black_box;
use std::time::Duration;

use attnstep::backend::Shapes;
use attnstep::config::{Config, ConfigSpec};
use attnstep::forward;
use attnstep::numeric::Numeric;
use attnstep::render::{self, View};
use attnstep::trace::StageId;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn config(preset: &str, seq_len: usize) -> Config {
    ConfigSpec {
        preset: Some(preset.to_string()),
        seq_len: Some(seq_len),
        ..ConfigSpec::default()
    }
    .resolve()
    .expect("a preset resolves")
}

fn numeric_trace(c: &mut Criterion) {
    let mut group = c.benchmark_group("numeric_trace_minimind2");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for seq_len in [64, 512, 2048] {
        let cfg = config("minimind2", seq_len);
        group.bench_with_input(BenchmarkId::from_parameter(seq_len), &cfg, |b, cfg| {
            b.iter_with_large_drop(|| forward::trace(cfg, &mut Numeric::new(cfg.seed)));
        });
    }
    group.finish();
}

fn symbolic_trace(c: &mut Criterion) {
    let cfg = config("llama-3-70b", 128 * 1024);
    c.bench_function("shapes_trace_llama-3-70b_128k", |b| {
        b.iter(|| forward::trace(black_box(&cfg), &mut Shapes));
    });
}

fn render_softmax(c: &mut Criterion) {
    let cfg = config("minimind2", 4096);
    let trace = forward::trace(&cfg, &mut Numeric::new(cfg.seed));
    let stage = trace.steps[0]
        .stages
        .iter()
        .position(|s| s.id == StageId::Softmax)
        .expect("a prefill has a softmax stage");
    let view = View::default();
    let mut group = c.benchmark_group("render_stage");
    group.sample_size(10);
    group.bench_function("softmax_minimind2_4096", |b| {
        b.iter(|| render::render_stage(black_box(&trace), 0, stage, &view));
    });
    group.finish();
}

criterion_group!(benches, numeric_trace, symbolic_trace, render_softmax);
criterion_main!(benches);
