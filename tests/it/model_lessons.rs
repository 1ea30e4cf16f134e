//! The lessons on the trained model (`trained-heads`, `induction`) end to end: each prints
//! whole and exits 0; every number its prose quotes equals the value worked out here from
//! `attnstep export` of the same run; the heads it names are the ones the training script chose
//! (assets/tiny/heldout.json) and meet the thresholds; a bad `[model]` is a located
//! error with exit 2.

use serde_json::Value;

use crate::support;

/// One query head's weights of the only call, `[query][key]`.
type Head = Vec<Vec<f64>>;

/// What the test needs of an export: the token ids and every head's weights.
struct Run {
    ids: Vec<u64>,
    heads: Vec<Head>,
}

fn export(text: &str, layer: usize, tag: &str) -> Run {
    let path = std::env::temp_dir().join(format!(
        "attnstep-it-model-lesson-{tag}-{}.json",
        std::process::id()
    ));
    let out = support::command()
        .args(["export", "--weights", "tiny", "--text", text])
        .args(["--layer", &layer.to_string(), "--output"])
        .arg(&path)
        .output()
        .unwrap();
    support::assert_success(&out);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let _ = std::fs::remove_file(&path);
    let w = &v["steps"][0]["tensors"]["weights"];
    let sizes: Vec<usize> = w["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap() as usize)
        .collect();
    let data: Vec<f64> = w["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let (heads, n) = (sizes[1], sizes[2]);
    assert_eq!(sizes, [1, heads, n, n], "one prefill over the whole text");
    Run {
        ids: v["model"]["token_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_u64().unwrap())
            .collect(),
        heads: (0..heads)
            .map(|h| {
                (0..n)
                    .map(|q| (0..n).map(|k| data[(h * n + q) * n + k]).collect())
                    .collect()
            })
            .collect(),
    }
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.collect();
    v.iter().sum::<f64>() / v.len() as f64
}

impl Run {
    fn n(&self) -> usize {
        self.ids.len()
    }
    /// Mean weight on key q-1 over queries 1.. .
    fn prev(&self, h: usize) -> f64 {
        mean((1..self.n()).map(|q| self.heads[h][q][q - 1]))
    }
    /// Mean weight on key 0 over queries 1.. .
    fn first(&self, h: usize) -> f64 {
        mean((1..self.n()).map(|q| self.heads[h][q][0]))
    }
    /// An even spread's weight per key, over queries 1.. .
    fn uniform(&self) -> f64 {
        mean((1..self.n()).map(|q| 1.0 / (q + 1) as f64))
    }
    /// The induction target of query q: after the latest earlier occurrence of its id that is
    /// not the token right before it.
    fn target(&self, q: usize) -> Option<usize> {
        (0..q.saturating_sub(1))
            .rev()
            .find(|&j| self.ids[j] == self.ids[q])
            .map(|j| j + 1)
    }
    fn induction_queries(&self) -> Vec<(usize, usize)> {
        (0..self.n())
            .filter_map(|q| self.target(q).map(|t| (q, t)))
            .collect()
    }
    fn induction(&self, h: usize) -> f64 {
        mean(
            self.induction_queries()
                .into_iter()
                .map(|(q, t)| self.heads[h][q][t]),
        )
    }
    /// The head with the highest score (the lowest on a tie) and its score.
    fn best(&self, score: impl Fn(usize) -> f64) -> (usize, f64) {
        (0..self.heads.len()).map(|h| (h, score(h))).fold(
            (0, f64::NEG_INFINITY),
            |(bh, bs), (h, s)| {
                if s > bs { (h, s) } else { (bh, bs) }
            },
        )
    }
}

/// The lesson printed whole, its lines joined and spaces collapsed (the prose is wrapped).
fn lesson_text(name: &str, extra: &[&str]) -> String {
    let out = support::command()
        .args(["lesson", name, "--all", "--color", "never"])
        .args(extra)
        .env(
            "ATTNSTEP_STATE_DIR",
            support::state_dir(&format!("model-lesson-{name}")),
        )
        .output()
        .unwrap();
    support::assert_success(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("(undefined)"), "{text}");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Asserts `text` contains `sentence`, showing the text otherwise.
fn says(text: &str, sentence: &str) {
    assert!(text.contains(sentence), "missing {sentence:?} in:\n{text}");
}

/// Checks `text` names layer `layer`'s best previous-token and first-token heads of `run`;
/// returns them with their means.
fn says_best_heads(text: &str, run: &Run, layer: usize) -> (usize, f64, usize, f64) {
    let (ph, pb) = run.best(|h| run.prev(h));
    let (fh, fb) = run.best(|h| run.first(h));
    says(
        text,
        &format!(
            "Of the 4 heads of layer {layer}: head {ph} puts the most on the previous token ({}), \
             head {fh} the most on the first token ({}).",
            f3(pb),
            f3(fb)
        ),
    );
    (ph, pb, fh, fb)
}

fn f3(x: f64) -> String {
    format!("{x:.3}")
}

/// The bar the lessons state for calling a head a previous-token, first-token or induction head:
/// at least 0.3 of its weight on average, and at least `times` the even spread (twice for the
/// previous and first token, three times for the induction target).
fn clears(mean: f64, even: f64, times: f64) -> bool {
    mean >= 0.3 && mean >= times * even
}

/// The induction verdict the softmax notes give for a run of layer `layer`.
fn induction_verdict(run: &Run, layer: usize) -> (bool, String) {
    let even = mean(
        run.induction_queries()
            .iter()
            .map(|(q, _)| 1.0 / (q + 1) as f64),
    );
    let (ih, ib) = run.best(|h| run.induction(h));
    if clears(ib, even, 3.0) {
        (
            true,
            format!("Head {ih} clears both: it is this layer's induction head."),
        )
    } else {
        (
            false,
            format!(
                "Head {ih}'s {} does not clear both, so no head of layer {layer} is an induction \
                 head in this run.",
                f3(ib)
            ),
        )
    }
}

/// The verdicts lesson 14's softmax notes give for the previous and first token in layer `layer`.
fn head_verdicts(run: &Run, layer: usize) -> Vec<(bool, String)> {
    let even = run.uniform();
    let bar = f3(2.0 * even);
    [
        ("previous", run.best(|h| run.prev(h))),
        ("first", run.best(|h| run.first(h))),
    ]
    .into_iter()
    .map(|(what, (h, m))| {
        if clears(m, even, 2.0) {
            (
                true,
                format!("Head {h} clears the bar on the {what} token: it is a {what}-token head."),
            )
        } else {
            (
                false,
                format!(
                    "Head {h}'s {} does not clear the bar (at least 0.3, and at least {bar}), \
                         so no head of layer {layer} is a {what}-token head in this run.",
                    f3(m)
                ),
            )
        }
    })
    .collect()
}

fn heldout() -> Value {
    serde_json::from_str(&std::fs::read_to_string("assets/tiny/heldout.json").unwrap()).unwrap()
}

/// The lesson's `[model]` text, read from the bundled file.
fn lesson_model_text(file: &str) -> String {
    let src = std::fs::read_to_string(support::manifest_dir().join("lessons").join(file)).unwrap();
    let v: toml::Value = toml::from_str(&src).unwrap();
    v["model"]["text"].as_str().unwrap().to_owned()
}

#[test]
fn trained_heads_quotes_the_weights_of_its_run() {
    let sentence = lesson_model_text("14-trained-heads.toml");
    let text = lesson_text("trained-heads", &[]);
    let run = export(&sentence, 0, "trained-heads-0");
    let (ph, pb, ..) = says_best_heads(&text, &run, 0);
    says(
        &text,
        &format!(
            "Head 0 puts {} there, on average over the queries after the first;",
            f3(run.prev(0))
        ),
    );
    says(
        &text,
        &format!(
            "Head 0 puts {} there, on average over the same",
            f3(run.first(0))
        ),
    );
    says(
        &text,
        &format!(
            "An even spread would give each key {} on average.",
            f3(run.uniform())
        ),
    );
    // The head the lesson finds is the one the training script chose, and it is a
    // previous-token head by the measure.
    let chosen = &heldout()["previous_token_head"];
    assert_eq!(chosen["layer"], 0);
    assert_eq!(ph as u64, chosen["head"].as_u64().unwrap());
    assert!(pb >= 0.5, "previous-token head: {pb}");

    // Layer 0 of the lesson's sentence: the previous-token head clears the bar; the head that
    // rests most on the first token does not (no head there is near twice the even spread), and
    // the lesson says so instead of holding it up as an example.
    let verdicts = head_verdicts(&run, 0);
    assert_eq!(
        verdicts.iter().map(|v| v.0).collect::<Vec<_>>(),
        [true, false],
        "{verdicts:?}"
    );
    for (_, sentence) in &verdicts {
        says(&text, sentence);
    }
    assert!(!text.contains("it is a first-token head"), "{text}");
    says(&text, "attnstep lesson trained-heads --layer 1");

    // With --layer 1 the same prose is filled from layer 1.
    let text = lesson_text("trained-heads", &["--layer", "1", "--head", "2"]);
    let run = export(&sentence, 1, "trained-heads-1");
    let (_, pb, ..) = says_best_heads(&text, &run, 1);
    // Every verdict follows the bar; in layer 1 no head reads the previous token with half of
    // its weight (the closing says so of the lesson's sentence), so none is called one.
    let verdicts = head_verdicts(&run, 1);
    assert!(!verdicts[0].0 && pb < 0.5, "{verdicts:?}");
    for (_, sentence) in &verdicts {
        says(&text, sentence);
    }
    // Already in layer 1: the lesson points back to layer 0, not up to layer 1.
    says(&text, "attnstep lesson trained-heads --layer 0");
    assert!(!text.contains("--layer 1"), "{text}");
    says(
        &text,
        &format!(
            "Head 2 puts {} there, on average over the same",
            f3(run.first(2))
        ),
    );
}

#[test]
fn induction_quotes_the_weights_of_its_run() {
    let sentence = lesson_model_text("15-induction.toml");
    let text = lesson_text("induction", &["--head", "3"]);
    let run = export(&sentence, 1, "induction-1");
    let pairs = run.induction_queries();
    let (q, t) = *pairs.last().unwrap();
    // By hand: "<bos> the brave pilot painted a red kite . maya slept . the brave pilot painted
    // a red": the last query, "red" at 17, first came at 6, before "kite" at 7.
    assert_eq!((q, t), (17, 7));
    says(
        &text,
        &format!(
            "Take the last query here whose token appeared before: position {q}, \"red\". Its latest \
             earlier occurrence was followed by \"kite\", at position {t}."
        ),
    );
    says(
        &text,
        &format!(
            "Head 3 puts {} there; an even spread over the keys that row sees would give {}.",
            f3(run.heads[3][q][t]),
            f3(1.0 / (q + 1) as f64)
        ),
    );
    let even = mean(pairs.iter().map(|(q, _)| 1.0 / (q + 1) as f64));
    says(
        &text,
        &format!(
            "{} queries here have a token that appeared before. Over them, head 3 puts {} on the \
             induction target on average, against {} for an even spread.",
            pairs.len(),
            f3(run.induction(3)),
            f3(even)
        ),
    );
    let (ih, ib) = run.best(|h| run.induction(h));
    says(
        &text,
        &format!(
            "Of the 4 heads of layer 1, head {ih} puts the most on the induction target: {} on \
             average.",
            f3(ib)
        ),
    );
    // The induction head found is the training script's choice, and meets the bar.
    let chosen = &heldout()["induction_head"];
    assert_eq!(chosen["layer"], 1);
    assert_eq!(ih as u64, chosen["head"].as_u64().unwrap());
    assert!(
        ib >= 0.5 && ib >= 5.0 * even,
        "induction head: {ib} vs {even}"
    );
    // The model's first guess after "… a red" is what followed "red" the first time.
    let table = text
        .split("rank │ next token │ id │ probability")
        .nth(1)
        .unwrap();
    let first_guess = table.split("1 │ ").nth(1).unwrap();
    assert!(first_guess.starts_with("kite "), "{first_guess}");
    let (found, verdict) = induction_verdict(&run, 1);
    assert!(found);
    says(&text, &verdict);
    says(&text, &format!("In head {ih}, the induction head,"));
}

#[test]
fn induction_in_layer_0_claims_no_induction_head() {
    let sentence = lesson_model_text("15-induction.toml");
    let text = lesson_text("induction", &["--layer", "0"]);
    let run = export(&sentence, 0, "induction-0");
    let even = mean(
        run.induction_queries()
            .iter()
            .map(|(q, _)| 1.0 / (q + 1) as f64),
    );
    let (ih, ib) = run.best(|h| run.induction(h));
    // Layer 0's best head stays below an even spread: nothing there can be an induction head.
    assert!(ib < even, "layer 0 head {ih}: {ib} vs {even}");
    let (found, verdict) = induction_verdict(&run, 0);
    assert!(!found);
    says(&text, &verdict);
    for claim in [
        "is this layer's induction head",
        "the induction head,",
        "is what lets the model predict",
        "Everything layer 0 wrote",
    ] {
        assert!(!text.contains(claim), "{claim:?} in:\n{text}");
    }
    // Layer 0 reads the embeddings, and the lesson says so rather than the opposite.
    says(&text, "Where x comes from: the token embeddings themselves");
    says(&text, "attnstep lesson induction --layer 1");

    // A phrase of the learner's own, said twice: the verdict still follows the bar, in both
    // layers.
    let own = "the cat sat on the mat . the cat sat on the";
    for layer in [0, 1] {
        let text = lesson_text("induction", &["--text", own, "--layer", &layer.to_string()]);
        let run = export(own, layer, &format!("induction-own-{layer}"));
        says(&text, &induction_verdict(&run, layer).1);
    }
    // A text with no repeat says there is nothing to measure (and quotes no undefined number).
    let text = lesson_text(
        "induction",
        &["--text", "the old sailor found a golden key"],
    );
    says(&text, "so no query has an induction target");
    assert!(!text.contains("clears both"), "{text}");
}

/// `lessons check FILE` on a lesson written to a scratch directory; returns stderr after
/// checking it failed with status 2.
fn refused(name: &str, body: &str) -> String {
    let dir = support::state_dir(&format!("model-lesson-bad-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        format!("format_version = 1\ntitle = \"T\"\nsummary = \"S\"\n{body}"),
    )
    .unwrap();
    let out = support::command()
        .args(["lessons", "check"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    err.replace(&file.display().to_string(), "bad.toml")
}

#[test]
fn bad_model_values_are_located_with_exit_2() {
    let e = refused(
        "layer",
        "[model]\nweights = \"tiny\"\ntext = \"the dog\"\nlayer = 5\n",
    );
    assert_eq!(
        e,
        "attnstep: error: bad.toml:7:9: layer 5 is out of range: \"tiny\" has 2 layer(s), numbered 0 \
         to 1\n"
    );
    // A directory is looked for beside the lesson file.
    let e = refused(
        "weights",
        "[model]\nweights = \"checkpoints/mine\"\ntext = \"the dog\"\n",
    );
    assert!(
        e.starts_with("attnstep: error: bad.toml:5:11: weights \"checkpoints/mine\": "),
        "{e}"
    );
    let e = refused("text", "[model]\nweights = \"tiny\"\ntext = 7\n");
    assert!(
        e.starts_with(
            "attnstep: error: bad.toml:6:8: text must be text in quotes, but it is the number 7"
        ),
        "{e}"
    );
    let e = refused(
        "config",
        "[model]\nweights = \"tiny\"\ntext = \"the dog\"\n[config]\nseq_len = 4\n",
    );
    assert!(
        e.starts_with(
            "attnstep: error: bad.toml:8:1: \"seq_len\" cannot be set in a lesson with [model]"
        ),
        "{e}"
    );
}

#[test]
fn flags_over_a_model_lesson() {
    let text = lesson_text(
        "induction",
        &["--text", "anna slept . anna slept", "--decode", "1"],
    );
    says(&text, "step 2/2 decode");
    says(
        &text,
        "Take the last query here whose token appeared before",
    );
    let out = support::command()
        .args(["lesson", "induction", "--all", "--weights", "tiny"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("attnstep: error: --weights cannot be used with this lesson"),
        "{err}"
    );
}
