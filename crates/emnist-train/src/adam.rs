//! Adam, written out so that its state (moments and step count) can be checkpointed and resumed
//! exactly; the update is PyTorch's (`torch.optim.Adam`, no weight decay, no amsgrad).

use anyhow::{bail, Result};
use tch::Tensor;

use super::net::{assign, to_named};
use emnist_model::weights::Tensor as NamedTensor;

pub struct Adam {
    pub lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    /// Updates done so far.
    pub step: i64,
    params: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    /// Per-parameter scratch space, so a step allocates nothing.
    scratch: Vec<(Tensor, Tensor)>,
}

impl Adam {
    pub fn new(params: Vec<(String, Tensor)>, lr: f64) -> Adam {
        let zeros = |p: &Tensor| Tensor::zeros_like(p).detach();
        let m = params.iter().map(|(_, p)| zeros(p)).collect();
        let v = params.iter().map(|(_, p)| zeros(p)).collect();
        let scratch = params.iter().map(|(_, p)| (zeros(p), zeros(p))).collect();
        Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 0, params, m, v, scratch }
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    /// One update from the gradients in place.
    pub fn step(&mut self) {
        self.step += 1;
        let bc1 = 1.0 - self.beta1.powi(self.step as i32);
        let bc2_sqrt = (1.0 - self.beta2.powi(self.step as i32)).sqrt();
        let step_size = self.lr / bc1;
        tch::no_grad(|| {
            let moments = self.m.iter_mut().zip(self.v.iter_mut());
            for (((_, p), (m, v)), (tmp, denom)) in self.params.iter().zip(moments).zip(self.scratch.iter_mut()) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                // m ← β₁m + (1-β₁)g;  v ← β₂v + (1-β₂)g²
                let _ = m.lerp_(&g, 1.0 - self.beta1);
                let _ = g.mul_out(tmp, &g);
                let _ = v.lerp_(tmp, 1.0 - self.beta2);
                // p ← p - lr/(1-β₁ᵗ) · m / (√v / √(1-β₂ᵗ) + ε)
                let _ = v.sqrt_out(denom);
                let _ = denom.g_div_scalar_(bc2_sqrt);
                let _ = denom.g_add_scalar_(self.eps);
                let _ = m.div_out(tmp, denom);
                let _ = tmp.g_mul_scalar_(step_size);
                let mut p = p.shallow_clone();
                let _ = p.g_sub_(tmp);
            }
        });
    }

    /// The moments as named host tensors (`adam.m.<name>`, `adam.v.<name>`).
    pub fn state(&self) -> Result<Vec<NamedTensor>> {
        let mut out = Vec::new();
        for ((name, _), (m, v)) in self.params.iter().zip(self.m.iter().zip(&self.v)) {
            out.push(to_named(&format!("adam.m.{name}"), m)?);
            out.push(to_named(&format!("adam.v.{name}"), v)?);
        }
        Ok(out)
    }

    /// Restores the moments from a checkpoint's tensors.
    pub fn restore(&mut self, tensors: &[NamedTensor], step: i64) -> Result<()> {
        for ((name, _), (m, v)) in self.params.iter().zip(self.m.iter().zip(&self.v)) {
            for (kind, dst) in [("m", m), ("v", v)] {
                let key = format!("adam.{kind}.{name}");
                let Some(src) = tensors.iter().find(|t| t.name == key) else {
                    bail!("the checkpoint has no optimiser state `{key}`");
                };
                assign(dst, src)?;
            }
        }
        self.step = step;
        Ok(())
    }
}
