//! The quiz: which questions a stage asks, checking answers, and keeping the score. Pure: no
//! terminal, no I/O.
//!
//! A question is a [`Question`]: where it is asked (step and stage) and its [`Body`], one of
//! the kinds a lesson chooses ([`QuizKind`]): a shape ([`shape`]), or a concept generated from
//! the run ([`crate::stage::concepts`]: which KV head, which keys, what weight, …). A new kind
//! of question is a new [`Body`] variant with its prompt, check and hint, and a [`QuizKind`]
//! variant for lessons to name it by. Each question is asked once per variant; a concept whose
//! answer does not change between calls (the scale, the KV head) is asked once in all.

pub mod shape;

use std::collections::HashSet;
use std::fmt;

use crate::numeric::Tensor;
use crate::presentation::QuizKind;
use crate::stage::concepts::{self, Concept};
use crate::trace::{StageId, TensorId, Trace};
#[cfg(test)]
pub use shape::parse_shape;
pub use shape::{ShapeQuestion, Verdict, check, parse_answer};

/// What is asked.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Shape(ShapeQuestion),
    Concept(Concept),
}

/// One question, where it is asked.
#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    pub step: usize,
    /// Index into `trace.steps[step].stages`.
    pub stage: usize,
    pub id: StageId,
    pub body: Body,
}

/// What makes a question the same question on a later visit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Shape(usize, usize, TensorId),
    /// The step, for a concept whose answer changes from call to call.
    Concept(Option<usize>, concepts::Kind),
}

/// The questions stage `stage` of step `step` asks of the kinds in `kinds`, about the view's
/// head and batch row: shapes first, then concepts in the order the kinds are listed.
pub fn questions(
    trace: &Trace<Tensor>,
    step: usize,
    stage: usize,
    kinds: &[QuizKind],
    head: usize,
    batch: usize,
) -> Vec<Question> {
    let id = trace.steps[step].stages[stage].id;
    let at = |body| Question {
        step,
        stage,
        id,
        body,
    };
    let mut out: Vec<Question> = Vec::new();
    if kinds.contains(&QuizKind::Shape) {
        out.extend(
            shape::questions(trace, step, stage)
                .into_iter()
                .map(|q| at(Body::Shape(q))),
        );
    }
    for kind in kinds {
        if let QuizKind::Concept(k) = kind
            && k.stage() == id
            && let Some(c) = concepts::question(trace, step, head, batch, *k)
        {
            out.push(at(Body::Concept(c)));
        }
    }
    out
}

impl Question {
    pub fn kind(&self) -> QuizKind {
        match &self.body {
            Body::Shape(_) => QuizKind::Shape,
            Body::Concept(c) => QuizKind::Concept(c.kind),
        }
    }

    fn key(&self) -> Key {
        match &self.body {
            Body::Shape(q) => Key::Shape(self.step, self.stage, q.tensor),
            Body::Concept(c) => Key::Concept(c.kind.per_step().then_some(self.step), c.kind),
        }
    }

    /// The question as asked; `again` after a wrong first answer.
    pub fn prompt(&self, again: bool) -> String {
        match &self.body {
            Body::Shape(q) => {
                let mut ask = format!(
                    "{} {}",
                    if again {
                        "Try again: what shape is"
                    } else {
                        "What shape is"
                    },
                    q.text()
                );
                if !q.same.is_empty() {
                    let same: Vec<&str> = q.same.iter().map(|t| t.name()).collect();
                    ask.push_str(&format!(" ({} changes the same way)", same.join(", ")));
                }
                if let Some(n) = q.naming_note() {
                    ask.push_str(&format!(" ({n})"));
                }
                ask
            }
            Body::Concept(c) if again => format!("Try again: {}", c.prompt),
            Body::Concept(c) => c.prompt.clone(),
        }
    }

    /// What to type, for the line under the question.
    pub fn input_help(&self) -> &'static str {
        match &self.body {
            Body::Shape(_) => "sizes like 2 8 5 64",
            Body::Concept(c) => match c.answer {
                concepts::Answer::Positions(_) => "positions like 0-3 or 0 2 5",
                concepts::Answer::Words(_) => "a dim, like -1 or keys",
                _ => "a number",
            },
        }
    }

    /// A nudge for someone stuck: the lesson's hint for this question, or a general one.
    pub fn hint(&self, custom: Option<String>) -> String {
        if let Some(h) = custom {
            return h;
        }
        match &self.body {
            Body::Shape(q) => q.hint(None),
            Body::Concept(c) => match c.kind {
                concepts::Kind::KvHead => "repeat_kv repeats each KV head n_rep times in a row: \
                    query heads 0 to n_rep-1 read KV head 0, the next n_rep read KV head 1, …"
                    .into(),
                concepts::Kind::VisibleKeys => "With the causal mask the query at position i \
                    sees keys 0…i, without it every key; the padding mask then takes away the \
                    padded keys."
                    .into(),
                concepts::Kind::MaskedWeight => "What is e^x for x = -inf, or for x a billion \
                    below the row's largest score? And if every key of a row is equally masked?"
                    .into(),
                concepts::Kind::Scale => "The scores are divided by the square root of the \
                    size of one head's vectors."
                    .into(),
                concepts::Kind::SoftmaxDim => "After softmax, which axis of a row of weights \
                    sums to 1: the queries or the keys?"
                    .into(),
                concepts::Kind::CacheLen => "The cache holds the tokens of every earlier call \
                    plus this call's: past_len + seq_len."
                    .into(),
            },
        }
    }

    /// What the question was about, in the missed list: the tensor, or the kind.
    pub fn topic(&self) -> String {
        match &self.body {
            Body::Shape(q) => q.tensor.name().to_string(),
            Body::Concept(c) => c.kind.name().to_string(),
        }
    }

    /// The right answer as the walk reveals it: `xq_t is [bsz=1, …]`, `the answer is 0…4`.
    fn answer(&self) -> String {
        match &self.body {
            Body::Shape(q) => format!("{} is {}", q.tensor, q.expected),
            Body::Concept(c) => format!("the answer is {}", c.answer_text()),
        }
    }

    /// Why the answer is right, said after it is revealed or found.
    fn why(&self) -> Vec<String> {
        match &self.body {
            Body::Shape(_) => Vec::new(),
            Body::Concept(c) => vec![c.why.clone()],
        }
    }
}

/// A question answered wrong on the first try.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missed {
    pub step: usize,
    pub stage: StageId,
    /// The tensor asked about, or the kind of concept question.
    pub topic: String,
}

/// The quiz result: questions asked and how many were right the first time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuizScore {
    pub asked: usize,
    pub first_try: usize,
    pub missed: Vec<Missed>,
}

impl fmt::Display for QuizScore {
    /// `11/14 first try`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} first try", self.first_try, self.asked)
    }
}

impl QuizScore {
    /// `step 1 transpose (xq_t), step 2 softmax (visible_keys)`, or `none`.
    pub fn missed_text(&self) -> String {
        if self.missed.is_empty() {
            return "none".into();
        }
        self.missed
            .iter()
            .map(|m| format!("step {} {} ({})", m.step + 1, m.stage, m.topic))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Which questions have been asked, the ones waiting, and the score.
#[derive(Clone, Debug, Default)]
pub struct Quiz {
    asked: HashSet<(usize, Key)>,
    pending: Vec<Question>,
    /// The variant the pending questions are about.
    variant: usize,
    /// Wrong answers to the current question so far.
    tries: u8,
    pub score: QuizScore,
}

/// What an answer led to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Right: what the answer is, and why (concepts).
    Right { answer: String, why: Vec<String> },
    /// Wrong the first time: why, then one more try.
    Retry { why: Vec<String> },
    /// Wrong again (or skipped): the right answer and why.
    Reveal { answer: String, why: Vec<String> },
    /// The answer could not be read (or needs more); ask again without counting it.
    Unreadable(String),
}

impl Quiz {
    /// Queues the unasked questions of a stage of variant `variant`; true when there is one to
    /// ask now.
    pub fn enter(&mut self, variant: usize, questions: Vec<Question>) -> bool {
        self.variant = variant;
        self.pending = questions
            .into_iter()
            .filter(|q| !self.asked.contains(&(variant, q.key())))
            .collect();
        self.tries = 0;
        !self.pending.is_empty()
    }

    pub fn current(&self) -> Option<&Question> {
        self.pending.first()
    }

    /// Wrong answers given to the current question.
    pub fn tries(&self) -> u8 {
        self.tries
    }

    /// Leaves the stage without answering; its questions are asked on the next visit.
    pub fn abandon(&mut self) {
        self.pending.clear();
        self.tries = 0;
    }

    /// Takes a typed answer to the current question.
    pub fn answer(&mut self, text: &str) -> Option<Reply> {
        let q = self.pending.first()?.clone();
        let verdict = match &q.body {
            Body::Shape(s) => match parse_answer(text) {
                Ok(typed) => check(s, &typed),
                Err(why) => return Some(Reply::Unreadable(why)),
            },
            Body::Concept(_) if text.trim().is_empty() => {
                return Some(Reply::Unreadable(format!("type {}", q.input_help())));
            }
            Body::Concept(c) if c.check(text) => Verdict::Right,
            Body::Concept(_) => Verdict::Wrong(vec![format!("{} is not it", text.trim())]),
        };
        Some(match verdict {
            Verdict::Unnamed(why) => Reply::Unreadable(why),
            Verdict::Right => {
                self.close(&q, self.tries == 0);
                Reply::Right {
                    answer: q.answer(),
                    why: q.why(),
                }
            }
            Verdict::Wrong(why) if self.tries == 0 => {
                self.tries = 1;
                Reply::Retry { why }
            }
            Verdict::Wrong(mut why) => {
                self.close(&q, false);
                why.extend(q.why());
                Reply::Reveal {
                    answer: q.answer(),
                    why,
                }
            }
        })
    }

    /// Gives up on the current question: it counts as missed and the answer is shown.
    pub fn skip(&mut self) -> Option<Reply> {
        let q = self.pending.first()?.clone();
        self.close(&q, false);
        Some(Reply::Reveal {
            answer: q.answer(),
            why: q.why(),
        })
    }

    fn close(&mut self, q: &Question, first_try: bool) {
        self.asked.insert((self.variant, q.key()));
        self.score.asked += 1;
        if first_try {
            self.score.first_try += 1;
        } else {
            self.score.missed.push(Missed {
                step: q.step,
                stage: q.id,
                topic: q.topic(),
            });
        }
        self.pending.remove(0);
        self.tries = 0;
    }
}

#[cfg(test)]
mod tests;
