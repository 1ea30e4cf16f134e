//! The bundled trained model (`--weights tiny`): its heads, measured through attnstep's own
//! forward pass on the held-out sequences the training script set aside, show the patterns the
//! lessons explain. The thresholds are the issue's; they fail if loading, RoPE or the cache is
//! wrong, since a random or misread model attends nowhere in particular.

use attnstep::checkpoint::{self, Tokens};
use attnstep::trace::TensorId;
use serde_json::Value;

use crate::support;

struct Heldout {
    ids: Vec<u32>,
    first: (usize, usize),
    second: (usize, usize),
}

fn heldout() -> (Vec<Heldout>, (usize, usize), (usize, usize)) {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string("assets/tiny/heldout.json").unwrap())
            .unwrap();
    let pair = |x: &Value| {
        (
            x[0].as_u64().unwrap() as usize,
            x[1].as_u64().unwrap() as usize,
        )
    };
    let head = |x: &Value| {
        (
            x["layer"].as_u64().unwrap() as usize,
            x["head"].as_u64().unwrap() as usize,
        )
    };
    let seqs = v["sequences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Heldout {
            ids: s["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap() as u32)
                .collect(),
            first: pair(&s["first"]),
            second: pair(&s["second"]),
        })
        .collect();
    (
        seqs,
        head(&v["previous_token_head"]),
        head(&v["induction_head"]),
    )
}

/// The attention weights `[query, key]` of `head` in `layer` for the whole sequence.
fn weights(ids: &[u32], layer: usize, head: usize) -> Vec<Vec<f32>> {
    let ckpt = checkpoint::bundled("tiny")
        .expect("tiny is built in")
        .unwrap();
    let tokens = Tokens {
        ids: ids.to_vec(),
        labels: ids.iter().map(|&i| ckpt.label(i)).collect(),
    };
    let trace = ckpt.trace("tiny", &tokens, &[ids.len()], layer).unwrap();
    let w = &trace.steps[0].tensor(TensorId::Weights).unwrap().data;
    (0..ids.len())
        .map(|i| (0..ids.len()).map(|j| w[[0, head, i, j]]).collect())
        .collect()
}

#[test]
fn trained_heads_show_previous_token_and_induction_patterns() {
    let (seqs, prev, induction) = heldout();
    assert!(seqs.len() >= 50, "at least 50 held-out sequences");
    let (mut prev_sum, mut prev_n) = (0.0f64, 0usize);
    let (mut ind_sum, mut uniform_sum, mut ind_n) = (0.0f64, 0.0f64, 0usize);
    for s in &seqs {
        let w = weights(&s.ids, prev.0, prev.1);
        for (i, row) in w.iter().enumerate().skip(1) {
            prev_sum += f64::from(row[i - 1]);
            prev_n += 1;
        }
        let w = weights(&s.ids, induction.0, induction.1);
        for (t, row) in w.iter().enumerate().take(s.second.1).skip(s.second.0) {
            // The token after the matching token of the phrase's first occurrence.
            let target = s.first.0 + (t - s.second.0) + 1;
            assert!(
                target < s.second.0,
                "the target lies before the second occurrence"
            );
            ind_sum += f64::from(row[target]);
            uniform_sum += 1.0 / (t + 1) as f64;
            ind_n += 1;
        }
    }
    let prev_mean = prev_sum / prev_n as f64;
    let ind_mean = ind_sum / ind_n as f64;
    let uniform = uniform_sum / ind_n as f64;
    assert!(
        prev_mean >= 0.5,
        "previous-token head: mean weight on i-1 is {prev_mean:.3}"
    );
    assert!(
        ind_mean >= 0.5,
        "induction head: mean weight on the target is {ind_mean:.3}"
    );
    assert!(
        ind_mean >= 5.0 * uniform,
        "induction head: {ind_mean:.3} is not 5 times the uniform {uniform:.3}"
    );
}

#[test]
fn run_with_the_bundled_model_steps_through_a_trained_layer() {
    let out = support::command()
        .args([
            "run",
            "--weights",
            "tiny",
            "--text",
            "the big dog ran . the big dog",
        ])
        .args([
            "--layer", "1", "--stage", "scores", "--head", "3", "--color", "never",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    support::assert_success(&out);
    assert!(text.contains("scores[b=0, h=3]"), "{text}");
    // Token pieces label the rows (a word-level vocabulary: the words themselves).
    assert!(text.contains(" dog"), "{text}");
}
