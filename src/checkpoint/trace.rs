//! One layer of a checkpoint as attnstep's trace: the model runs the text up to the chosen
//! layer, the layer's attention is traced by the same forward pass as every other run, and two
//! stages from outside the attention layer frame it: where its input comes from, and (after the
//! last call) what the whole model predicts next.

use super::error::CheckpointError;
use super::open::{Checkpoint, Tokens};
use crate::forward;
use crate::numeric::{Numeric, Tensor};
use crate::stage::{StageId, TensorId};
use crate::trace::{ModelInfo, Named, Stage, Trace};

impl Checkpoint {
    /// Traces layer `layer` of this checkpoint on `tokens`, in the forward calls `steps`;
    /// `name` is how the checkpoint is shown (`tiny`, a directory).
    pub fn trace(
        &self,
        name: &str,
        tokens: &Tokens,
        steps: &[usize],
        layer: usize,
    ) -> Result<Trace<Tensor>, CheckpointError> {
        let cfg = self.attention_config(steps, Some(tokens.labels.clone()))?;
        let run = self.run(&tokens.ids, steps, layer)?;
        let mut b = Numeric::new(cfg.seed);
        let mut trace =
            forward::trace_with(&cfg, &mut b, self.layer_weights(layer)?, run.layer_inputs);
        for (step, hidden_in) in trace.steps.iter_mut().zip(run.layer_residuals) {
            step.stages.insert(
                0,
                Stage {
                    id: StageId::Source,
                    tensors: vec![Named {
                        id: TensorId::HiddenIn,
                        value: hidden_in,
                        from: None,
                    }],
                    via: Vec::new(),
                },
            );
        }
        if let Some(last) = trace.steps.last_mut() {
            last.stages.push(Stage {
                id: StageId::Predict,
                tensors: Vec::new(),
                via: Vec::new(),
            });
        }
        trace.model = Some(ModelInfo {
            name: name.to_string(),
            layer,
            layers: self.config.num_hidden_layers,
            token_ids: tokens.ids.clone(),
            top5: run
                .top5
                .into_iter()
                .map(|p| (p.id, p.label, p.prob))
                .collect(),
        });
        Ok(trace)
    }
}
