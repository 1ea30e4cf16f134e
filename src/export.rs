//! Exports of a numeric trace, in three formats ([`Format`], written by [`write`]):
//!
//! - **json**, `attnstep-trace/1` ([docs/trace-format.md](../docs/trace-format.md)): the config,
//!   the weights, and for every step every tensor under its export name, with shape and dim
//!   names. Non-finite values are written as the strings "-inf", "inf" and "nan", never as `null`.
//! - **npz**, numpy's zip of `.npy` arrays (uncompressed): `np.load(path)` gives every tensor by
//!   its [`array_names`] name, `step1/scores`, `weights/q_proj`, as little-endian float32 arrays.
//! - **safetensors**: the same names as float32 (F32) tensors; the header's `__metadata__` holds
//!   `format` (`attnstep-trace/1`) and `config` (the config as JSON).
//!
//! Both binary formats stream the numbers straight from the trace to the writer, a tensor at a
//! time through a small buffer: nothing is copied whole, and the file is the tensors' bytes plus
//! a few hundred bytes of header per tensor. Neither needs a seekable writer, so `-o -` works.

use std::collections::HashMap;
use std::io::{BufWriter, Write};

use ndarray_npy::WriteNpyExt;
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::numeric::Tensor;
use crate::trace::{Step, Trace};

pub const FORMAT: &str = "attnstep-trace/1";

/// The file formats `export` writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// attnstep-trace/1 JSON: config, weights and every tensor with shapes and dim names.
    #[default]
    Json,
    /// numpy's .npz: `np.load` gives every tensor by name (`step1/scores`, `weights/q_proj`).
    Npz,
    /// safetensors: the same names; the config in the header's metadata.
    Safetensors,
}

/// Writes `trace` to `out` in `format`. `out` need not be seekable; wrap files and stdout in a
/// `BufWriter` (the binary formats write a tensor at a time, JSON a number at a time).
pub fn write(trace: &Trace<Tensor>, format: Format, out: impl Write) -> anyhow::Result<()> {
    match format {
        Format::Json => write_json(trace, out)?,
        Format::Npz => write_npz(trace, out)?,
        Format::Safetensors => write_safetensors(trace, out)?,
    }
    Ok(())
}

/// Every tensor of the trace under its name in the binary formats, weights first, then each
/// step's tensors in stage order: `weights/<weight>` and `step<N>/<tensor>`, N counting forward
/// calls from 1 as `shapes` does.
pub fn array_names(trace: &Trace<Tensor>) -> Vec<(String, &Tensor)> {
    let weights = trace
        .weights
        .iter()
        .map(|w| (format!("weights/{}", w.id.name()), &w.value));
    let steps = trace.steps.iter().enumerate().flat_map(|(i, step)| {
        step.tensors()
            .map(move |n| (format!("step{}/{}", i + 1, n.name()), &n.value))
    });
    weights.chain(steps).collect()
}

/// Writes the trace as an uncompressed .npz: one `<name>.npy` member per array (ndarray-npy
/// writes each .npy, in C or Fortran order as the data lies), streamed with data descriptors.
pub fn write_npz(trace: &Trace<Tensor>, out: impl Write) -> anyhow::Result<()> {
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new_stream(out);
    for (name, t) in array_names(trace) {
        // A member over 4 GiB needs zip64 sizes, declared before its bytes are streamed.
        let large = t.data.len() as u64 * 4 + 1024 >= u64::from(u32::MAX);
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(large);
        zip.start_file(format!("{name}.npy"), options)?;
        t.data
            .write_npy(BufWriter::with_capacity(1 << 16, &mut zip))?;
    }
    zip.finish()?.flush()?;
    Ok(())
}

/// Writes the trace as safetensors: the header (built and checked by the safetensors crate's
/// `Metadata`, padded to 8 bytes as the format asks), then every tensor's f32 values in
/// row-major order, little-endian.
pub fn write_safetensors(trace: &Trace<Tensor>, mut out: impl Write) -> anyhow::Result<()> {
    use safetensors::tensor::{Dtype, Metadata, TensorInfo};
    let arrays = array_names(trace);
    let mut offset = 0;
    let infos = arrays
        .iter()
        .map(|(name, t)| {
            let bytes = t.data.len() * 4;
            let info = TensorInfo {
                dtype: Dtype::F32,
                shape: t.data.shape().to_vec(),
                data_offsets: (offset, offset + bytes),
            };
            offset += bytes;
            (name.clone(), info)
        })
        .collect();
    let meta = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("config".to_string(), serde_json::to_string(&trace.config)?),
    ]);
    let mut header = serde_json::to_vec(&Metadata::new(Some(meta), infos)?)?;
    header.resize(header.len().next_multiple_of(8), b' ');
    out.write_all(&(header.len() as u64).to_le_bytes())?;
    out.write_all(&header)?;
    for (_, t) in &arrays {
        write_f32_le(&mut out, t)?;
    }
    out.flush()?;
    Ok(())
}

/// The values of `t` in row-major order as little-endian bytes, through a 64 KiB buffer.
fn write_f32_le(out: &mut impl Write, t: &Tensor) -> std::io::Result<()> {
    const CHUNK: usize = 1 << 14;
    let mut buf = Vec::with_capacity(CHUNK * 4);
    let mut flush = |buf: &mut Vec<u8>| -> std::io::Result<()> {
        out.write_all(buf)?;
        buf.clear();
        Ok(())
    };
    match t.data.as_slice() {
        Some(values) => {
            for chunk in values.chunks(CHUNK) {
                buf.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
                flush(&mut buf)?;
            }
        }
        None => {
            for v in t.data.iter() {
                buf.extend(v.to_le_bytes());
                if buf.len() == buf.capacity() {
                    flush(&mut buf)?;
                }
            }
            flush(&mut buf)?;
        }
    }
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use ndarray::{ArrayD, IxDyn};
    use ndarray_npy::NpzReader;

    use super::*;
    use crate::config::ConfigSpec;
    use crate::numeric::Numeric;

    /// Two forward calls (prefill of 3, one decode), GQA, with a padding mask: every kind of
    /// tensor, strided views (the transposes) and -inf in the masks.
    fn trace() -> Trace<Tensor> {
        let cfg = ConfigSpec {
            hidden_size: Some(16),
            num_attention_heads: Some(4),
            num_key_value_heads: Some(2),
            steps: Some(vec![3]),
            decode: Some(1),
            attention_mask: Some(vec!["0111".into()]),
            ..ConfigSpec::default()
        }
        .resolve()
        .unwrap();
        crate::forward::trace(&cfg, &mut Numeric::new(cfg.seed))
    }

    fn data_bytes(trace: &Trace<Tensor>) -> usize {
        array_names(trace)
            .iter()
            .map(|(_, t)| t.data.len() * 4)
            .sum()
    }

    #[test]
    fn names_cover_weights_and_every_step_tensor_once() {
        let t = trace();
        let names: Vec<String> = array_names(&t).into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"weights/q_proj".to_string()));
        assert!(names.contains(&"step1/scores".to_string()));
        assert!(names.contains(&"step2/xk_cache".to_string()));
        assert!(names.contains(&"step2/padding_mask".to_string()));
        let per_step: usize = t.steps.iter().map(|s| s.tensors().count()).sum();
        assert_eq!(names.len(), t.weights.len() + per_step);
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "names are unique");
    }

    #[test]
    fn npz_round_trips_names_shapes_and_values() {
        let t = trace();
        let mut buf = Vec::new();
        write(&t, Format::Npz, &mut buf).unwrap();
        let arrays = array_names(&t);
        // Per member: a local header, a data descriptor, a central directory entry (each
        // with the name) and the .npy header: well under 512 bytes.
        assert!(
            buf.len() <= data_bytes(&t) + 512 * arrays.len(),
            "{} bytes",
            buf.len()
        );
        let mut npz = NpzReader::new(Cursor::new(buf)).unwrap();
        assert_eq!(npz.len(), arrays.len());
        for (name, tensor) in &arrays {
            let a: ArrayD<f32> = npz.by_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(a.shape(), tensor.data.shape(), "{name}");
            assert!(
                a.iter()
                    .zip(tensor.data.iter())
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{name}: values differ"
            );
        }
    }

    #[test]
    fn safetensors_round_trips_names_shapes_values_and_config() {
        let t = trace();
        let mut buf = Vec::new();
        write(&t, Format::Safetensors, &mut buf).unwrap();
        let arrays = array_names(&t);
        let header = u64::from_le_bytes(buf[..8].try_into().unwrap()) as usize;
        assert_eq!(
            buf.len(),
            8 + header + data_bytes(&t),
            "nothing but header and data"
        );
        let st = safetensors::SafeTensors::deserialize(&buf).unwrap();
        assert_eq!(st.len(), arrays.len());
        for (name, tensor) in &arrays {
            let view = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(view.dtype(), safetensors::Dtype::F32);
            assert_eq!(view.shape(), tensor.data.shape(), "{name}");
            let values: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            let want = ArrayD::from_shape_vec(IxDyn(view.shape()), values).unwrap();
            assert!(
                want.iter()
                    .zip(tensor.data.iter())
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{name}: values differ"
            );
        }
        let (_, meta) = safetensors::SafeTensors::read_metadata(&buf).unwrap();
        let meta = meta.metadata().as_ref().expect("__metadata__");
        assert_eq!(meta["format"], FORMAT);
        let config: serde_json::Value = serde_json::from_str(&meta["config"]).unwrap();
        assert_eq!(config["hidden_size"], 16);
    }
}
