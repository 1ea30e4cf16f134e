//! The `attnstep-trace/1` JSON export (docs/trace-format.md): the config, the weights, and
//! for every step every tensor under its export name. Non-finite values are written as the
//! strings "-inf", "inf" and "nan", never as `null`.

use std::io::Write;

use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::numeric::Tensor;
use crate::trace::{Step, Trace};

pub const FORMAT: &str = "attnstep-trace/1";

/// Writes the trace as pretty-enough JSON (one line per tensor would be huge; we keep it compact).
pub fn write_json(trace: &Trace<Tensor>, out: impl Write) -> serde_json::Result<()> {
    serde_json::to_writer(out, &TraceJson(trace))
}

struct TraceJson<'a>(&'a Trace<Tensor>);
struct TensorJson<'a>(&'a Tensor);
struct Data<'a>(&'a Tensor);
/// `(name, tensor)` pairs written as one JSON object.
struct NamedMap<'a, I: Iterator<Item = (&'static str, &'a Tensor)> + Clone>(I);
struct StepJson<'a>(&'a Step<Tensor>);

impl Serialize for TraceJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut st = s.serialize_struct("Trace", 4)?;
        st.serialize_field("format", FORMAT)?;
        st.serialize_field("config", &t.config)?;
        st.serialize_field(
            "weights",
            &NamedMap(t.weights.iter().map(|w| (w.id.name(), &w.value))),
        )?;
        let steps: Vec<StepJson> = t.steps.iter().map(StepJson).collect();
        st.serialize_field("steps", &steps)?;
        if let Some(model) = &t.model {
            st.serialize_field("model", model)?;
        }
        st.end()
    }
}

impl Serialize for StepJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let step = self.0;
        let mut st = s.serialize_struct("Step", 4)?;
        st.serialize_field("kind", step.kind.as_str())?;
        st.serialize_field("start_pos", &step.start_pos)?;
        st.serialize_field("seq_len", &step.seq_len)?;
        st.serialize_field(
            "tensors",
            &NamedMap(step.tensors().map(|n| (n.name(), &n.value))),
        )?;
        st.end()
    }
}

impl<'a, I: Iterator<Item = (&'static str, &'a Tensor)> + Clone> Serialize for NamedMap<'a, I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (name, value) in self.0.clone() {
            map.serialize_entry(name, &TensorJson(value))?;
        }
        map.end()
    }
}

impl Serialize for TensorJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut st = s.serialize_struct("T", 3)?;
        st.serialize_field("shape", &t.shape.sizes())?;
        st.serialize_field("dims", &t.shape.names())?;
        st.serialize_field("data", &Data(t))?;
        st.end()
    }
}

impl Serialize for Data<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let data = &self.0.data;
        let mut seq = s.serialize_seq(Some(data.len()))?;
        for &v in data.iter() {
            if v.is_finite() {
                seq.serialize_element(&v)?;
            } else if v.is_nan() {
                seq.serialize_element("nan")?;
            } else if v > 0.0 {
                seq.serialize_element("inf")?;
            } else {
                seq.serialize_element("-inf")?;
            }
        }
        seq.end()
    }
}

/// Reads a value of an exported tensor's `data` back: a number, or one of the three strings.
pub fn parse_value(v: &serde_json::Value) -> Option<f32> {
    match v {
        serde_json::Value::Number(n) => n.as_f64().map(|x| x as f32),
        serde_json::Value::String(s) => match s.as_str() {
            "inf" => Some(f32::INFINITY),
            "-inf" => Some(f32::NEG_INFINITY),
            "nan" => Some(f32::NAN),
            _ => None,
        },
        _ => None,
    }
}
