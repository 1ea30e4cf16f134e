//! `cargo bench`: the costs issue 11 sets goals for. The numeric trace of one MiniMind2 prefill
//! (hidden 512, 8 heads, 2 KV heads) at L = 64, 512 and 2048, recording every tensor; the
//! shapes-only trace of Llama 3 70B at a 128k-token prefill; and drawing the softmax stage of a
//! MiniMind2 trace at L = 4096 the way the stepper redraws it (inside its stats cache, first
//! visit). Traces are dropped outside the timed part.

use std::hint::black_box;
use std::time::Duration;

use attnstep::backend::Shapes;
use attnstep::config::{Config, ConfigSpec};
use attnstep::forward;
use attnstep::numeric::Numeric;
use attnstep::render::matrix::StatsCache;
use attnstep::render::{self, View};
use attnstep::trace::StageId;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};

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
    let tensors = || {
        trace.weights.iter().map(|w| &w.value).chain(
            trace
                .steps
                .iter()
                .flat_map(|st| st.tensors().map(|t| &t.value)),
        )
    };
    let mut group = c.benchmark_group("render_stage");
    group.sample_size(10);
    // The stepper's redraw: the stage drawn inside the walk's stats cache. A fresh cache each
    // time, so every drawing is a first visit to the stage; the stepper draws a screen up to
    // three times to fit it, which the second bench measures.
    group.bench_function("softmax_minimind2_4096_first_visit", |b| {
        b.iter_batched(
            || StatsCache::new(tensors()),
            |mut cache| cache.scope(|| render::render_stage(black_box(&trace), 0, stage, &view)),
            BatchSize::LargeInput,
        );
    });
    group.bench_function("softmax_minimind2_4096_three_drawings", |b| {
        b.iter_batched(
            || StatsCache::new(tensors()),
            |mut cache| {
                for rows in [8, 20, 16] {
                    let v = View {
                        max_rows: rows,
                        ..view.clone()
                    };
                    cache.scope(|| render::render_stage(black_box(&trace), 0, stage, &v));
                }
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(benches, numeric_trace, symbolic_trace, render_softmax);
criterion_main!(benches);
