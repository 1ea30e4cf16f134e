//! Lesson prose under flags that change the run: the sentences a student review found false
//! (lessons 10, 11, 12, 13 and 19) are checked against what the configuration implies, worked
//! out from the flags, not copied from the program's output.

use crate::support::{self, state_dir};

/// `attnstep lesson NAME --all --color never FLAGS`, its stdout with white space made single
/// spaces so wrapped phrases can be found.
fn lesson(name: &str, flags: &[&str]) -> String {
    let mut cmd = support::command();
    cmd.env(
        "ATTNSTEP_STATE_DIR",
        state_dir(&format!("prose-runs-{name}")),
    )
    .args(["lesson", name, "--all", "--color", "never"])
    .args(flags);
    let out = cmd.output().unwrap();
    support::assert_success(&out);
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `--steps 2,3,1` with the lesson's own `decode = 2`: a prefill of positions 0…1, a chunk of
/// three tokens at 2…4, then one-token calls at 5, 6 and 7.
const STEPS: [&str; 2] = ["--steps", "2,3,1"];

#[test]
fn rope_lesson_names_the_chunk_it_shows() {
    let out = lesson("rope", &STEPS);
    // Eight positions for a five-word sentence: the positions are numbered, not quoted.
    assert!(!out.contains("red fox runs far away"), "{out}");
    assert!(!out.contains("\"position 2\""), "{out}");
    assert!(!out.contains("then decode steps"), "{out}");
    assert!(
        out.contains("The 3 new keys were just rotated, each for its own position, 2…4."),
        "{out}"
    );
    assert!(out.contains("This call: 3 tokens, positions 2…4"), "{out}");
    for p in 5..=7 {
        assert!(
            out.contains(&format!("The new key was just rotated for position {p}.")),
            "position {p}: {out}"
        );
    }
    // The welcome counts the calls: 3 given plus 2 decode steps, 4 of them after the prefill.
    assert!(out.contains("The run makes 5 forward call(s)"), "{out}");
    assert!(out.contains("then 4 call(s) through the cache"), "{out}");

    let six = lesson("rope", &["--seq-len", "6"]);
    assert!(!six.contains("red fox runs far away"), "{six}");
    assert!(six.contains("the positions are numbered"), "{six}");
    // Its own run (3 + 2 tokens, five words) quotes the sentence.
    let own = lesson("rope", &[]);
    assert!(own.contains("\"red fox runs far away\""), "{own}");
}

#[test]
fn minimind2_names_one_kv_head_multi_query_attention() {
    let out = lesson("minimind2", &["--num-kv-heads", "1"]);
    assert!(!out.contains("GQA"), "{out}");
    assert!(!out.contains("the next 8 the next one"), "{out}");
    assert!(!out.contains("the next one"), "{out}");
    assert!(out.contains("multi-query attention (MQA)"), "{out}");
    // 8 query heads / 1 key/value head: n_rep = 8, everyone reads head 0.
    assert!(out.contains("n_rep = 8 / 1 = 8"), "{out}");
    assert!(out.contains("read KV head 0"), "{out}");

    // The preset's own 2 KV heads for 8 query heads: GQA, groups 0…3 and 4…7.
    let own = lesson("minimind2", &[]);
    assert!(own.contains("grouped-query attention (GQA)"), "{own}");
    assert!(
        own.contains("Query heads 0…3 read key/value head 0, query heads 4…7 key/value head 1"),
        "{own}"
    );
}

#[test]
fn minimind2_ties_the_fused_call_to_the_causal_flag() {
    let out = lesson("minimind2", &["--no-causal"]);
    assert!(!out.contains("is_causal=True"), "{out}");
    assert!(out.contains("is_causal=False"), "{out}");
    let own = lesson("minimind2", &[]);
    assert!(own.contains("is_causal=True"), "{own}");
}

#[test]
fn minimind3_with_one_kv_head_claims_no_second_head_and_no_preset() {
    let out = lesson("minimind3", &["--num-kv-heads", "1"]);
    assert!(!out.contains("share head 1"), "{out}");
    assert!(!out.contains("key/value head 1"), "{out}");
    assert!(!out.contains("MiniMind-3 keeps 1"), "{out}");
    // One KV head of head_dim 768 / 8 = 96: 2 × 1 × 96 = 192 numbers per token and layer.
    assert!(
        out.contains("this run's cache keeps 1 key/value head(s) of 96: 2 × 1 × 96 = 192"),
        "{out}"
    );
}

#[test]
fn mha_gqa_mqa_counts_the_calls_it_makes() {
    let out = lesson("mha-gqa-mqa", &STEPS);
    assert!(!out.contains("then a decode step"), "{out}");
    // 2,3,1 given, no decode added by the lesson: 3 calls, the first a prefill of 2.
    assert!(
        out.contains("3 forward call(s), the first a prefill of 2 token(s)"),
        "{out}"
    );
    assert!(!out.contains("\"the rain fell hard\""), "{out}");
}

#[test]
fn bug_rope_describes_a_chunk_not_two_decode_steps() {
    let out = lesson("bug-rope", &STEPS);
    assert!(!out.contains("two decode steps"), "{out}");
    assert!(!out.contains("the cat sat on"), "{out}");
    assert!(!out.contains("position 4, yet"), "{out}");
    // 2,3,1 plus the lesson's two decode steps: five calls, four after a prefill of 0…1.
    assert!(
        out.contains(
            "The run makes 5 forward calls: a prefill of 2 tokens (positions 0…1), then 4"
        ),
        "{out}"
    );
    assert!(
        out.contains("This call: 3 new tokens, which belong at positions 2…4."),
        "{out}"
    );
    for p in 5..=7 {
        assert!(
            out.contains(&format!(
                "This call: one new token, which belongs at position {p}."
            )),
            "position {p}: {out}"
        );
    }
    // Its own run: the four-word prompt, then "the" and "mat" one at a time.
    let own = lesson("bug-rope", &[]);
    assert!(
        own.contains("This call: the prompt, \"the\" … \"on\", positions 0…3."),
        "{own}"
    );
    assert!(
        own.contains("This call: one new token, \"mat\", which belongs at position 5."),
        "{own}"
    );
}
