//! Placeholders filled from a run, and their located errors.

use super::*;
use crate::backend::Shapes;
use crate::config::ConfigSpec;

fn trace(spec: ConfigSpec) -> Trace<crate::dims::Shape> {
    crate::forward::trace(&spec.resolve().unwrap(), &mut Shapes)
}

#[test]
fn placeholders_follow_the_step_and_view() {
    let t = trace(ConfigSpec {
        hidden_size: Some(24),
        num_attention_heads: Some(6),
        num_key_value_heads: Some(2),
        steps: Some(vec![2, 5, 1]),
        tokens: Some("a b c d e f g h".into()),
        ..Default::default()
    });
    // Step 2 (index 1) is a chunk at positions 2…6; head 4 reads KV head 4 / 3 = 1, which
    // query heads 3, 4 and 5 read.
    let f = Facts::of(&t, 1, 4, 0);
    let text = "past {past_len}, seq {seq_len}, kv {kv_len}, head {head} reads {kv_head} \
                (n_rep {n_rep}, heads {group_first}…{group_last}), {token:3}, \
                {shape:scores}, {{literal}}";
    assert_eq!(
        fill(text, &f, &t),
        "past 2, seq 5, kv 7, head 4 reads 1 (n_rep 3, heads 3…5), d, \
         [bsz=1, n_heads=6, seq_len=5, kv_len=7], {literal}"
    );
    assert_eq!(fill("{head_first}…{head_last}", &f, &t), "16…19");
    assert_eq!(fill("{sizes:xk_cache}", &f, &t), "[1, 7, 2, 4]");
    assert_eq!(fill("{token:first}–{token:last}", &f, &t), "c–g");
    // 5 new queries: 4 + 3 + 2 + 1 blocked scores.
    assert_eq!(fill("{blocked}", &f, &t), "10");
}

#[test]
fn expressions_are_worked_out_with_precedence() {
    let t = trace(ConfigSpec {
        hidden_size: Some(48),
        num_attention_heads: Some(8),
        num_key_value_heads: Some(2),
        steps: Some(vec![3, 1]),
        ..Default::default()
    });
    let f = Facts::of(&t, 1, 0, 0);
    // head_dim 6, past_len 3.
    assert_eq!(fill("{2*n_kv_heads*head_dim}", &f, &t), "24");
    assert_eq!(fill("{past_len + 1}", &f, &t), "4");
    assert_eq!(fill("{1 + 2 * 3 - 4 / 2}", &f, &t), "5");
    assert_eq!(fill("{n_heads/n_kv_heads}", &f, &t), "4");
    assert_eq!(fill("{head_dim/4}", &f, &t), "1.500");
    assert_eq!(fill("{scale}", &f, &t), "2.449");
    assert_eq!(fill("{1/0}", &f, &t), "(undefined)");
    assert!(validate("{2*}").is_err());
    let e = validate("{2*n_kv_head}").unwrap_err();
    assert!(e.message.contains("did you mean `n_kv_heads`"), "{e:?}");
    assert_eq!(e.written, "{2*n_kv_head}");
}

#[test]
fn masks_and_rope_tables_come_from_the_run() {
    let t = trace(ConfigSpec {
        hidden_size: Some(16),
        num_attention_heads: Some(2),
        num_key_value_heads: Some(2),
        batch: Some(2),
        steps: Some(vec![4, 1]),
        attention_mask: Some(vec!["00111".into(), "11110".into()]),
        rope_theta: Some(10000.0),
        ..Default::default()
    });
    let row0 = Facts::of(&t, 0, 0, 0);
    let row1 = Facts::of(&t, 1, 0, 1);
    assert_eq!(fill("{mask}: {pad_keys}", &row0, &t), "0011: 0…1");
    assert_eq!(fill("{mask}: {pad_keys}", &row1, &t), "11110: 4");
    assert_eq!(fill("{first_real} {first_real}", &row0, &t), "2 2");
    // head_dim 8, theta 10⁴: 1 / 10000^(2i/8) = 1, 0.1, 0.01, 0.001; cos(1) = 0.540.
    assert_eq!(fill("{inv_freq}", &row0, &t), "1, 0.1, 0.01, 0.001");
    assert_eq!(fill("{cos:1}", &row0, &t), "0.540, 0.995, 1.000, 1.000");
    assert_eq!(fill("{sin:1}", &row0, &t), "0.841, 0.100, 0.010, 0.001");
    assert_eq!(significant(0.0000316), "0.0000316");
    assert_eq!(significant(0.0316228), "0.0316");
}

#[test]
fn unknown_names_are_located_with_a_suggestion() {
    let e = validate("ok {kv_lne} rest").unwrap_err();
    assert_eq!(e.offset, 3);
    assert!(e.message.contains("did you mean `kv_len`"), "{}", e.message);
    assert!(
        validate("{shape:scroes}")
            .unwrap_err()
            .message
            .contains("`scores`")
    );
    assert!(validate("open { never").is_err());
    assert!(validate("stray } brace").is_err());
    assert!(validate("{token:x}").is_err());
    assert_eq!(max_token("{token:2} and {token:9} {token:last}"), Some(9));
    let refs = references("a {token:2} b {sizes:xq_norm}").unwrap();
    assert_eq!(
        refs,
        vec![
            (2, "{token:2}".to_string(), Ref::Token(2)),
            (
                14,
                "{sizes:xq_norm}".to_string(),
                Ref::Tensor(TensorId::XqNorm)
            ),
        ]
    );
}

#[test]
fn induction_targets_follow_the_latest_earlier_occurrence() {
    let ids = ["<s>", "a", "b", "c", "a", "b", "a", "a"];
    // Position 4 ("a") saw "a" at 1: target 2. Position 5 ("b") saw "b" at 2: target 3.
    assert_eq!(induction_target_in(&ids, 4), Some(2));
    assert_eq!(induction_target_in(&ids, 5), Some(3));
    // Position 6 ("a"): the latest earlier "a" is 4, so the target is 5.
    assert_eq!(induction_target_in(&ids, 6), Some(5));
    // Position 7 ("a") right after an "a": that one would point at 7 itself, so the one before
    // (position 4) counts, target 5.
    assert_eq!(induction_target_in(&ids, 7), Some(5));
    assert_eq!(induction_target_in(&ids, 3), None);
    assert_eq!(induction_target_in(&ids, 1), None);
}

#[test]
fn attention_placeholders_average_the_weights_they_name() {
    let cfg = ConfigSpec {
        hidden_size: Some(8),
        num_attention_heads: Some(2),
        num_key_value_heads: Some(1),
        tokens: Some("x a b a b".into()),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let t = crate::forward::trace(&cfg, &mut crate::numeric::Numeric::new(3));
    let w = &t.steps[0].tensor(TensorId::Weights).unwrap().data;
    let at = |h: usize, q: usize, k: usize| f64::from(w[[0, h, q, k]]);
    let read = |text: &str, head: usize| fill(text, &Facts::of(&t, 0, head, 0), &t);
    // Head 1: previous token over queries 1..=4, first token likewise.
    let prev = (1..5).map(|q| at(1, q, q - 1)).sum::<f64>() / 4.0;
    let first = (1..5).map(|q| at(1, q, 0)).sum::<f64>() / 4.0;
    assert_eq!(read("{prev_weight}", 1), format!("{prev:.3}"));
    assert_eq!(read("{first_weight}", 1), format!("{first:.3}"));
    // Even spread over queries 1..=4: (1/2 + 1/3 + 1/4 + 1/5) / 4.
    assert_eq!(
        read("{uniform}", 0),
        format!("{:.3}", (0.5 + 1.0 / 3.0 + 0.25 + 0.2) / 4.0)
    );
    // Induction: query 3 ("a") targets 2, query 4 ("b") targets 3.
    let ind = (at(0, 3, 2) + at(0, 4, 3)) / 2.0;
    assert_eq!(read("{induction_weight}", 0), format!("{ind:.3}"));
    assert_eq!(read("{induction_count}", 0), "2");
    assert_eq!(
        read(
            "{induction_query} {token:induction_query} {induction_target} {token:induction_target}",
            0
        ),
        "4 b 3 a"
    );
    assert_eq!(read("{target_weight}", 1), format!("{:.3}", at(1, 4, 3)));
    let ind1 = (at(1, 3, 2) + at(1, 4, 3)) / 2.0;
    let (head, best) = if ind1 > ind { (1, ind1) } else { (0, ind) };
    assert_eq!(
        read("{induction_head} {induction_best}", 0),
        format!("{head} {best:.3}")
    );
    // A run of shapes alone has no numbers to quote.
    let shapes = trace(ConfigSpec::default());
    let f = Facts::of(&shapes, 0, 0, 0);
    assert_eq!(fill("{prev_weight}", &f, &shapes), "(undefined)");
}
