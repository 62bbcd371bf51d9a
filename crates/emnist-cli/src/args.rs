//! The arguments both executables parse: which dataset (every command that reads one) and how to
//! train (`emnist train`, which `emnist-train` parses again after the exec). Their doc comments are
//! the `--help`; each converts to a plain config before any work happens.
// The doc comments are help text first: `<model>` there is a placeholder for the terminal, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

use emnist_data::source::LoadConfig;
use emnist_data::synthetic::{Ingredients, SyntheticConfig};
use emnist_data::Split;
use emnist_model::train::{tune, Augment, ClassWeights, DeviceChoice, Practice, Recipe, Schedule};

/// The command line `emnist-train` parses: `emnist train …` as `emnist` received it.
#[derive(Debug, Parser)]
#[command(name = "emnist", version, propagate_version = true)]
pub struct TrainCli {
    /// No progress bars or notes on stderr (errors are still printed).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: TrainCommand,
}

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Train a linear, DNN or CNN classifier (libtorch), with curves, confusion matrix and checkpoints.
    Train(TrainArgs),
}

/// Which dataset to read: shared by every command that reads one.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// A .mat file (EMNIST's Matlab release) or a folder of idx files (EMNIST's gzip release,
    /// MNIST, Fashion-MNIST). Default: the first EMNIST file under `--data-dir`, else a generated
    /// synthetic EMNIST-like set (clearly labelled: it is not EMNIST).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Which EMNIST split to use where a folder holds several.
    #[arg(long, value_parser = split_parser())]
    pub split: Option<Split>,
    /// Where to look for EMNIST files when `--data` is not given.
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Decode from the source instead of the cache, and write no cache entry.
    #[arg(long)]
    pub no_cache: bool,
    /// Leave ingredients out of the synthetic default's generator, comma-separated (hand-shapes,
    /// script-faces, writers, jitter, elastic, pen, framing): the ablation study of
    /// `bench/real_handwriting.sh`.
    #[arg(long, value_name = "LIST", value_parser = Ingredients::without)]
    pub synthetic_without: Option<Ingredients>,
}

impl DataArgs {
    pub fn to_config(&self) -> LoadConfig {
        LoadConfig {
            data: self.data.clone(),
            data_dir: self.data_dir.clone(),
            split: self.split,
            cache: !self.no_cache,
            synthetic: SyntheticConfig {
                ingredients: self.synthetic_without.unwrap_or_default(),
                ..SyntheticConfig::default()
            },
            ..LoadConfig::default()
        }
    }
}

/// `--class-weights`: one of [`ClassWeights::ALL`], each with its line of help.
fn class_weights_parser() -> impl clap::builder::TypedValueParser<Value = ClassWeights> {
    use clap::builder::{PossibleValue, TypedValueParser};
    let values = ClassWeights::ALL.map(|c| PossibleValue::new(c.name()).help(c.description()));
    clap::builder::PossibleValuesParser::new(values).try_map(|s| s.parse::<ClassWeights>())
}

/// `--split`: one of [`Split::ALL`], listed in `--help` and in the error for any other value.
pub fn split_parser() -> impl clap::builder::TypedValueParser<Value = Split> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Split::ALL.map(Split::name)).try_map(|s| s.parse::<Split>())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// One fully connected layer 784 → classes.
    Linear,
    /// Two ELU hidden layers (`--hidden`, default 512,256), the seed's DNN.
    Dnn,
    /// Conv + ReLU + max-pool blocks (`--channels`, default 32,64), dropout, one hidden layer
    /// (`--hidden`, default 128).
    Cnn,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The architecture (with `--init`: RUN's, which this may only repeat).
    #[arg(long, value_enum, required_unless_present = "init")]
    pub model: Option<ModelArg>,
    /// Hidden layer sizes: the DNN's ELU layers [default: 512,256], or the CNN's one dense layer
    /// [default: 128].
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// The CNN's conv + ReLU + max-pool blocks, channels per block [default: 32,64]; at most
    /// four blocks (28 → 14 → 7 → 3 → 1).
    #[arg(long, value_delimiter = ',')]
    pub channels: Option<Vec<usize>>,
    /// Adam's learning rate [default: 0.01 linear, 3e-4 dnn, 1e-3 cnn: the seed's; with --init,
    /// 0.3 × RUN's].
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Epochs [default: 5, the seed's; with --init, 10].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Seeds the weights, the data order, dropout and the evaluation sample.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value = "none", value_parser = class_weights_parser())]
    pub class_weights: ClassWeights,
    /// Evaluate every N steps [default: 20 times per epoch].
    #[arg(long, value_name = "N")]
    pub eval_every: Option<usize>,
    /// Share of the test set in the fixed evaluation sample.
    #[arg(long, default_value_t = 0.05)]
    pub eval_fraction: f64,
    /// `auto` (CUDA when libtorch sees a GPU), `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// libtorch CPU threads [default: libtorch's choice].
    #[arg(long)]
    pub threads: Option<usize>,
    /// The run directory [default: models/<model>; with --init, RUN's folder name + -tuned].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite an existing run directory.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Continue the run in `--out` from its checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Fine-tune the finished run in RUN (its architecture, classes and weights) on `--data`: a
    /// payload log folder (`emnist serve --log-dir`: its labelled images), or any dataset whose
    /// classes are among RUN's. Each epoch mixes every new image with `--rehearse` times as many
    /// of RUN's original training images, so that it does not forget them.
    #[arg(long, value_name = "RUN", requires = "data")]
    pub init: Option<PathBuf>,
    /// With `--init`: original training images per new image, drawn afresh each epoch (0: none).
    #[arg(long, value_name = "RATIO", default_value_t = tune::REHEARSE, requires = "init")]
    pub rehearse: f64,
    /// With `--init`: RUN's training data, when it is not what `emnist train` reads by default
    /// (checked by fingerprint against RUN's record).
    #[arg(long, value_name = "PATH", requires = "init")]
    pub rehearse_data: Option<PathBuf>,
    /// Print the final record as JSON.
    #[arg(long)]
    pub json: bool,
    /// Defaults for the options below: `seed` (the seed's protocol: none of them) or `best`
    /// (augmentation, one-cycle schedule, label smoothing 0.1, 10 % validation, patience 3)
    /// [default: seed; with --init, RUN's options without its validation share].
    #[arg(long, value_parser = named_parser::<Recipe>(Recipe::ALL))]
    pub recipe: Option<Recipe>,
    /// Augment every training image, reproducibly by (seed, step): `handwriting` (random affine,
    /// elastic bending, stroke width; `--augment` alone), `garments` (horizontal flips, shifts of
    /// ±2 px: for Fashion-MNIST) or `off` [default: the recipe's].
    #[arg(long, num_args = 0..=1, default_missing_value = "handwriting", value_name = "KIND",
          value_parser = named_parser::<Augment>(Augment::ALL))]
    pub augment: Option<Augment>,
    /// Learning-rate schedule [default: the recipe's]: constant, cosine (to 1 % of the rate), or
    /// onecycle (rise from rate/25 over 30 % of the run, then fall).
    #[arg(long, value_parser = named_parser::<Schedule>(Schedule::ALL))]
    pub schedule: Option<Schedule>,
    /// Linear warm-up of the learning rate, in epochs [default: the recipe's].
    #[arg(long, value_name = "EPOCHS")]
    pub warmup_epochs: Option<f64>,
    /// Label smoothing of the cross-entropy target, in [0, 1) [default: the recipe's].
    #[arg(long, value_name = "EPS")]
    pub label_smoothing: Option<f64>,
    /// Share of the training part held out for validation; the best epoch's weights are kept
    /// [default: the recipe's; 0: none]. The test part is never used.
    #[arg(long, value_name = "SHARE")]
    pub validation: Option<f64>,
    /// Stop after this many epochs without a better validation accuracy [default: the recipe's].
    #[arg(long, value_name = "EPOCHS")]
    pub patience: Option<usize>,
}

impl TrainArgs {
    pub fn to_config(&self) -> anyhow::Result<emnist_model::train::TrainConfig> {
        use emnist_model::train::TrainConfig;
        let (architecture, start) = match &self.init {
            Some(run) => {
                let record = emnist_model::artifacts::RunDir::new(run).read_record()?;
                let architecture = record.spec.architecture.clone();
                if let Some(m) = self.model {
                    let name = m.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
                    if name != architecture.name() {
                        anyhow::bail!(
                            "`{}` is a {} model and `--init` keeps its architecture: drop `--model {name}`",
                            run.display(),
                            architecture.name(),
                        );
                    }
                }
                if self.hidden.is_some() || self.channels.is_some() {
                    anyhow::bail!("`--init` keeps `{}`'s layers: drop `--hidden` and `--channels`", run.display());
                }
                (architecture, Some(record))
            }
            None => (self.architecture()?, None),
        };
        let out = match (&self.out, &self.init) {
            (Some(out), _) => out.clone(),
            (None, Some(run)) => tuned_dir(run),
            (None, None) => PathBuf::from("models").join(architecture.name()),
        };
        let practice = self.practice(start.as_ref().map(|r| &r.training.practice));
        let learning_rate = match &start {
            // Six significant digits: 0.3 × 3e-4 reads 9e-5, not 8.999999999999999e-5.
            Some(r) if self.lr.is_none() => {
                format!("{:.5e}", r.training.learning_rate * tune::LEARNING_RATE_SHARE).parse().ok()
            }
            _ => self.lr,
        };
        Ok(TrainConfig {
            architecture,
            learning_rate,
            batch_size: self.batch_size,
            epochs: self.epochs.unwrap_or(if start.is_some() { tune::EPOCHS } else { 5 }),
            seed: self.seed,
            class_weights: self.class_weights,
            eval_every: self.eval_every,
            eval_fraction: self.eval_fraction,
            device: self.device,
            threads: self.threads,
            out,
            force: self.force,
            resume: self.resume,
            init: self.init.clone().map(|run| tune::Init { run, rehearse: self.rehearse }),
            practice,
        })
    }

    /// The architecture the flags ask for (without `--init`).
    fn architecture(&self) -> anyhow::Result<emnist_model::Architecture> {
        use emnist_model::Architecture;
        let model = self.model.ok_or_else(|| anyhow::anyhow!("`--model` is required (or `--init RUN`)"))?;
        let architecture = match model {
            ModelArg::Linear => Architecture::Linear,
            ModelArg::Dnn => {
                let hidden = self.hidden.clone().unwrap_or_else(|| vec![512, 256]);
                if hidden.is_empty() || hidden.contains(&0) {
                    anyhow::bail!("`--hidden` needs positive layer sizes, e.g. `--hidden 512,256`");
                }
                Architecture::Dnn { hidden }
            }
            ModelArg::Cnn => {
                let Architecture::Cnn { channels, hidden, dropout } = Architecture::cnn() else { unreachable!() };
                let channels = self.channels.clone().unwrap_or(channels);
                if channels.is_empty() || channels.len() > 4 || channels.contains(&0) {
                    anyhow::bail!("`--channels` needs 1 to 4 positive channel counts, e.g. `--channels 32,64`");
                }
                let hidden = match self.hidden.as_deref() {
                    None => hidden,
                    Some(&[h]) if h > 0 => h,
                    Some(_) => anyhow::bail!("the CNN has one hidden dense layer: `--hidden 128`"),
                };
                Architecture::Cnn { channels, hidden, dropout }
            }
        };
        if model != ModelArg::Cnn && self.channels.is_some() {
            anyhow::bail!("`--channels` is for `--model cnn`");
        }
        if model == ModelArg::Linear && self.hidden.is_some() {
            anyhow::bail!("the linear model has no hidden layers: drop `--hidden`");
        }
        Ok(architecture)
    }

    /// Where a fine-tuning's rehearsal data comes from: `--rehearse-data`, else what `emnist
    /// train` reads by default, in the split the starting run `trained_on` (the synthetic
    /// stand-in has none to look for).
    pub fn rehearsal_source(&self, trained_on: &emnist_model::record::DatasetRef) -> LoadConfig {
        let split = if trained_on.synthetic { None } else { trained_on.split };
        LoadConfig { data: self.rehearse_data.clone(), split, ..self.data.to_config() }
    }

    /// The recipe's practice with the single flags applied; without `--recipe`, the seed's, or
    /// `start`'s (a fine-tuning's starting run) without its validation share.
    pub fn practice(&self, start: Option<&Practice>) -> Practice {
        let mut p = match (self.recipe, start) {
            (Some(r), _) => Practice::of(r),
            (None, Some(p)) => Practice { validation: 0.0, patience: None, ..p.clone() },
            (None, None) => Practice::of(Recipe::Seed),
        };
        p.augment = self.augment.unwrap_or(p.augment);
        p.schedule = self.schedule.unwrap_or(p.schedule);
        p.warmup_epochs = self.warmup_epochs.unwrap_or(p.warmup_epochs);
        p.label_smoothing = self.label_smoothing.unwrap_or(p.label_smoothing);
        if let Some(v) = self.validation {
            p.validation = v;
            if v == 0.0 && self.patience.is_none() {
                p.patience = None;
            }
        }
        p.patience = self.patience.or(p.patience);
        p
    }
}

/// A fine-tuning's default run directory: `models/cnn-best` → `models/cnn-best-tuned`.
fn tuned_dir(run: &std::path::Path) -> PathBuf {
    let name = run.file_name().map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
    run.with_file_name(format!("{name}-tuned"))
}

/// A choice among named values, listed in `--help` and in the error for any other value.
fn named_parser<T>(all: &'static [T]) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: Copy + std::fmt::Display + std::str::FromStr<Err = String> + Send + Sync + 'static,
{
    let names: Vec<String> = all.iter().map(|v| v.to_string()).collect();
    clap::builder::PossibleValuesParser::new(names).try_map(|s| s.parse::<T>())
}
