//! The quiz without a terminal: shape and concept questions, answers in every form, names
//! for axes of equal size, scores.

use super::*;
use crate::config::ConfigSpec;
use crate::dims::Shape;
use crate::shape;
use shape::questions as shape_questions;

/// A shape-only trace of a GQA layer: hidden 64, 8 heads, 2 KV heads (head_dim 8),
/// batch 2, a prefill of 5 tokens and one decode token.
fn gqa() -> Trace<Shape> {
    let cfg = ConfigSpec {
        hidden_size: Some(64),
        num_attention_heads: Some(8),
        num_key_value_heads: Some(2),
        batch: Some(2),
        steps: Some(vec![5, 1]),
        ..ConfigSpec::default()
    }
    .resolve()
    .unwrap();
    crate::forward::trace(&cfg, &mut crate::backend::Shapes)
}

fn question(trace: &Trace<Shape>, step: usize, id: StageId, tensor: &str) -> ShapeQuestion {
    let stage = trace.steps[step]
        .stages
        .iter()
        .position(|s| s.id == id)
        .unwrap();
    shape_questions(trace, step, stage)
        .into_iter()
        .find(|q| q.tensor.name() == tensor)
        .unwrap_or_else(|| panic!("no question for {tensor} at {id}"))
}

/// Sizes typed without names.
fn typed(sizes: &[usize]) -> Vec<shape::Typed> {
    sizes
        .iter()
        .map(|&size| shape::Typed { name: None, size })
        .collect()
}

/// The shape questions of a stage, as the quiz asks them.
fn asked(trace: &Trace<Shape>, step: usize, stage: usize) -> Vec<Question> {
    let id = trace.steps[step].stages[stage].id;
    shape_questions(trace, step, stage)
        .into_iter()
        .map(|q| Question {
            step,
            stage,
            id,
            body: Body::Shape(q),
        })
        .collect()
}

fn answered(r: Option<Reply>) -> String {
    match r {
        Some(Reply::Right { answer, .. }) => format!("right: {answer}"),
        Some(Reply::Retry { .. }) => "retry".into(),
        Some(Reply::Reveal { answer, .. }) => format!("reveal: {answer}"),
        Some(Reply::Unreadable(why)) => format!("unreadable: {why}"),
        None => "none".into(),
    }
}

#[test]
fn shapes_are_read_in_every_common_form() {
    let want = Ok(vec![2, 8, 5, 64]);
    for text in [
        "2 8 5 64",
        "[2, 8, 5, 64]",
        "(2,8,5,64)",
        " 2,8,5,64 ",
        "2x8x5x64",
        "2×8×5×64",
        "torch.Size([2, 8, 5, 64])",
        "[bsz=2, n_heads=8, seq_len=5, head_dim=64]",
    ] {
        assert_eq!(parse_shape(text), want, "{text}");
    }
    assert_eq!(
        parse_shape("[1, 5, n_heads·head_dim=512]"),
        Ok(vec![1, 5, 512])
    );
    assert!(parse_shape("").is_err());
    assert!(parse_shape("[]").is_err());
    let e = parse_shape("2 eight 5").unwrap_err();
    assert!(e.contains("'eight'"), "{e}");
    assert!(parse_shape("-1 5").is_err(), "sizes are never negative");
}

#[test]
fn a_stage_asks_once_per_distinct_change() {
    let t = gqa();
    let project = t.steps[0]
        .stages
        .iter()
        .position(|s| s.id == StageId::Project)
        .unwrap();
    let qs = shape_questions(&t, 0, project);
    // xq_proj goes to 8·8 = 64 features, xk_proj and xv_proj both to 2·8 = 16.
    assert_eq!(qs.len(), 2);
    assert_eq!(qs[0].tensor, TensorId::XqProj);
    assert_eq!(qs[0].expected.sizes(), vec![2, 5, 64]);
    assert_eq!(qs[1].tensor, TensorId::XkProj);
    assert_eq!(qs[1].expected.sizes(), vec![2, 5, 16]);
    assert_eq!(qs[1].same, vec![TensorId::XvProj]);
    assert_eq!(qs[0].text(), "xq_proj after q_proj(x)?");
}

#[test]
fn stages_that_keep_shapes_ask_nothing() {
    let t = gqa();
    for (i, sg) in t.steps[0].stages.iter().enumerate() {
        let qs = shape_questions(&t, 0, i);
        if !sg.id.changes_shape() {
            assert!(qs.is_empty(), "{} asked {qs:?}", sg.id);
        }
    }
    // And every stage that changes a shape asks at least one question.
    let asked: Vec<StageId> = (0..t.steps[0].stages.len())
        .filter(|&i| !shape_questions(&t, 0, i).is_empty())
        .map(|i| t.steps[0].stages[i].id)
        .collect();
    let changing: Vec<StageId> = t.steps[0]
        .stages
        .iter()
        .map(|s| s.id)
        .filter(|id| id.changes_shape())
        .collect();
    assert_eq!(asked, changing);
}

#[test]
fn transpose_wrong_dim_is_named_and_explained() {
    let t = gqa();
    let q = question(&t, 0, StageId::Transpose, "xq_t");
    assert_eq!(q.text(), "xq_t after xq.transpose(1, 2)?");
    assert_eq!(
        q.before,
        shape![(Bsz, 2), (SeqLen, 5), (NHeads, 8), (HeadDim, 8)]
    );
    // n_heads and head_dim are both 8: the numbers alone do not say the transpose is
    // understood.
    assert!(matches!(
        check(&q, &typed(&[2, 8, 5, 8])),
        Verdict::Unnamed(_)
    ));
    let named = parse_answer("2 n_heads=8 5 head_dim=8").unwrap();
    assert_eq!(check(&q, &named), Verdict::Right);
    // Forgetting the transpose: dims 1 and 2 are wrong.
    let Verdict::Wrong(why) = check(&q, &typed(&[2, 5, 8, 8])) else {
        panic!()
    };
    assert_eq!(
        why,
        vec![
            "dim 1 should be n_heads=8, not 5: transpose(1, 2) swaps seq_len and n_heads",
            "dim 2 should be seq_len=5, not 8: transpose(1, 2) swaps seq_len and n_heads",
        ]
    );
}

#[test]
fn decode_step_explains_kv_len_from_the_cache() {
    let t = gqa();
    let q = question(&t, 1, StageId::KvCache, "xk_cache");
    assert_eq!(q.expected.sizes(), vec![2, 6, 2, 8]);
    assert_eq!(q.same, vec![TensorId::XvCache]);
    let Verdict::Wrong(why) = check(&q, &typed(&[2, 1, 2, 8])) else {
        panic!()
    };
    assert_eq!(why.len(), 1);
    assert_eq!(
        why[0],
        "dim 1 should be kv_len=6, not 1: the cache holds past_len=5 earlier tokens plus \
         the seq_len=1 new: kv_len = 6"
    );
    let q = question(&t, 1, StageId::Scores, "scores");
    assert_eq!(q.expected.sizes(), vec![2, 8, 1, 6]);
}

#[test]
fn wrong_rank_and_other_stages_are_explained() {
    let t = gqa();
    let q = question(&t, 0, StageId::RepeatKv, "xk_repeat");
    assert_eq!(q.expected.sizes(), vec![2, 5, 8, 8]);
    let Verdict::Wrong(why) = check(&q, &typed(&[2, 5, 2, 4, 8])) else {
        panic!()
    };
    assert_eq!(
        why,
        vec!["xk_repeat has 4 axes, not 5: bsz, kv_len, n_heads, head_dim"]
    );
    let Verdict::Wrong(why) = check(&q, &typed(&[2, 5, 2, 8])) else {
        panic!()
    };
    assert!(
        why[0].starts_with(
            "dim 2 should be n_heads=8, not 2: repeat_kv copies each of the n_kv_heads=2"
        ),
        "{why:?}"
    );
    let q = question(&t, 0, StageId::MergeHeads, "merged");
    let Verdict::Wrong(why) = check(&q, &typed(&[2, 5, 8])) else {
        panic!()
    };
    assert_eq!(
        why,
        vec![
            "dim 2 should be n_heads·head_dim=64, not 8: reshape lays the n_heads=8 heads \
             of head_dim=8 side by side: n_heads·head_dim=64"
        ]
    );
    // An unchanged axis is explained as kept.
    let Verdict::Wrong(why) = check(&q, &typed(&[1, 5, 64])) else {
        panic!()
    };
    assert!(
        why[0].starts_with("dim 0 should be bsz=2, not 1: output.transpose"),
        "{why:?}"
    );
    assert!(why[0].ends_with("keeps this axis from attn_out"), "{why:?}");
}

#[test]
fn hints_prefer_the_presentation() {
    let t = gqa();
    let q = question(&t, 0, StageId::Scores, "scores");
    assert_eq!(
        q.hint(Some("Think rows × columns.")),
        "Think rows × columns."
    );
    assert!(q.hint(None).contains("head_dim disappears"));
}

#[test]
fn score_counts_first_tries_and_allows_one_retry() {
    let t = gqa();
    let transpose = t.steps[0]
        .stages
        .iter()
        .position(|s| s.id == StageId::Transpose)
        .unwrap();
    let mut quiz = Quiz::default();
    assert!(quiz.enter(0, asked(&t, 0, transpose)));
    assert_eq!(quiz.current().unwrap().topic(), "xq_t");
    assert!(answered(quiz.answer("banana")).starts_with("unreadable"));
    assert_eq!(quiz.tries(), 0, "an unreadable answer is not a try");
    // xq_t is [2, 8, 5, 8]: its two 8s (n_heads, head_dim) must be named.
    let unnamed = answered(quiz.answer("[2, 8, 5, 8]"));
    assert!(
        unnamed.starts_with("unreadable: the sizes are right"),
        "{unnamed}"
    );
    assert_eq!(quiz.tries(), 0, "an unnamed answer is not a try");
    assert_eq!(
        answered(quiz.answer("[2, n_heads=8, 5, head_dim=8]")),
        "right: xq_t is [bsz=2, n_heads=8, seq_len=5, head_dim=8]"
    );
    assert_eq!(quiz.current().unwrap().topic(), "xk_t");
    assert_eq!(answered(quiz.answer("2 5 8 8")), "retry");
    assert!(answered(quiz.answer("2 5 8 8")).starts_with("reveal: xk_t is"));
    assert!(quiz.current().is_none());
    assert_eq!(quiz.score.asked, 2);
    assert_eq!(quiz.score.first_try, 1);
    assert_eq!(quiz.score.to_string(), "1/2 first try");
    assert_eq!(quiz.score.missed_text(), "step 1 transpose (xk_t)");
    // Coming back does not ask again; another variant does.
    assert!(!quiz.enter(0, asked(&t, 0, transpose)));
    assert!(quiz.enter(1, asked(&t, 0, transpose)));
}

#[test]
fn right_on_the_retry_still_counts_as_missed() {
    let t = gqa();
    let scores = t.steps[0]
        .stages
        .iter()
        .position(|s| s.id == StageId::Scores)
        .unwrap();
    let mut quiz = Quiz::default();
    quiz.enter(0, asked(&t, 0, scores));
    assert_eq!(answered(quiz.answer("2 8 5 8")), "retry");
    assert!(answered(quiz.answer("2 8 seq_len=5 kv_len=5")).starts_with("right"));
    assert_eq!(quiz.score.to_string(), "0/1 first try");
    assert_eq!(quiz.score.missed.len(), 1);
}

#[test]
fn abandoning_a_stage_asks_again_later_and_skip_counts_as_missed() {
    let t = gqa();
    let scores = t.steps[0]
        .stages
        .iter()
        .position(|s| s.id == StageId::Scores)
        .unwrap();
    let mut quiz = Quiz::default();
    quiz.enter(0, asked(&t, 0, scores));
    quiz.abandon();
    assert!(quiz.current().is_none());
    assert_eq!(quiz.score.asked, 0);
    assert!(quiz.enter(0, asked(&t, 0, scores)));
    assert!(answered(quiz.skip()).starts_with("reveal"));
    assert_eq!(quiz.score.to_string(), "0/1 first try");
}

#[test]
fn equal_sizes_must_be_named_and_named_right() {
    let t = gqa();
    // scores in the prefill: [bsz=2, n_heads=8, seq_len=5, kv_len=5].
    let q = question(&t, 0, StageId::Scores, "scores");
    assert_eq!(q.ambiguous(), vec![2, 3]);
    assert!(matches!(
        check(&q, &typed(&[2, 8, 5, 5])),
        Verdict::Unnamed(_)
    ));
    let named = parse_answer("2 8 seq_len=5 kv_len=5").unwrap();
    assert_eq!(check(&q, &named), Verdict::Right);
    let swapped = parse_answer("2 8 kv_len=5 seq_len=5").unwrap();
    let Verdict::Wrong(why) = check(&q, &swapped) else {
        panic!()
    };
    assert!(
        why[0].starts_with("dim 2 is seq_len=5, not kv_len"),
        "{why:?}"
    );
    // In the decode step the sizes differ (1 query, 6 keys): numbers alone do.
    let q = question(&t, 1, StageId::Scores, "scores");
    assert!(q.ambiguous().is_empty());
    assert_eq!(check(&q, &typed(&[2, 8, 1, 6])), Verdict::Right);
    // bsz=1 beside one KV head is not asked to be named.
    let mqa = crate::forward::trace(
        &ConfigSpec {
            num_attention_heads: Some(4),
            num_key_value_heads: Some(1),
            steps: Some(vec![3]),
            ..ConfigSpec::default()
        }
        .resolve()
        .unwrap(),
        &mut crate::backend::Shapes,
    );
    assert!(
        question(&mqa, 0, StageId::SplitHeads, "xk_heads")
            .ambiguous()
            .is_empty()
    );
}

#[test]
fn concept_questions_are_asked_at_their_stage_once_per_run_or_call() {
    let cfg = ConfigSpec {
        hidden_size: Some(16),
        num_attention_heads: Some(4),
        num_key_value_heads: Some(2),
        steps: Some(vec![3, 1]),
        ..ConfigSpec::default()
    }
    .resolve()
    .unwrap();
    let t = crate::forward::trace(&cfg, &mut crate::numeric::Numeric::new(1));
    let at = |step: usize, id: StageId| {
        t.steps[step]
            .stages
            .iter()
            .position(|s| s.id == id)
            .unwrap()
    };
    let kinds = [
        QuizKind::Concept(concepts::Kind::KvHead),
        QuizKind::Concept(concepts::Kind::CacheLen),
    ];
    let mut quiz = Quiz::default();
    // Shapes are not asked when the lesson does not name them.
    assert!(!quiz.enter(0, questions(&t, 0, at(0, StageId::Project), &kinds, 0, 0)));
    assert!(quiz.enter(0, questions(&t, 0, at(0, StageId::KvCache), &kinds, 0, 0)));
    let q = quiz.current().unwrap();
    assert_eq!(q.kind(), QuizKind::Concept(concepts::Kind::CacheLen));
    assert_eq!(q.input_help(), "a number");
    // The cache holds 0 + 3 tokens after the prefill.
    let r = answered(quiz.answer("3"));
    assert_eq!(r, "right: the answer is 3");
    assert!(quiz.enter(0, questions(&t, 0, at(0, StageId::RepeatKv), &kinds, 0, 0)));
    assert_eq!(answered(quiz.answer("7")), "retry");
    // 4 heads over 2 KV heads (n_rep 2): the question is about the last head of a group.
    let reveal = quiz.skip();
    let Some(Reply::Reveal { why, .. }) = reveal else {
        panic!("{reveal:?}")
    };
    assert!(why[0].contains("n_rep = 2"), "{why:?}");
    // The decode call asks the cache length again (4 now), the KV head not.
    assert!(quiz.enter(0, questions(&t, 1, at(1, StageId::KvCache), &kinds, 0, 0)));
    assert_eq!(answered(quiz.answer("4")), "right: the answer is 4");
    assert!(!quiz.enter(0, questions(&t, 1, at(1, StageId::RepeatKv), &kinds, 0, 0)));
    assert_eq!(quiz.score.to_string(), "2/3 first try");
    assert_eq!(quiz.score.missed_text(), "step 1 repeat_kv (kv_head)");
}
