//! The property of issue 12: over random configurations and every bundled lesson, no note,
//! hint, welcome or closing states a number that the step and view it is shown with contradict.
//! The checker reads what a text claims (`kv_len = 7`, `[bsz=1, kv_len=7, …]`, `looking at head
//! 3`, `query head 5 reads KV head 1`) and compares it with the facts of the screen.

use proptest::prelude::*;

use super::text_tests::traces;
use super::*;
use crate::backend::Shapes;
use crate::config::ConfigSpec;
use crate::presentation::Context;
use crate::stage::Facts;
use crate::trace::Trace;

/// The numbers a text states about the run: `name = N` (or `name=N`, or a chain
/// `name = a + b = N`) for the sizes whose value the step fixes, and the head it says is shown
/// or which KV head a query head reads. Returns the first that disagrees with `f`.
fn contradiction(text: &str, f: &Facts) -> Option<String> {
    let names = [
        ("past_len", f.past_len),
        ("kv_len", f.kv_len),
        ("seq_len", f.seq_len),
        ("n_rep", f.n_rep),
        ("n_kv_heads", f.n_kv_heads),
        ("n_heads", f.n_heads),
        ("head_dim", f.head_dim),
        ("bsz", f.bsz),
    ];
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '·';
    for (name, want) in names {
        for (i, _) in text.match_indices(name) {
            let before = text[..i].trim_end_matches(' ');
            // Inside a chain (`n_rep = n_heads / n_kv_heads = 8 / 2`) the value belongs to the
            // chain's first name, not to this one.
            if text[..i].chars().next_back().is_some_and(word)
                || before.ends_with(['=', '/', '+', '-', '×', '*'])
            {
                continue;
            }
            let mut rest = &text[i + name.len()..];
            while let Some(t) = rest.trim_start_matches(' ').strip_prefix('=') {
                let end = t
                    .find(['=', ',', ';', ':', '(', ')', '[', ']', '\n', '.'])
                    .unwrap_or(t.len());
                if let Some(v) = arithmetic(t[..end].trim())
                    && v != want as i64
                {
                    return Some(format!("{name} = {v}, but it is {want}"));
                }
                rest = &t[end..];
            }
        }
    }
    let number_after =
        |s: &str| -> Option<usize> { s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok() };
    for phrase in [
        "looking at head ",
        "looking at query head ",
        "show batch row ",
    ] {
        for (i, _) in text.match_indices(phrase) {
            let Some(n) = number_after(&text[i + phrase.len()..]) else {
                continue;
            };
            let want = if phrase.contains("batch") {
                f.batch
            } else {
                f.head
            };
            if n != want {
                return Some(format!("says \"{phrase}{n}\" but shows {want}"));
            }
        }
    }
    for (i, _) in text.match_indices("query head ") {
        let rest = &text[i + "query head ".len()..];
        let Some(h) = number_after(rest) else {
            continue;
        };
        let after = rest.trim_start_matches(|c: char| c.is_ascii_digit());
        for reads in [" reads KV head ", " reads key/value head "] {
            if let Some(r) = after.strip_prefix(reads)
                && let Some(kv) = number_after(r)
                && (kv != h / f.n_rep || h >= f.n_heads)
            {
                return Some(format!(
                    "query head {h} reads KV head {kv}, n_rep {}",
                    f.n_rep
                ));
            }
        }
    }
    None
}

/// `4`, `4 + 1`, `2 × 6`: whole numbers and operators, worked out with × and / before + and -;
/// `None` for anything else (words, an empty text).
fn arithmetic(s: &str) -> Option<i64> {
    let (mut nums, mut ops, mut cur) = (Vec::new(), Vec::new(), String::new());
    for c in s.chars() {
        match c {
            '0'..='9' => cur.push(c),
            ' ' => {}
            '+' | '-' | '×' | '*' | '/' => {
                nums.push(cur.parse::<i64>().ok()?);
                cur.clear();
                ops.push(c);
            }
            _ => return None,
        }
    }
    nums.push(cur.parse::<i64>().ok()?);
    let (mut sum, mut sign, mut product) = (0, 1, nums[0]);
    for (op, x) in ops.iter().zip(&nums[1..]) {
        match op {
            '×' | '*' => product *= x,
            '/' => product = product.checked_div(*x)?,
            _ => {
                sum += sign * product;
                sign = if *op == '+' { 1 } else { -1 };
                product = *x;
            }
        }
    }
    Some(sum + sign * product)
}

#[test]
fn the_checker_catches_a_wrong_number() {
    let t = crate::forward::trace(
        &ConfigSpec {
            num_attention_heads: Some(4),
            num_key_value_heads: Some(2),
            steps: Some(vec![3, 1]),
            ..ConfigSpec::default()
        }
        .resolve()
        .unwrap(),
        &mut Shapes,
    );
    let f = Facts::of(&t, 1, 3, 0);
    assert_eq!(
        contradiction("past_len = 3, kv_len = 3 + 1 = 4 [bsz=1, kv_len=4]", &f),
        None
    );
    assert!(contradiction("kv_len = past_len + seq_len = 3 + 1 = 5", &f).is_some());
    assert!(contradiction("the cache: [bsz=1, kv_len=7, n_kv_heads=2]", &f).is_some());
    assert!(contradiction("n_rep = 4", &f).is_some());
    assert!(contradiction("You are looking at head 0", &f).is_some());
    assert!(contradiction("query head 3 reads KV head 0", &f).is_some());
    assert_eq!(
        contradiction("query head 3 reads KV head 1; n_heads·head_dim=64", &f),
        None
    );
}

/// Every text of `l` shown in `trace` (variant `variant`) at every step and stage, with head
/// `head` and batch row `batch`, checked against the facts it is shown with.
fn check_lesson(
    l: &Lesson,
    trace: &Trace<crate::dims::Shape>,
    variant: Option<&str>,
    head: usize,
    batch: usize,
) -> Result<(), String> {
    let pres = &l.presentation;
    let ctx = |step| Context {
        trace,
        step,
        head: head % trace.config.num_attention_heads,
        batch: batch % trace.config.batch,
        variant,
    };
    let last = trace.steps.len() - 1;
    let check = |text: &str, step: usize| match contradiction(text, &ctx(step).facts(pres)) {
        Some(why) => Err(format!("{}, step {}: {why} in: {text}", l.name, step + 1)),
        None => Ok(()),
    };
    if let Some(w) = pres.welcome_at(&ctx(0)) {
        check(&w, 0)?;
    }
    if let Some(c) = pres.closing_at(&ctx(last)) {
        check(&c, last)?;
    }
    for (s, st) in trace.steps.iter().enumerate() {
        let f = ctx(s).facts(pres);
        for sg in &st.stages {
            for note in pres.notes_at(sg.id, &ctx(s)) {
                check(&note, s)?;
            }
            for h in pres
                .hints
                .iter()
                .filter(|h| h.stage == sg.id && h.scope.applies(&f, trace, variant))
            {
                check(&crate::stage::template::fill(&h.text, &f, trace), s)?;
            }
        }
    }
    Ok(())
}

#[test]
fn bundled_lessons_are_true_as_written() {
    for (i, b) in BUNDLED.iter().enumerate() {
        let l = load_bundled(i + 1, b).unwrap();
        for (name, t) in traces(&l, ConfigSpec::default()).unwrap() {
            for head in 0..t.config.num_attention_heads {
                check_lesson(&l, &t, name.as_deref(), head, 1).unwrap();
            }
        }
    }
}

/// Flags a learner might give, each group present or not: heads, KV heads and head_dim
/// together (so they always divide), the steps, the batch, the causal mask off; and bits for
/// an attention mask.
fn flags() -> impl Strategy<Value = (ConfigSpec, u64)> {
    (
        prop::option::of((
            prop::sample::select(vec![1usize, 2, 4]),
            prop::sample::select(vec![1usize, 2, 3]),
            prop::sample::select(vec![2usize, 4, 6]),
        )),
        prop::option::of(prop::collection::vec(1usize..5, 1..4)),
        prop::option::of(1usize..3),
        prop::bool::weighted(0.2),
        any::<u64>(),
    )
        .prop_map(|(heads, steps, batch, no_causal, bits)| {
            let mut spec = ConfigSpec {
                steps,
                batch,
                causal: no_causal.then_some(false),
                ..ConfigSpec::default()
            };
            if let Some((kv, rep, head_dim)) = heads {
                spec.hidden_size = Some(kv * rep * head_dim);
                spec.num_attention_heads = Some(kv * rep);
                spec.num_key_value_heads = Some(kv);
                spec.head_dim = Some(head_dim);
            }
            (spec, bits)
        })
}

/// `flags` for lesson `l`: when they change the steps or the batch of a lesson with an
/// attention mask, a mask of the new size from `bits` (each row ends with a real token).
fn flags_for(l: &Lesson, flags: &ConfigSpec, bits: u64) -> ConfigSpec {
    let mut s = flags.clone();
    // The plan refuses a flag that sets what the variants differ in (it would make them one
    // run); the query-head count goes with the KV-head count, which it must be a multiple of.
    if l.variants
        .iter()
        .any(|v| v.spec.num_key_value_heads.is_some())
    {
        s.num_key_value_heads = None;
        s.num_attention_heads = None;
    }
    let masked = l.spec.attention_mask.is_some()
        || l.variants.iter().any(|v| v.spec.attention_mask.is_some());
    if masked && (s.steps.is_some() || s.batch.is_some()) {
        let mut base = l.spec.clone();
        base.attention_mask = None;
        base.tokens = None;
        if let Ok(cfg) = base.overridden_by(&s).resolve() {
            let n = cfg.total_len();
            s.attention_mask = Some(
                (0..cfg.batch)
                    .map(|b| {
                        (0..n)
                            .map(|j| {
                                let on = (bits >> ((b * 16 + j) % 64)) & 1 == 1 || j + 1 == n;
                                if on { '1' } else { '0' }
                            })
                            .collect()
                    })
                    .collect(),
            );
        }
    }
    s
}

/// The part of `flags` that makes sense for a lesson with a `[model]`. A checkpoint decides the
/// sizes, the batch and the causal mask, so the plan refuses those flags for it (plan/tests.rs
/// checks that refusal); what a learner can still change is how the text is split into calls,
/// so the random steps become that many calls: a prefill and `--decode` one-token calls.
fn model_flags(flags: &ConfigSpec) -> ConfigSpec {
    ConfigSpec {
        decode: flags.steps.as_ref().map(|s| s.len() - 1),
        ..ConfigSpec::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Issue 12: over random configurations and every bundled lesson, no rendered note (nor
    /// hint, welcome or closing) states a past_len, kv_len, n_rep, n_kv_heads or head index that
    /// disagrees with the step and view it is shown with.
    #[test]
    fn bundled_lessons_stay_true_under_overrides((spec, bits) in flags(), head in 0usize..16, batch in 0usize..3) {
        for (i, b) in BUNDLED.iter().enumerate() {
            let l = load_bundled(i + 1, b).unwrap();
            let flags = match &l.model {
                Some(_) => model_flags(&spec),
                None => flags_for(&l, &spec, bits),
            };
            let runs = traces(&l, flags);
            prop_assert!(runs.is_some(), "{} refused {:?}", b.name, spec);
            for (name, t) in runs.unwrap() {
                if let Err(why) = check_lesson(&l, &t, name.as_deref(), head, batch) {
                    prop_assert!(false, "{}", why);
                }
            }
        }
    }
}

/// A model lesson's run with `layer` (its own when `None`), numbers and all.
fn model_trace(l: &Lesson, layer: Option<usize>) -> Trace<crate::numeric::Tensor> {
    let req = crate::plan::Request {
        model: layer.map(|n| crate::plan::ModelRequest {
            layer: Some(n),
            ..Default::default()
        }),
        ..crate::plan::Request::default()
    };
    let plan = crate::plan::build(&req, Some(l), &crate::plan::Environment::default()).unwrap();
    let m = plan.model.unwrap();
    m.checkpoint
        .trace(&m.name, &m.tokens, &plan.config.steps, m.layer)
        .unwrap()
}

/// A placeholder's value in `trace` (its only step, head `head`), as the lesson shows it.
fn value(trace: &Trace<crate::numeric::Tensor>, head: usize, name: &str) -> f64 {
    let f = Facts::of(trace, 0, head, 0);
    let text = crate::stage::template::fill(&format!("{{{name}}}"), &f, trace);
    text.parse()
        .unwrap_or_else(|_| panic!("{{{name}}} reads {text:?}"))
}

/// Every text of `l` in its numeric run `trace`, for every head: each placeholder has a value.
fn filled_everywhere(l: &Lesson, trace: &Trace<crate::numeric::Tensor>) {
    let pres = &l.presentation;
    for head in 0..trace.config.num_attention_heads {
        let ctx = Context {
            trace,
            step: 0,
            head,
            batch: 0,
            variant: None,
        };
        let mut texts: Vec<String> = pres.welcome_at(&ctx).into_iter().collect();
        texts.extend(pres.closing_at(&ctx));
        for sg in &trace.steps[0].stages {
            texts.extend(pres.notes_at(sg.id, &ctx));
        }
        for t in texts {
            for gap in ["(undefined)", "(no repeated token", "is not in this run"] {
                assert!(!t.contains(gap), "{}, head {head}: {t}", l.name);
            }
        }
    }
}

/// What the two lessons on the trained model say of it, said in words rather than numbers,
/// holds on the shipped weights: the thresholds are the (at least 0.5 on the previous
/// token, at least 0.5 and 5 times an even spread on the induction target).
#[test]
fn model_lessons_hold_on_the_shipped_model() {
    let mut seen = 0;
    for (i, b) in BUNDLED.iter().enumerate() {
        let l = load_bundled(i + 1, b).unwrap();
        if l.model.is_none() {
            continue;
        }
        seen += 1;
        for layer in [0, 1] {
            filled_everywhere(&l, &model_trace(&l, Some(layer)));
        }
    }
    assert_eq!(seen, 2, "the trained-heads and induction lessons");

    // trained-heads, on its own sentence: "one head of layer 0 reads the previous token with
    // more than half of its weight, and no head of layer 1 does; there the first column is
    // where much of every head's weight goes."
    let l = load_bundled(14, find_bundled("trained-heads").unwrap().1).unwrap();
    let t0 = model_trace(&l, None);
    assert_eq!(t0.model.as_ref().unwrap().layer, 0);
    assert!(value(&t0, 0, "prev_best") >= 0.5);
    let t1 = model_trace(&l, Some(1));
    assert!(value(&t1, 0, "prev_best") < 0.5);
    for head in 0..t1.config.num_attention_heads {
        let (first, even) = (
            value(&t1, head, "first_weight"),
            value(&t1, head, "uniform"),
        );
        assert!(
            first > 1.5 * even,
            "layer 1 head {head}: {first} on the first token"
        );
    }

    // induction: the layer 1 head is an induction head; "in layer 0 no head does this".
    let l = load_bundled(15, find_bundled("induction").unwrap().1).unwrap();
    let t1 = model_trace(&l, None);
    assert_eq!(t1.model.as_ref().unwrap().layer, 1);
    let best = value(&t1, 0, "induction_best");
    assert!(best >= 0.5 && best >= 5.0 * value(&t1, 0, "induction_uniform"));
    let t0 = model_trace(&l, Some(0));
    assert!(value(&t0, 0, "induction_best") < 0.25);
}
