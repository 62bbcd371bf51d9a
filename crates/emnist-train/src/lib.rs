//! Training on libtorch (through `tch`): the only crate of the workspace that links it. The
//! settings, run directory, checkpoints and metrics it uses are libtorch-free, in
//! [`emnist_model::train`]; the binary `emnist-train` (what `emnist train` execs) is in `main.rs`.
//!
//! Training follows the seed's protocol (cross-entropy, Adam, batches of 128, 5 epochs, evaluation
//! on a fixed 5 % test sample 20 times per epoch) with proper shuffled epochs, and is
//! deterministic by (seed, step): the data order, the dropout masks and the evaluation sample
//! derive from them, so a resumed run ends where an uninterrupted one does.

mod adam;
mod net;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use tch::{nn, Device, Kind, Tensor};

use emnist_data::progress::Progress;
use emnist_data::rng::{permutation, Rng};
use emnist_data::shutdown::Shutdown;
use emnist_data::{Dataset, Part, PIXELS, SIDE};
use emnist_model::artifacts::RunDir;
use emnist_model::recipe::{validation_split, ValidationRecord, ValidationRow};
use emnist_model::record::{
    DatasetRef, FineTuneRecord, MetricsRow, ModelRecord, NewTest, TrainSettings, Versions, RECORD_VERSION,
};
use emnist_model::train::checkpoint::{self, Checkpoint};
use emnist_model::train::tune::{self, Mixed, Start};
use emnist_model::train::{augment, Augment};
use emnist_model::train::{
    confusion_matrix, eval_sample, final_metrics, inverse_frequency, open_run_dir, write_artifacts, ClassWeights,
    DeviceChoice, RunDirLock, TrainConfig, TrainOutcome, TrainReport,
};
use emnist_model::weights::Tensor as NamedTensor;
use emnist_model::ModelSpec;

/// One line about the linked libtorch: its version, CUDA devices, CPU threads.
pub fn libtorch_summary() -> String {
    let cuda = tch::Cuda::device_count();
    let cuda = if cuda > 0 { format!("{cuda} CUDA device(s)") } else { "no CUDA device".to_string() };
    format!("libtorch {} via tch {}: {cuda}, {} CPU threads", LIBTORCH_VERSION, TCH_VERSION, tch::get_num_threads())
}

/// The libtorch version found at build time (from the wheel's `torch/version.py`).
pub const LIBTORCH_VERSION: &str = env!("EMNIST_LIBTORCH_VERSION");
const TCH_VERSION: &str = "0.26";

/// The tensors of one part of the dataset: uint8 images [N, 1, 28, 28] and int64 class indices.
struct PartTensors {
    x: Tensor,
    y: Tensor,
    n: usize,
}

impl PartTensors {
    fn new(part: &Part, device: Device) -> PartTensors {
        let n = part.len();
        // SAFETY: the images outlive these tensors (`train` borrows the dataset for its whole run)
        // and libtorch only reads them; on CUDA they are copied to the device at once.
        let x = unsafe {
            Tensor::from_blob(
                part.images.as_ptr(),
                &[n as i64, 1, SIDE as i64, SIDE as i64],
                &[PIXELS as i64, PIXELS as i64, SIDE as i64, 1],
                Kind::Uint8,
                Device::Cpu,
            )
        };
        let labels: Vec<i64> = part.labels.iter().map(|&l| l as i64).collect();
        let y = Tensor::from_slice(&labels);
        let (x, y) = if device == Device::Cpu { (x, y) } else { (x.to_device(device), y.to_device(device)) };
        PartTensors { x, y, n }
    }

    /// A float batch in [0, 1] and its labels for these row indices.
    fn batch(&self, idx: &Tensor, scale: f64) -> (Tensor, Tensor) {
        let mut x = self.x.index_select(0, idx).to_kind(Kind::Float);
        let _ = x.g_mul_scalar_(scale);
        (x, self.y.index_select(0, idx))
    }
}

fn resolve_device(choice: DeviceChoice) -> Result<Device> {
    let count = tch::Cuda::device_count() as usize;
    Ok(match choice {
        DeviceChoice::Cpu => Device::Cpu,
        DeviceChoice::Auto if count > 0 => Device::Cuda(0),
        DeviceChoice::Auto => Device::Cpu,
        DeviceChoice::Cuda(n) if n < count => Device::Cuda(n),
        DeviceChoice::Cuda(n) => bail!(
            "CUDA device {n} was asked for, but libtorch sees {count} CUDA device(s); use `--device cpu` or `--device auto`"
        ),
    })
}

fn device_name(d: Device) -> String {
    match d {
        Device::Cuda(n) => format!("cuda:{n}"),
        _ => "cpu".into(),
    }
}

/// Deterministic per-step seed for libtorch's generator (dropout).
fn step_seed(seed: u64, step: usize) -> i64 {
    (Rng::derive(seed, 0x5eed, step as u64).next_u64() >> 1) as i64
}

/// Trains a model on `ds` as configured, writing artifacts into `cfg.out` (locked for the run,
/// see [`open_run_dir`]).
///
/// `stop` is polled after every step (the binary sets it on SIGINT/SIGTERM): the run then writes
/// a checkpoint and returns [`TrainOutcome::Interrupted`].
///
/// libtorch's random generator and thread count are process-wide: for reproducible results, run
/// one training at a time per process.
pub fn train(cfg: &TrainConfig, ds: &Dataset, progress: &dyn Progress, stop: &Shutdown) -> Result<TrainOutcome> {
    let lock = open_run_dir(cfg)?;
    train_in(cfg, lock, ds, progress, stop)
}

/// [`train`] into a run directory already opened (and locked) by [`open_run_dir`].
pub fn train_in(
    cfg: &TrainConfig,
    lock: RunDirLock,
    ds: &Dataset,
    progress: &dyn Progress,
    stop: &Shutdown,
) -> Result<TrainOutcome> {
    run_in(cfg, lock, ds, None, progress, stop)
}

/// Fine-tunes `start` (its weights; `cfg` has its architecture) on `mixed`, the original and new
/// data ([`tune::mix`]) into a run directory opened by [`open_run_dir`]. `data` names the new
/// data in the record. Each epoch trains on every new image and a fresh rehearsal draw; the
/// record holds the figures before and after on both test parts.
pub fn tune_in(
    cfg: &TrainConfig,
    lock: RunDirLock,
    mixed: &Mixed,
    start: &Start,
    data: DatasetRef,
    progress: &dyn Progress,
    stop: &Shutdown,
) -> Result<TrainOutcome> {
    let init = cfg.init.as_ref().context("fine-tuning needs `init` in the settings")?;
    let tune = Tune {
        start,
        base_rows: mixed.base_rows,
        rehearse: init.rehearse,
        new_test: &mixed.new_test,
        data,
        before: None,
    };
    run_in(cfg, lock, &mixed.dataset, Some(tune), progress, stop)
}

fn run_in(
    cfg: &TrainConfig,
    lock: RunDirLock,
    ds: &Dataset,
    tune: Option<Tune>,
    progress: &dyn Progress,
    stop: &Shutdown,
) -> Result<TrainOutcome> {
    // The lock comes from `open_run_dir`, which validated `cfg`.
    let _lock = lock;
    let mut run = Run::new(cfg, ds, tune, progress)?;
    let mut state = if cfg.resume { run.resume(progress)? } else { checkpoint::State::fresh() };
    let mut window = Window::new(run.device);
    while state.epoch < cfg.epochs && !state.stopped_early {
        if let Some(interrupted) = run.epoch(&mut state, &mut window, progress, stop)? {
            return Ok(interrupted);
        }
    }
    Ok(TrainOutcome::Finished(Box::new(run.finish(state)?)))
}

/// A fine-tuning's starting run and data (see [`emnist_model::train::tune`]).
struct Tune<'a> {
    start: &'a Start,
    /// Train rows `0..base_rows` are the original data's, the rest the new data's.
    base_rows: usize,
    rehearse: f64,
    new_test: &'a Part,
    /// The new data, as the record names it.
    data: DatasetRef,
    /// The starting weights' accuracy on the new test part (when it has images).
    before: Option<f64>,
}

/// One training run: its settings resolved, the data on the device, the model and optimiser.
struct Run<'a> {
    cfg: &'a TrainConfig,
    ds: &'a Dataset,
    device: Device,
    spec: ModelSpec,
    settings: TrainSettings,
    dataset: DatasetRef,
    train: PartTensors,
    test: PartTensors,
    /// Pixel bytes → model input.
    scale: f64,
    steps_per_epoch: usize,
    vs: nn::VarStore,
    model: net::Net,
    adam: adam::Adam,
    class_weights: Option<Tensor>,
    /// The fixed evaluation sample (test rows), drawn once per run from the seed.
    sample: Vec<i64>,
    /// Dropout is the only randomness inside a step: it is seeded per step so a resumed run matches.
    has_dropout: bool,
    /// Train rows the optimiser sees (all of them unless a validation split is held out).
    fit_rows: Vec<usize>,
    /// Train rows held out for validation (empty without a validation split).
    val_rows: Vec<i64>,
    /// The best epoch's weights so far (runs with a validation split).
    best: Option<Vec<NamedTensor>>,
    /// Set when fine-tuning, with the new test part on the device.
    tune: Option<(Tune<'a>, PartTensors)>,
    checkpoint: PathBuf,
    t0: Instant,
}

impl<'a> Run<'a> {
    fn new(cfg: &'a TrainConfig, ds: &'a Dataset, tune: Option<Tune<'a>>, progress: &dyn Progress) -> Result<Run<'a>> {
        if ds.train.is_empty() || ds.test.is_empty() {
            bail!("`{}` has no train or no test images", ds.info.name);
        }
        if let Some(t) = cfg.threads {
            tch::set_num_threads(t as i32);
        }
        let device = resolve_device(cfg.device)?;
        let spec = ModelSpec::new(cfg.architecture.clone(), ds.classes.clone());
        let (val_rows, fit_rows) = if cfg.practice.validation > 0.0 {
            validation_split(cfg.seed, cfg.practice.validation, ds.train.len())
        } else {
            (Vec::new(), (0..ds.train.len()).collect())
        };
        let rows_per_epoch = match &tune {
            Some(t) => {
                let new = ds.train.len() - t.base_rows;
                new + tune::rehearsal_count(new, t.base_rows, t.rehearse)
            }
            None => fit_rows.len(),
        };
        let steps_per_epoch = rows_per_epoch.div_ceil(cfg.batch_size);
        let settings = cfg.settings(steps_per_epoch, device_name(device), tch::get_num_threads() as usize);
        let t0 = Instant::now();
        tch::manual_seed((cfg.seed >> 1) as i64);
        let vs = nn::VarStore::new(device);
        let model = net::Net::new(&vs.root(), &spec)?;
        let adam = adam::Adam::new(net::parameters(&vs, &spec)?, settings.learning_rate);
        let sample = eval_sample(cfg.seed, cfg.eval_fraction, ds.test.len()).into_iter().map(|i| i as i64).collect();
        let scale = spec.input.scale as f64;
        let tune = match tune {
            Some(mut t) => {
                for (name, var) in net::parameters(&vs, &spec)? {
                    let src = t.start.weights.get(&name);
                    net::assign(&var, src.with_context(|| format!("`{}` has no `{name}`", t.start.dir.display()))?)?;
                }
                let new_test = PartTensors::new(t.new_test, device);
                if new_test.n > 0 {
                    t.before = Some(evaluate(&model, &new_test, None, scale, device)?.1);
                }
                progress.note(&format!(
                    "fine-tuning `{}` ({:.2} % on {}'s test part{}): {} new and {} rehearsal images per epoch, lr {}",
                    t.start.dir.display(),
                    100.0 * t.start.record.metrics.test_accuracy,
                    t.start.record.dataset.name,
                    t.before.map_or(String::new(), |b| format!(
                        ", {:.2} % on the new data's {} test images",
                        100.0 * b,
                        new_test.n
                    )),
                    ds.train.len() - t.base_rows,
                    rows_per_epoch - (ds.train.len() - t.base_rows),
                    settings.learning_rate
                ));
                Some((t, new_test))
            }
            None => None,
        };
        Ok(Run {
            cfg,
            ds,
            device,
            dataset: DatasetRef::of(ds),
            train: PartTensors::new(&ds.train, device),
            test: PartTensors::new(&ds.test, device),
            scale,
            steps_per_epoch,
            model,
            adam,
            class_weights: class_weight_tensor(cfg.class_weights, &ds.train, ds.classes.len(), device),
            sample,
            has_dropout: spec.layers().iter().any(|l| matches!(l, emnist_model::Layer::Dropout { .. })),
            fit_rows,
            val_rows: val_rows.into_iter().map(|i| i as i64).collect(),
            best: None,
            tune,
            checkpoint: RunDir::new(&cfg.out).checkpoint(),
            vs,
            spec,
            settings,
            t0,
        })
    }

    /// The model, the optimiser and the run's state from the checkpoint.
    fn resume(&mut self, progress: &dyn Progress) -> Result<checkpoint::State> {
        let ck = Checkpoint::read(&self.checkpoint)?;
        ck.check_compatible(&self.spec, &self.settings, &self.dataset)?;
        for (name, t) in net::parameters(&self.vs, &self.spec)? {
            let src = ck.tensors.iter().find(|x| x.name == format!("model.{name}"));
            let src = src.with_context(|| format!("the checkpoint has no `model.{name}`"))?;
            net::assign(&t, src)?;
        }
        self.adam.restore(&ck.tensors, ck.state.adam_step)?;
        if ck.state.best_epoch.is_some() {
            let best: Vec<NamedTensor> = ck
                .tensors
                .iter()
                .filter_map(|t| Some(NamedTensor { name: t.name.strip_prefix("best.")?.to_string(), ..t.clone() }))
                .collect();
            if best.is_empty() {
                bail!("the checkpoint names a best epoch but holds no `best.*` weights; start a new run");
            }
            self.best = Some(best);
        }
        progress.note(&format!(
            "resuming from `{}`: epoch {}, step {} of {}",
            self.checkpoint.display(),
            ck.state.epoch + 1,
            ck.state.step_in_epoch,
            self.steps_per_epoch
        ));
        Ok(ck.state)
    }

    fn save_checkpoint(&self, state: &checkpoint::State) -> Result<()> {
        let mut tensors = net::weights(&self.vs, &self.spec)?.tensors;
        for t in &mut tensors {
            t.name = format!("model.{}", t.name);
        }
        tensors.extend(self.adam.state()?);
        for t in self.best.iter().flatten() {
            tensors.push(NamedTensor { name: format!("best.{}", t.name), ..t.clone() });
        }
        let mut state = state.clone();
        state.wall_time_before_s += self.t0.elapsed().as_secs_f64();
        let ck = Checkpoint {
            spec: self.spec.clone(),
            settings: self.settings.clone(),
            dataset: self.dataset.clone(),
            state,
            tensors,
        };
        ck.write(&self.checkpoint)
    }

    /// The rest of the current epoch, evaluating every `eval_every` steps; checkpoints at its end,
    /// or as soon as a stop is requested (then returns `Interrupted`).
    fn epoch(
        &mut self,
        state: &mut checkpoint::State,
        window: &mut Window,
        progress: &dyn Progress,
        stop: &Shutdown,
    ) -> Result<Option<TrainOutcome>> {
        let (cfg, b) = (self.cfg, self.cfg.batch_size);
        let rows = match &self.tune {
            Some((t, _)) => tune::epoch_rows(cfg.seed, state.epoch, t.base_rows, self.ds.train.len(), t.rehearse),
            None => self.fit_rows.clone(),
        };
        let order = permutation(rows.len(), &mut Rng::derive(cfg.seed, 0x0e0c, state.epoch as u64));
        let order: Vec<i64> = order.into_iter().map(|i| rows[i] as i64).collect();
        let n = order.len();
        progress.start_steps(&format!("epoch {}/{}", state.epoch + 1, cfg.epochs), self.steps_per_epoch as u64);
        progress.advance(state.step_in_epoch as u64);
        window.restore(state);
        let t_epoch = Instant::now();
        let first_step = state.step_in_epoch;
        while state.step_in_epoch < self.steps_per_epoch {
            let s = state.step_in_epoch;
            self.step(&order[s * b..((s + 1) * b).min(n)], state.global_step, window);
            state.step_in_epoch += 1;
            state.global_step += 1;
            state.adam_step = self.adam.step;
            progress.advance(1);
            if state.global_step.is_multiple_of(self.settings.eval_every) {
                let rate = (state.step_in_epoch - first_step) as f64 * b as f64 / t_epoch.elapsed().as_secs_f64();
                let row = self.evaluate_sample(state, window, rate, progress)?;
                state.rows.push(row);
            }
            if stop.is_requested() {
                window.save(state);
                self.save_checkpoint(state)?;
                progress.finish();
                return Ok(Some(TrainOutcome::Interrupted {
                    checkpoint: self.checkpoint.clone(),
                    epoch: state.epoch,
                    step: state.step_in_epoch,
                }));
            }
        }
        state.epoch += 1;
        state.step_in_epoch = 0;
        if !self.val_rows.is_empty() {
            self.validate(state, progress)?;
        }
        window.save(state);
        self.save_checkpoint(state)?;
        progress.finish();
        Ok(None)
    }

    /// The validation split's figures after an epoch; keeps the weights when they are the best
    /// so far, and ends the run when `--patience` epochs brought nothing better.
    fn validate(&mut self, state: &mut checkpoint::State, progress: &dyn Progress) -> Result<()> {
        let (loss, accuracy, _) = evaluate(&self.model, &self.train, Some(&self.val_rows), self.scale, self.device)?;
        let best_so_far = state.best_epoch.and_then(|e| state.validation.iter().find(|r| r.epoch == e));
        let improved = best_so_far.is_none_or(|b| accuracy > b.accuracy);
        state.validation.push(ValidationRow { epoch: state.epoch, loss, accuracy });
        if improved {
            self.best = Some(net::weights(&self.vs, &self.spec)?.tensors);
            state.best_epoch = Some(state.epoch);
        }
        let best = state.best_epoch.unwrap_or(state.epoch);
        progress.report(&format!(
            "epoch {:>3}  validation loss {loss:.4} acc {:.2} %{}",
            state.epoch,
            100.0 * accuracy,
            if improved { "  (best so far: kept)".to_string() } else { format!("  (best: epoch {best})") }
        ));
        if let Some(patience) = self.cfg.practice.patience {
            if state.epoch - best >= patience && state.epoch < self.cfg.epochs {
                state.stopped_early = true;
                progress.note(&format!(
                    "stopping early: {patience} epoch(s) without a better validation accuracy; keeping epoch {best}"
                ));
            }
        }
        Ok(())
    }

    /// The float batch of these train rows: augmented on the host (from (seed, step, row)) when
    /// the run augments, else straight from the device copy.
    fn batch(&self, rows: &[i64], global_step: usize) -> (Tensor, Tensor) {
        let idx = Tensor::from_slice(rows).to_device(self.device);
        let kind = self.cfg.practice.augment;
        if kind == Augment::Off {
            return self.train.batch(&idx, self.scale);
        }
        let mut pixels = vec![0u8; rows.len() * PIXELS];
        for (k, (out, &row)) in pixels.chunks_mut(PIXELS).zip(rows).enumerate() {
            let mut rng = augment::rng(self.cfg.seed, global_step, k);
            augment::augment(kind, self.ds.train.image(row as usize), &mut rng, out);
        }
        let x = Tensor::from_slice(&pixels)
            .reshape([rows.len() as i64, 1, SIDE as i64, SIDE as i64])
            .to_device(self.device)
            .to_kind(Kind::Float)
            * self.scale;
        (x, self.train.y.index_select(0, &idx))
    }

    /// One optimiser step on these train rows.
    fn step(&mut self, rows: &[i64], global_step: usize, window: &mut Window) {
        let (x, y) = self.batch(rows, global_step);
        if self.has_dropout {
            tch::manual_seed(step_seed(self.cfg.seed, global_step));
        }
        let practice = &self.cfg.practice;
        let total = self.cfg.epochs * self.steps_per_epoch;
        let warmup = (practice.warmup_epochs * self.steps_per_epoch as f64).round() as usize;
        self.adam.lr = practice.learning_rate(self.settings.learning_rate, global_step, total, warmup);
        let logits = self.model.forward(&x, true);
        let loss = logits.cross_entropy_loss(
            &y,
            self.class_weights.as_ref(),
            tch::Reduction::Mean,
            -100,
            practice.label_smoothing,
        );
        self.adam.zero_grad();
        loss.backward();
        self.adam.step();
        window.add(&loss, &logits, &y);
    }

    /// The train window's figures and the evaluation sample's, as a metrics row, reported.
    fn evaluate_sample(
        &self,
        state: &mut checkpoint::State,
        window: &mut Window,
        rate: f64,
        progress: &dyn Progress,
    ) -> Result<MetricsRow> {
        let (train_loss, train_acc) = window.take(state);
        let (test_loss, test_acc, _) = evaluate(&self.model, &self.test, Some(&self.sample), self.scale, self.device)?;
        let row = MetricsRow {
            step: state.global_step,
            epoch: state.global_step as f64 / self.steps_per_epoch as f64,
            train_loss,
            train_acc,
            test_loss,
            test_acc,
        };
        progress.status(&format!(
            "loss {train_loss:.3} acc {:.1} % test {:.1} % {rate:.0}/s",
            100.0 * train_acc,
            100.0 * test_acc
        ));
        progress.report(&format!(
            "step {:>6}  epoch {:>5.2}  train loss {train_loss:.4} acc {:.2} %  test loss {test_loss:.4} acc {:.2} %  ({rate:.0} samples/s)",
            row.step,
            row.epoch,
            100.0 * train_acc,
            100.0 * test_acc
        ));
        Ok(row)
    }

    /// The whole test set (batch by batch: bounded memory whatever its size), the record and
    /// the artifacts; the checkpoint goes.
    fn finish(self, state: checkpoint::State) -> Result<TrainReport> {
        let ds = self.ds;
        let validation = match (&self.best, state.best_epoch) {
            (Some(best), Some(best_epoch)) => {
                for (name, t) in net::parameters(&self.vs, &self.spec)? {
                    let src = best.iter().find(|b| b.name == name);
                    net::assign(&t, src.with_context(|| format!("the best epoch's weights lack `{name}`"))?)?;
                }
                let best_accuracy = state.validation.iter().find(|r| r.epoch == best_epoch).map_or(0.0, |r| r.accuracy);
                Some(ValidationRecord {
                    images: self.val_rows.len(),
                    rows: state.validation.clone(),
                    best_epoch,
                    best_accuracy,
                    stopped_early: state.stopped_early,
                })
            }
            _ => None,
        };
        let (test_loss, test_accuracy, preds) = evaluate(&self.model, &self.test, None, self.scale, self.device)?;
        let confusion = confusion_matrix(&ds.test.labels, &preds, ds.classes.len());
        let metrics =
            final_metrics(&confusion, &ds.classes.names, test_loss, test_accuracy, state.global_step, state.epoch);
        let (dataset, fine_tune) = match &self.tune {
            Some((t, new_test)) => {
                let after = match t.before {
                    Some(before) => Some(NewTest {
                        images: new_test.n,
                        accuracy_before: before,
                        accuracy_after: evaluate(&self.model, new_test, None, self.scale, self.device)?.1,
                    }),
                    None => None,
                };
                let new = ds.train.len() - t.base_rows;
                let record = FineTuneRecord {
                    from: t.start.dir.display().to_string(),
                    from_weights: t.start.weights_hash.clone(),
                    from_test_accuracy: t.start.record.metrics.test_accuracy,
                    data: t.data.clone(),
                    rehearse: t.rehearse,
                    new_images_per_epoch: new,
                    rehearsal_images_per_epoch: tune::rehearsal_count(new, t.base_rows, t.rehearse),
                    new_test: after,
                };
                // The figures are on the starting run's test part: the record names its data.
                (t.start.record.dataset.clone(), Some(record))
            }
            None => (self.dataset, None),
        };
        let record = ModelRecord {
            format_version: RECORD_VERSION,
            parameters: self.spec.parameter_count(),
            spec: self.spec.clone(),
            dataset,
            training: self.settings,
            metrics,
            validation,
            fine_tune,
            wall_time_s: self.t0.elapsed().as_secs_f64() + state.wall_time_before_s,
            versions: Versions {
                emnist: env!("CARGO_PKG_VERSION").into(),
                tch: TCH_VERSION.into(),
                libtorch: LIBTORCH_VERSION.into(),
            },
        };
        let mut files =
            write_artifacts(&self.cfg.out, &net::weights(&self.vs, &self.spec)?, &record, &state.rows, &confusion)?;
        files.extend(emnist_report::plot::training_figures(&record, &state.rows, &confusion, &self.cfg.out)?);
        let _ = std::fs::remove_file(&self.checkpoint);
        Ok(TrainReport { record, rows: state.rows, confusion, files })
    }
}

fn class_weight_tensor(w: ClassWeights, train: &Part, k: usize, device: Device) -> Option<Tensor> {
    match w {
        ClassWeights::None => None,
        ClassWeights::InverseFrequency => {
            let counts = emnist_data::explore::class_counts(train, k);
            Some(Tensor::from_slice(&inverse_frequency(&counts)).to_device(device))
        }
    }
}

/// Running train loss and accuracy since the last evaluation, kept on the device.
struct Window {
    loss_sum: Tensor,
    correct: Tensor,
    seen: usize,
}

impl Window {
    fn new(device: Device) -> Window {
        Window {
            loss_sum: Tensor::zeros([], (Kind::Double, device)),
            correct: Tensor::zeros([], (Kind::Int64, device)),
            seen: 0,
        }
    }

    fn add(&mut self, loss: &Tensor, logits: &Tensor, y: &Tensor) {
        let n = y.size()[0];
        tch::no_grad(|| {
            let _ = self.loss_sum.g_add_(&(loss.detach().to_kind(Kind::Double) * n as f64));
            let _ = self.correct.g_add_(&logits.argmax(-1, false).eq_tensor(y).sum(Kind::Int64));
        });
        self.seen += n as usize;
    }

    /// Mean loss and accuracy since the last call; resets.
    fn take(&mut self, state: &mut checkpoint::State) -> (f64, f64) {
        self.save(state);
        let n = state.window_seen.max(1) as f64;
        let out = (state.window_loss_sum / n, state.window_correct as f64 / n);
        let _ = self.loss_sum.zero_();
        let _ = self.correct.zero_();
        self.seen = 0;
        state.window_loss_sum = 0.0;
        state.window_correct = 0;
        state.window_seen = 0;
        out
    }

    /// Copies the window into the checkpoint state.
    fn save(&self, state: &mut checkpoint::State) {
        state.window_loss_sum = self.loss_sum.double_value(&[]);
        state.window_correct = self.correct.int64_value(&[]) as u64;
        state.window_seen = self.seen;
    }

    /// Restores the window from the checkpoint state.
    fn restore(&mut self, state: &checkpoint::State) {
        let _ = self.loss_sum.fill_(state.window_loss_sum);
        let _ = self.correct.fill_(state.window_correct as i64);
        self.seen = state.window_seen;
    }
}

const EVAL_BATCH: usize = 1024;

/// Mean cross-entropy, accuracy and predictions over `rows` of a part (all rows when `None`).
fn evaluate(
    model: &net::Net,
    part: &PartTensors,
    rows: Option<&[i64]>,
    scale: f64,
    device: Device,
) -> Result<(f64, f64, Vec<i64>)> {
    let all: Vec<i64>;
    let rows = match rows {
        Some(r) => r,
        None => {
            all = (0..part.n as i64).collect();
            &all
        }
    };
    let mut loss_sum = 0.0;
    let mut preds = Vec::with_capacity(rows.len());
    tch::no_grad(|| -> Result<()> {
        for chunk in rows.chunks(EVAL_BATCH) {
            let idx = Tensor::from_slice(chunk).to_device(device);
            let (x, y) = part.batch(&idx, scale);
            let logits = model.forward(&x, false);
            let loss = logits.cross_entropy_loss::<Tensor>(&y, None, tch::Reduction::Sum, -100, 0.0);
            loss_sum += loss.double_value(&[]);
            preds.extend(Vec::<i64>::try_from(logits.argmax(-1, false).to_device(Device::Cpu))?);
        }
        Ok(())
    })?;
    let labels = Vec::<i64>::try_from(
        part.y.index_select(0, &Tensor::from_slice(rows).to_device(device)).to_device(Device::Cpu),
    )?;
    let correct = preds.iter().zip(&labels).filter(|(p, l)| p == l).count();
    let n = rows.len().max(1) as f64;
    Ok((loss_sum / n, correct as f64 / n, preds))
}
