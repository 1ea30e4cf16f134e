//! Stage explanations of `attnstep run` checked against what the configuration implies (the
//! sentences a student review found false): padded keys under queries that see only padding,
//! QK-norm lengths with trained norm weights, the cached-columns sentence, and the repeat_kv
//! caption under multi-head attention. Expectations are worked out here from the flags or
//! from `attnstep export` of the same run, never copied from the printed text.

use serde_json::Value;

use crate::support;

/// `attnstep run FLAGS --all --color never`, its stdout.
fn run(flags: &[&str]) -> String {
    let out = support::command()
        .arg("run")
        .args(flags)
        .args(["--all", "--color", "never"])
        .output()
        .unwrap();
    support::assert_success(&out);
    String::from_utf8(out.stdout).unwrap()
}

/// Every paragraph (lines up to a blank one) that starts with `start`, with white space made
/// single spaces, in the order printed (one per call).
fn paragraphs(text: &str, start: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| p.starts_with(start))
        .collect()
}

/// For batch row `row` of a 0/1 mask and a call of `seq_len` queries after `past` cached
/// tokens under a causal mask: how many queries see only padded keys (with the first such
/// query's position and its number of keys), and how many see a padded key and a real one.
fn padding_of(row: &str, past: usize, seq_len: usize) -> (usize, Option<(usize, usize)>, usize) {
    let mask: Vec<bool> = row.chars().map(|c| c == '1').collect();
    let (mut only, mut first, mut mixed) = (0, None, 0);
    for p in past..past + seq_len {
        let seen = &mask[..=p];
        let real = seen.iter().filter(|&&m| m).count();
        if real == 0 {
            only += 1;
            first.get_or_insert((p, seen.len()));
        } else if real < seen.len() {
            mixed += 1;
        }
    }
    (only, first, mixed)
}

/// A run's flags, its mask for batch row 0, and its calls as (past_len, seq_len).
type Case = (
    &'static [&'static str],
    &'static str,
    &'static [(usize, usize)],
);

#[test]
fn softmax_says_padded_keys_get_about_0_only_where_a_query_also_sees_a_real_key() {
    // (flags, mask row 0, the calls as (past_len, seq_len))
    let cases: [Case; 4] = [
        (
            &[
                "--batch",
                "2",
                "--seq-len",
                "4",
                "--attention-mask",
                "0111,1110",
            ],
            "0111",
            &[(0, 4)],
        ),
        (
            &[
                "--batch",
                "2",
                "--steps",
                "2,2",
                "--attention-mask",
                "0011,1111",
            ],
            "0011",
            &[(0, 2), (2, 2)],
        ),
        (&["--attention-mask", "00000"], "00000", &[(0, 5)]),
        (
            &[
                "--batch",
                "2",
                "--seq-len",
                "4",
                "--attention-mask",
                "1110,1111",
            ],
            "1110",
            &[(0, 4)],
        ),
    ];
    for (flags, row, calls) in cases {
        let text = run(flags);
        let paras = paragraphs(&text, "Softmax runs along each row");
        assert_eq!(
            paras.len(),
            calls.len(),
            "{flags:?}: one softmax paragraph per call"
        );
        for (para, &(past, seq_len)) in paras.iter().zip(calls) {
            let (only, first, mixed) = padding_of(row, past, seq_len);
            let says_about_0 = para.contains("gets about 0");
            assert_eq!(
                says_about_0,
                mixed > 0,
                "{flags:?} call at {past}: 'about 0' only with a query that sees a pad and a \
                 real key: {para}"
            );
            if says_about_0 {
                assert!(
                    para.contains("from every query that also sees a real token"),
                    "{flags:?}: the 'about 0' claim is limited to such queries: {para}"
                );
            }
            assert!(
                !para.contains("padded ones (−1e9) about 0"),
                "{flags:?}: the old unqualified claim: {para}"
            );
            match first {
                Some((pos, n)) => {
                    assert!(
                        para.contains(&format!("position {pos}"))
                            && para.contains("nothing but padding")
                            && para.contains("keep the weight"),
                        "{flags:?} call at {past}: the query at {pos} sees only padding: {para}"
                    );
                    if only == 1 && n == 1 {
                        assert!(para.contains("gets all of the weight, 1"), "{para}");
                    } else if only == 1 {
                        assert!(para.contains(&format!("1/{n} each")), "{para}");
                    } else {
                        assert!(para.contains(&format!("{only} queries")), "{para}");
                    }
                }
                None => assert!(!para.contains("nothing but padding"), "{para}"),
            }
        }
    }
}

/// The export of `flags` (a checkpoint or random run) as JSON.
fn export(flags: &[&str], tag: &str) -> Value {
    let path = std::env::temp_dir().join(format!(
        "attnstep-it-stage-prose-{tag}-{}.json",
        std::process::id()
    ));
    let out = support::command()
        .arg("export")
        .args(flags)
        .arg("--output")
        .arg(&path)
        .output()
        .unwrap();
    support::assert_success(&out);
    let v = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let _ = std::fs::remove_file(&path);
    v
}

fn numbers(v: &Value) -> Vec<f64> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// The L2 length of every `head_dim` row of a `[bsz, seq, heads, head_dim]` tensor.
fn row_lengths(t: &Value, head_dim: usize) -> Vec<f64> {
    numbers(t)
        .chunks(head_dim)
        .map(|r| r.iter().map(|x| x * x).sum::<f64>().sqrt())
        .collect()
}

/// The smallest and largest |weight| of q_norm and k_norm together.
fn weight_range(v: &Value) -> (f64, f64) {
    let all: Vec<f64> = ["q_norm", "k_norm"]
        .iter()
        .flat_map(|n| numbers(&v["weights"][n]))
        .map(f64::abs)
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(0.0, f64::max);
    (lo, hi)
}

#[test]
fn qk_norm_claims_root_head_dim_only_when_the_norm_weights_are_1() {
    // A trained checkpoint: its q_norm/k_norm weights are learned, so the lengths after the
    // norm are set by them, not √head_dim.
    let tiny = [
        "--weights",
        "tiny",
        "--text",
        "the cat sat on the mat . the cat",
        "--layer",
        "1",
    ];
    let v = export(&tiny, "tiny");
    let hd = v["config"]["head_dim"].as_u64().unwrap() as usize;
    let root = (hd as f64).sqrt();
    let tensors = &v["steps"][0]["tensors"];
    let after: Vec<f64> = ["xq_norm", "xk_norm"]
        .iter()
        .flat_map(|n| row_lengths(&tensors[n], hd))
        .collect();
    assert!(
        after.iter().any(|l| (l - root).abs() > 0.2 * root),
        "this run's lengths are far from √head_dim (what the test is about)"
    );
    let (lo, hi) = weight_range(&v);
    for l in &after {
        assert!(
            *l >= root * lo * 0.99 && *l <= root * hi * 1.001,
            "length {l} outside √hd·[{lo}, {hi}]"
        );
    }
    let text = run(&tiny);
    let para = &paragraphs(&text, "RMSNorm over head_dim")[0];
    assert!(
        !para.contains(&format!("afterwards it is about √{hd}")),
        "must not claim √head_dim with trained weights: {para}"
    );
    assert!(
        para.contains(&format!("no longer fixed at √{hd}")),
        "{para}"
    );
    assert!(
        para.contains(&format!("√{hd}·{lo:.3} = {:.3}", root * lo))
            && para.contains(&format!("√{hd}·{hi:.3} = {:.3}", root * hi)),
        "the range comes from the weights ({lo}, {hi}): {para}"
    );

    // Random weights start q_norm/k_norm at 1: every row after the norm is about √head_dim.
    let random = ["--qk-norm", "--hidden-size", "32", "--num-heads", "4"];
    let v = export(&random, "random");
    assert_eq!(weight_range(&v), (1.0, 1.0), "RMSNorm weights start at 1");
    let hd = 32 / 4;
    let tensors = &v["steps"][0]["tensors"];
    for n in ["xq_norm", "xk_norm"] {
        for l in row_lengths(&tensors[n], hd) {
            assert!((l - (hd as f64).sqrt()).abs() < 1e-3, "{n}: {l}");
        }
    }
    let text = run(&random);
    let para = &paragraphs(&text, "RMSNorm over head_dim")[0];
    assert!(
        para.contains(&format!(
            "afterwards it is about √{hd} = {:.3}",
            (hd as f64).sqrt()
        )),
        "{para}"
    );
}

#[test]
fn cached_columns_stay_0_in_agreement_with_their_count() {
    // --steps 3,2,1: the last call has one query after 5 cached keys.
    let text = run(&["--steps", "3,2,1"]);
    assert!(
        !text.contains("columns stays"),
        "plural subject, plural verb"
    );
    assert!(
        !text.contains("column stay "),
        "singular subject, singular verb"
    );
    let last = paragraphs(&text, "A token may use itself").pop().unwrap();
    assert!(
        last.contains("The 5 cached keys are in the past, so their columns stay 0 as well."),
        "{last}"
    );
    // --seq-len 1 --decode 2: a prefill of position 0, then one query after 1 and after 2
    // cached keys.
    let text = run(&["--seq-len", "1", "--decode", "2"]);
    assert!(!text.contains("columns stays"));
    let paras = paragraphs(&text, "A token may use itself");
    assert_eq!(paras.len(), 3, "one per call");
    assert!(
        paras[1].contains("The 1 cached key is in the past, so its column stays 0 as well."),
        "{}",
        paras[1]
    );
    assert!(
        paras[2].contains("The 2 cached keys are in the past, so their columns stay 0 as well."),
        "{}",
        paras[2]
    );
}

#[test]
fn repeat_kv_caption_speaks_of_equal_rows_only_when_heads_share() {
    let caption = "equal rows share a KV head";
    // n_rep = 4 / 4 = 1: every query head has its own KV head, no row repeats.
    let mha = run(&[
        "--num-heads",
        "4",
        "--num-kv-heads",
        "4",
        "--hidden-size",
        "16",
    ]);
    assert!(mha.contains("xk_repeat["), "the repeat_kv table is shown");
    assert!(!mha.contains(caption));
    // n_rep = 4 / 2 = 2: pairs of query heads read the same KV head.
    let gqa = run(&[
        "--num-heads",
        "4",
        "--num-kv-heads",
        "2",
        "--hidden-size",
        "16",
    ]);
    assert!(gqa.contains(caption));
}
