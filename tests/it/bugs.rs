//! Planted slips: each first changes the run at the stage it is about and nowhere earlier;
//! shape-silent slips keep every shape; the cache slips are invisible on a lone prefill.

use attnstep::bugs::{self, Bug};
use attnstep::config::{Config, ConfigSpec};
use attnstep::diff::{self, TraceDiff};
use attnstep::forward;
use attnstep::numeric::{Numeric, Tensor};
use attnstep::trace::{TensorId, Trace};

const TOL: f32 = 1e-6;

/// GQA with a prefill, a chunk and a decode call, and two batch rows, the first left-padded so
/// its first two queries see nothing but padding.
fn config(steps: &[usize]) -> Config {
    let total: usize = steps.iter().sum();
    ConfigSpec {
        hidden_size: Some(16),
        num_attention_heads: Some(4),
        num_key_value_heads: Some(2),
        head_dim: Some(4),
        batch: Some(2),
        steps: Some(steps.to_vec()),
        attention_mask: Some(vec![
            format!("00{}", "1".repeat(total - 2)),
            "1".repeat(total),
        ]),
        seed: Some(7),
        ..Default::default()
    }
    .resolve()
    .unwrap()
}

fn run(cfg: &Config) -> Trace<Tensor> {
    forward::trace(cfg, &mut Numeric::new(cfg.seed))
}

fn with_bug(cfg: &Config, bug: Bug) -> Config {
    Config {
        bug: Some(bug),
        ..cfg.clone()
    }
}

fn compare(cfg: &Config, bug: Bug) -> TraceDiff {
    diff::diff(&run(cfg), &run(&with_bug(cfg, bug)))
}

#[test]
fn every_slip_first_differs_at_its_stage() {
    let cfg = config(&[4, 3, 1]);
    for bug in Bug::ALL {
        if bugs::shape_error(&with_bug(&cfg, bug)).is_some() {
            continue;
        }
        let d = compare(&cfg, bug);
        let first = d
            .first_difference(TOL)
            .unwrap_or_else(|| panic!("{bug} changes nothing"));
        assert_eq!(
            first.stage,
            bug.first_stage(),
            "{bug}: first difference {first:?}"
        );
        // Nothing in an earlier stage of the same step, nor in an earlier step, differs.
        let earlier = d.tensors.iter().filter(|t| {
            t.steps.0 < first.steps.0 || (t.steps == first.steps && t.stage < first.stage)
        });
        for t in earlier {
            assert!(!t.differs(TOL), "{bug}: {t:?} differs before {first:?}");
        }
        if bug.silent_in_shape() {
            assert_eq!(d.first_shape_difference(), None, "{bug} changes a shape");
        }
    }
}

#[test]
fn cache_slips_are_invisible_on_a_lone_prefill() {
    let cfg = config(&[7]);
    for bug in [
        Bug::CausalNotOffset,
        Bug::RopeRestarts,
        Bug::CacheBeforeRope,
    ] {
        let d = compare(&cfg, bug);
        assert_eq!(d.first_difference(TOL), None, "{bug} shows on a prefill");
        // With a cache they show, and only from the second call on.
        let d = compare(&config(&[4, 3, 1]), bug);
        let first = d.first_difference(TOL).expect("differs with a cache");
        assert!(first.steps.0 >= 1, "{bug} already differs in the prefill");
    }
}

#[test]
fn neg_inf_padding_makes_nan_exactly_for_all_padding_rows() {
    let cfg = config(&[4, 3, 1]);
    let buggy = run(&with_bug(&cfg, Bug::PaddingNegInf));
    let faithful = run(&cfg);
    let mask = cfg.attention_mask.as_ref().unwrap();
    for (s, step) in buggy.steps.iter().enumerate() {
        let w = &step.tensor(TensorId::Weights).unwrap().data;
        let ok = &faithful.steps[s].tensor(TensorId::Weights).unwrap().data;
        for b in 0..cfg.batch {
            for i in 0..step.seq_len {
                let q = step.start_pos + i;
                // Causal: query q sees keys 0..=q; the row is all padding when all are 0.
                let all_pad = mask[b][..=q].iter().all(|&m| m == 0);
                for h in 0..cfg.num_attention_heads {
                    let nan = (0..=q).any(|j| w[[b, h, i, j]].is_nan());
                    assert_eq!(nan, all_pad, "step {s} row {b} query {q} head {h}");
                    if all_pad {
                        // MiniMind's -1e9 gives an even spread over the visible keys instead.
                        let even = 1.0 / (q + 1) as f32;
                        assert!((ok[[b, h, i, 0]] - even).abs() < 1e-6);
                    }
                }
            }
        }
    }
}

#[test]
fn values_not_repeated_is_a_shape_error_unless_one_kv_head_broadcasts() {
    let cfg = with_bug(&config(&[4, 1]), Bug::ValuesNotRepeated);
    let msg = bugs::shape_error(&cfg).expect("GQA with 2 KV heads cannot multiply");
    assert!(
        msg.contains("weights @ xv") && msg.contains("4 ≠ 2"),
        "{msg}"
    );
    // With one KV head PyTorch broadcasts it to every query head: same numbers as repeat_kv.
    let mqa = Config {
        num_key_value_heads: 1,
        ..config(&[4, 1])
    };
    assert_eq!(
        bugs::shape_error(&with_bug(&mqa, Bug::ValuesNotRepeated)),
        None
    );
    let d = compare(&mqa, Bug::ValuesNotRepeated);
    let out = d
        .tensors
        .iter()
        .filter(|t| t.tensor == TensorId::Output)
        .map(|t| t.max_abs.unwrap())
        .fold(0.0f32, f32::max);
    assert!(
        out < 1e-6,
        "broadcast values give MiniMind's output, off by {out}"
    );
    assert!(d.first_shape_difference().is_some(), "xv keeps one head");
}

#[test]
fn softmax_over_queries_makes_columns_sum_to_one() {
    let cfg = Config {
        attention_mask: None,
        ..config(&[5])
    };
    let t = run(&with_bug(&cfg, Bug::SoftmaxOverQueries));
    let w = &t.steps[0].tensor(TensorId::Weights).unwrap().data;
    for j in 0..5 {
        let col: f32 = (0..5).map(|i| w[[0, 0, i, j]]).sum();
        assert!((col - 1.0).abs() < 1e-5, "column {j} sums to {col}");
    }
}

#[test]
fn scale_slips_scale_the_scores_by_the_expected_factor() {
    let cfg = config(&[4]);
    let ok = run(&cfg);
    let s = |t: &Trace<Tensor>| t.steps[0].tensor(TensorId::Scores).unwrap().data[[0, 0, 3, 1]];
    let by_hidden = s(&run(&with_bug(&cfg, Bug::ScaleByHidden)));
    let none = s(&run(&with_bug(&cfg, Bug::NoScale)));
    // Faithful divides by √4 = 2; by √16 = 4 instead; or not at all.
    assert!((by_hidden * 4.0 - s(&ok) * 2.0).abs() < 1e-5);
    assert!((none - s(&ok) * 2.0).abs() < 1e-5);
}

#[test]
fn chunked_and_one_shot_prefill_agree_where_they_overlap() {
    // One batch row, so both runs draw the same x: one standard-normal stream over the tokens.
    let single = |steps: &[usize]| Config {
        batch: 1,
        attention_mask: None,
        ..config(steps)
    };
    let one_shot = run(&single(&[6, 1]));
    let chunked = run(&single(&[3, 3, 1]));
    let d = diff::diff(&one_shot, &chunked);
    let last_output = d
        .tensors
        .iter()
        .find(|t| t.steps == (1, 2) && t.tensor == TensorId::Output)
        .expect("the calls ending at 7 are paired");
    assert!(last_output.max_abs.unwrap() < 1e-5, "{last_output:?}");
    // The calls ending at 6 have 6 and 3 new tokens: their query-side shapes differ.
    let shape = d
        .first_shape_difference()
        .expect("seq_len differs at the end-6 calls");
    assert_eq!(shape.steps, (0, 1));
    assert_eq!(
        d.unpaired,
        (vec![], vec![0]),
        "the end-3 call has no partner"
    );
    assert!(
        d.first_difference(1e-5).is_none(),
        "{:?}",
        d.first_difference(1e-5)
    );
}

#[test]
fn the_diff_report_marks_the_first_differing_stage() {
    use attnstep::render::{diff::report, palette::Palette};
    let cfg = config(&[4, 3, 1]);
    let d = compare(&cfg, Bug::NoScale);
    let text = report(&d, ("faithful", "buggy"), 1e-5, &Palette::new(false));
    let marked: Vec<&str> = text.lines().filter(|l| l.starts_with('▶')).collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(marked[0].starts_with("▶ scores"), "{text}");
    assert!(text.contains("only the numbers are wrong"), "{text}");
    // Every stage before the scores in the first call reads "same numbers".
    let first_call: Vec<&str> = text
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with('▶'))
        .collect();
    assert!(first_call.len() >= 7 && first_call.iter().all(|l| l.contains("same numbers")));
}
