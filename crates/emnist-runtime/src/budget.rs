//! What a model file may cost to load, checked before the cost is paid: the file's size from its
//! metadata (before a byte is read, and never opening what is not a regular file), and the size of
//! every tensor tract would build while analysing and optimising the graph (a constant, a folded
//! constant subgraph such as `ConstantOfShape` → `ReduceSum`, an intermediate at the largest batch
//! the server runs), checked before tract builds it. A panic inside an engine while loading becomes
//! an error ([`catching`]) instead of ending the process.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};
use emnist_data::setting::Setting;
use tract_onnx::pb::{tensor_proto, ModelProto, TensorProto};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::{Factoid, InferenceOp};

/// The default of `emnist serve --max-model-mb`.
pub const DEFAULT_MAX_FILE_MB: u64 = 256;
/// The most one tensor may hold while a model loads or runs (1 GiB): an EMNIST classifier's largest
/// weight is a few MB and its largest activation at a batch of 128 about 13 MB.
pub const MAX_TENSOR_BYTES: u64 = 1 << 30;

/// The limits a load is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest model file, bytes (`--max-model-mb`).
    pub max_file_bytes: u64,
    /// Largest tensor, bytes, constant or intermediate.
    pub max_tensor_bytes: u64,
    /// The batch a free batch dimension is checked at (`--max-batch`).
    pub max_batch: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_file_bytes: DEFAULT_MAX_FILE_MB << 20, max_tensor_bytes: MAX_TENSOR_BYTES, max_batch: 128 }
    }
}

/// Reads the model file at `path` within `limits.max_file_bytes`: what is not a regular file (a
/// FIFO, a folder, a device) is refused without being opened for reading in a way that could block,
/// and a file over the limit is refused from its metadata, before it is read.
pub fn read_file(path: &Path, limits: &Limits) -> Result<Vec<u8>> {
    let file = path.display();
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read `{file}`"))?;
    if !meta.is_file() {
        bail!("`{file}` is not a regular file; put the model file itself there");
    }
    check_size(path, meta.len(), limits)?;
    // Non-blocking, so that a file swapped for a FIFO since the check still cannot hang the open.
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("cannot read `{file}`"))?;
    let meta = f.metadata().with_context(|| format!("cannot read `{file}`"))?;
    if !meta.is_file() {
        bail!("`{file}` is not a regular file; put the model file itself there");
    }
    check_size(path, meta.len(), limits)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(limits.max_file_bytes + 1).read_to_end(&mut bytes).with_context(|| format!("cannot read `{file}`"))?;
    check_size(path, bytes.len() as u64, limits)?;
    Ok(bytes)
}

fn check_size(path: &Path, bytes: u64, limits: &Limits) -> Result<()> {
    if bytes > limits.max_file_bytes {
        bail!(
            "`{}` is {} MB, over the limit of {} MB for a model file; raise {} to serve it",
            path.display(),
            bytes.div_ceil(1 << 20),
            limits.max_file_bytes >> 20,
            Setting::MaxModelMb
        );
    }
    Ok(())
}

/// Checks the tensors the file declares (initializers, `Constant` nodes, subgraphs included) against
/// the tensor budget before tract builds any of them.
pub fn check_proto(proto: &ModelProto, path: &Path, limits: &Limits) -> Result<()> {
    let mut tensors: Vec<&TensorProto> = Vec::new();
    let mut graphs: Vec<&tract_onnx::pb::GraphProto> = proto.graph.iter().collect();
    while let Some(g) = graphs.pop() {
        tensors.extend(&g.initializer);
        for attr in g.node.iter().flat_map(|n| &n.attribute) {
            tensors.extend(&attr.t);
            tensors.extend(&attr.tensors);
            graphs.extend(&attr.g);
            graphs.extend(&attr.graphs);
        }
    }
    for t in tensors {
        let elements = t.dims.iter().try_fold(1u64, |acc, &d| u64::try_from(d).ok().and_then(|d| acc.checked_mul(d)));
        let bytes = elements.and_then(|e| e.checked_mul(elem_bytes(t.data_type)));
        if bytes.is_none_or(|b| b > limits.max_tensor_bytes) {
            bail!(
                "`{}` declares tensor `{}` of shape {:?}, over the budget of {} for one tensor",
                path.display(),
                t.name,
                t.dims,
                show_bytes(limits.max_tensor_bytes)
            );
        }
    }
    Ok(())
}

/// Bytes per element of an ONNX element type (8 for the types this does not know: the largest).
fn elem_bytes(data_type: i32) -> u64 {
    use tensor_proto::DataType as T;
    match T::try_from(data_type) {
        Ok(T::Uint8 | T::Int8 | T::Bool) => 1,
        Ok(T::Uint16 | T::Int16 | T::Float16 | T::Bfloat16) => 2,
        Ok(T::Float | T::Int32 | T::Uint32) => 4,
        Ok(T::Complex128) => 16,
        _ => 8,
    }
}

fn show_bytes(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    }
}

/// Bytes of a tensor of `shape` and `dt`, the batch `symbol` (when the shape uses it) taken at
/// `batch`; `None` when a dimension stays unknown.
fn bytes_of(shape: &[TDim], dt: DatumType, symbol: Option<&Symbol>, batch: usize) -> Option<u64> {
    let values = match symbol {
        Some(s) => SymbolValues::default().with(s, batch as i64),
        None => SymbolValues::default(),
    };
    let mut total = dt.size_of() as u64;
    for d in shape {
        let d = u64::try_from(d.eval(&values).to_i64().ok()?).ok()?;
        total = total.saturating_mul(d);
    }
    Some(total)
}

/// tract's shape and type analysis of `model` (what `into_typed` would run first), one node at a
/// time: before a node whose inputs are all known values is evaluated (tract folds such nodes into
/// constants as it analyses, whatever their size), the shape of what it would produce is worked out
/// and held to the budget. After this, `into_typed` re-runs the analysis on known-small tensors.
pub fn analyse(model: &mut InferenceModel, limits: &Limits) -> Result<()> {
    let mut todo: BTreeSet<usize> = model.eval_order()?.into_iter().collect();
    todo.extend(0..model.nodes().len());
    let mut observers: std::collections::HashMap<OutletId, Vec<usize>> = Default::default();
    for node in model.nodes() {
        for outlet in node.op.observe_outlets(model, node)? {
            observers.entry(outlet).or_default().push(node.id);
        }
    }
    while let Some(&node) = todo.iter().next() {
        check_fold(model, node, limits)?;
        let changed = analyse_one(model, node)?;
        for (edge, _) in changed {
            for dst in &model.nodes()[edge.node].outputs[edge.slot].successors {
                if dst.node != edge.node {
                    todo.insert(dst.node);
                }
            }
            if edge.node != node {
                todo.insert(edge.node);
            }
            todo.extend(observers.get(&edge).into_iter().flatten());
        }
        todo.remove(&node);
    }
    Ok(())
}

/// One step of tract's analysis (as its private `Analyser::analyse_one`): the node's facts
/// refined by its op, and the edges that changed.
fn analyse_one(model: &mut InferenceModel, node: usize) -> TractResult<Vec<(OutletId, InferenceFact)>> {
    let observed_outlets = {
        let n = model.node(node);
        n.op.observe_outlets(model, n)?
    };
    let (inputs, outputs) = model.node_facts(node)?;
    let inputs: TVec<InferenceFact> = inputs.into_iter().cloned().collect();
    let outputs: TVec<InferenceFact> = outputs.into_iter().cloned().collect();
    let observed: TVec<InferenceFact> =
        observed_outlets.iter().map(|o| model.outlet_fact(*o).cloned()).collect::<TractResult<_>>()?;
    let (ins, outs, obs) =
        model.node_mut(node).op.infer(inputs.iter().collect(), outputs.iter().collect(), observed.iter().collect())?;
    let mut changed = Vec::new();
    let n = model.node(node);
    for (fact, &outlet) in ins.iter().zip(&n.inputs) {
        let old = model.outlet_fact(outlet)?;
        let unified = fact.unify(old)?;
        if &unified != old {
            changed.push((outlet, unified));
        }
    }
    for (ix, fact) in outs.iter().enumerate() {
        let outlet = OutletId::new(node, ix);
        let old = model.outlet_fact(outlet)?;
        let unified = old.unify(fact)?;
        if &unified != old {
            changed.push((outlet, unified));
        }
    }
    for (fact, &outlet) in obs.iter().zip(&observed_outlets) {
        let old = model.outlet_fact(outlet)?;
        let unified = old.unify(fact)?;
        if &unified != old {
            changed.push((outlet, unified));
        }
    }
    for (outlet, fact) in &changed {
        model.set_outlet_fact(*outlet, fact.clone())?;
    }
    Ok(changed)
}

/// When every input of `node` is a known value, the size of each output its shape rules give.
fn check_fold(model: &InferenceModel, node: usize, limits: &Limits) -> Result<()> {
    let (inputs, outputs) = model.node_facts(node)?;
    if inputs.is_empty() || !inputs.iter().all(|f| f.value.concretize().is_some()) {
        return Ok(());
    }
    let n = model.node(node);
    let observed: Vec<InferenceFact> =
        n.op.observe_outlets(model, n)?.iter().map(|o| model.outlet_fact(*o).cloned()).collect::<TractResult<_>>()?;
    let mut op: Box<dyn InferenceOp> = n.op.clone();
    let Ok((_, facts, _)) = op.infer_facts(inputs, outputs, observed.iter().collect()) else { return Ok(()) };
    for f in &facts {
        let (Some(dt), Some(shape)) = (f.datum_type.concretize(), f.shape.concretize()) else { continue };
        if let Some(bytes) = bytes_of(&shape, dt, None, 1).filter(|&b| b > limits.max_tensor_bytes) {
            bail!(
                "node `{}` ({}) folds into a constant of shape {:?} ({}), over the budget of {} for one tensor",
                n.name,
                n.op.name(),
                shape.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                show_bytes(bytes),
                show_bytes(limits.max_tensor_bytes)
            );
        }
    }
    Ok(())
}

/// Holds every tensor of the typed model (constants and intermediates, the batch `symbol` at
/// `limits.max_batch`) to the budget, before tract optimises it (folding constants) or runs it.
pub fn check_typed(typed: &TypedModel, symbol: Option<&Symbol>, limits: &Limits) -> Result<()> {
    for node in typed.nodes() {
        for (slot, o) in node.outputs.iter().enumerate() {
            let shape = o.fact.shape.to_tvec();
            let Some(bytes) = bytes_of(&shape, o.fact.datum_type, symbol, limits.max_batch) else { continue };
            if bytes > limits.max_tensor_bytes {
                let at = if symbol.is_some_and(|s| shape.iter().any(|d| d.symbols().contains(s))) {
                    format!(" at a batch of {} (lower {}?)", limits.max_batch, Setting::MaxBatch)
                } else {
                    String::new()
                };
                bail!(
                    "node `{}` ({}) output {slot} has shape {:?}, {}{at}, over the budget of {} for one tensor",
                    node.name,
                    node.op.name(),
                    shape.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                    show_bytes(bytes),
                    show_bytes(limits.max_tensor_bytes)
                );
            }
        }
    }
    Ok(())
}

thread_local! {
    /// Loads in progress on this thread: their panics are reported as errors, not printed.
    static LOADING: Cell<usize> = const { Cell::new(0) };
}

/// Runs `load`, turning a panic inside it (an engine that cannot allocate, a bug in an operator)
/// into an error that says what happened; the panic is not printed (no backtrace on stderr).
pub fn catching<T>(what: &str, load: impl FnOnce() -> Result<T>) -> Result<T> {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if LOADING.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
    LOADING.with(|l| l.set(l.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(load));
    LOADING.with(|l| l.set(l.get() - 1));
    match result {
        Ok(r) => r,
        Err(payload) => {
            let why = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            bail!("{what} failed inside the engine ({why}); the file cannot be served")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_loading_is_an_error_and_the_next_load_runs() {
        let e = catching::<()>("loading `x.onnx`", || panic!("failed to allocate 16 GiB")).unwrap_err().to_string();
        assert!(e.contains("loading `x.onnx` failed inside the engine") && e.contains("16 GiB"), "{e}");
        assert_eq!(catching("again", || Ok(7)).unwrap(), 7);
        assert_eq!(LOADING.with(Cell::get), 0);
    }

    #[test]
    fn sizes_take_the_batch_at_its_largest() {
        let s = SymbolScope::default().sym("N");
        let shape = [s.to_dim(), 1000.to_dim()];
        assert_eq!(bytes_of(&shape, f32::datum_type(), Some(&s), 128), Some(128 * 1000 * 4));
        assert_eq!(bytes_of(&[65536.to_dim(), 65536.to_dim()], f32::datum_type(), None, 1), Some(1 << 34));
    }

    #[test]
    fn a_file_over_the_limit_is_refused_from_its_size_alone() {
        let dir = tempfile_dir();
        let path = dir.join("big.onnx");
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(3 << 20).unwrap();
        let limits = Limits { max_file_bytes: 2 << 20, ..Limits::default() };
        let e = read_file(&path, &limits).unwrap_err().to_string();
        assert!(e.contains("over the limit of 2 MB") && e.contains(&format!("raise {}", Setting::MaxModelMb)), "{e}");
        let e = read_file(&dir, &limits).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("emnist-budget-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
