//! A run's recipe: class weights against imbalance, and training practice beyond the seed's
//! protocol: on-the-fly augmentation, a learning-rate schedule with warm-up, label smoothing, and a validation split carved from the training part
//! with early stopping and the best epoch kept. `--recipe seed` (the default) uses none of it, so
//! earlier figures stay comparable; `--recipe best` turns it all on; single flags override either.

use std::str::FromStr;

use emnist_data::setting::Setting;
use serde::{Deserialize, Serialize};

/// A named set of defaults for the practices below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recipe {
    /// The seed's protocol: constant learning rate, no augmentation, no smoothing, no validation.
    #[default]
    Seed,
    /// Augmentation, one-cycle schedule, label smoothing 0.1, 10 % validation with early stopping.
    Best,
}

/// How the learning rate moves over a run (`--schedule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// The base rate throughout (after any warm-up).
    #[default]
    Constant,
    /// Linear warm-up, then half a cosine from the base rate down to 1 % of it.
    Cosine,
    /// Smith's one-cycle: a cosine rise from base/25 to the base rate over the warm-up (at least
    /// 30 % of the run), then a cosine fall to base/25/1000.
    Onecycle,
}

macro_rules! named {
    ($t:ty, $($v:ident => $n:literal),+) => {
        impl $t {
            pub const ALL: &'static [$t] = &[$(<$t>::$v),+];
            pub fn name(self) -> &'static str {
                match self { $(<$t>::$v => $n),+ }
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<$t, String> {
                <$t>::ALL.iter().copied().find(|v| v.name() == s).ok_or_else(|| {
                    format!("`{s}` is not one of {}", <$t>::ALL.iter().map(|v| v.name()).collect::<Vec<_>>().join(", "))
                })
            }
        }
    };
}
/// Which on-the-fly augmentation (`--augment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Augment {
    #[default]
    Off,
    /// For characters: random affine, elastic bending, thicker or thinner strokes (never flips).
    Handwriting,
    /// For garments and other mirror-symmetric objects: horizontal flips and shifts of ±2 pixels.
    Garments,
}

named!(Recipe, Seed => "seed", Best => "best");
named!(Augment, Off => "off", Handwriting => "handwriting", Garments => "garments");
named!(Schedule, Constant => "constant", Cosine => "cosine", Onecycle => "onecycle");

/// Everything a run does beyond the seed's protocol; recorded in `model.json` and checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Practice {
    /// The recipe the defaults came from (flags may have changed single settings).
    pub recipe: Recipe,
    /// Augmentation of every training image, from (seed, step, row).
    pub augment: Augment,
    pub schedule: Schedule,
    /// Warm-up length in epochs (0: none).
    pub warmup_epochs: f64,
    /// Label smoothing of the cross-entropy target, in [0, 1).
    pub label_smoothing: f64,
    /// Share of the training part held out for validation (0: none; never the test part).
    pub validation: f64,
    /// Stop after this many epochs without a better validation accuracy (needs validation).
    pub patience: Option<usize>,
}

impl Default for Practice {
    fn default() -> Self {
        Practice::of(Recipe::Seed)
    }
}

impl Practice {
    /// A recipe's settings.
    pub fn of(recipe: Recipe) -> Practice {
        match recipe {
            Recipe::Seed => Practice {
                recipe,
                augment: Augment::Off,
                schedule: Schedule::Constant,
                warmup_epochs: 0.0,
                label_smoothing: 0.0,
                validation: 0.0,
                patience: None,
            },
            Recipe::Best => Practice {
                recipe,
                augment: Augment::Handwriting,
                schedule: Schedule::Onecycle,
                warmup_epochs: 0.0,
                label_smoothing: 0.1,
                validation: 0.1,
                patience: Some(3),
            },
        }
    }

    /// The checks of the settings.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(format!("{} must be in [0, 1), got {}", Setting::LabelSmoothing, self.label_smoothing));
        }
        if !(0.0..0.9).contains(&self.validation) {
            return Err(format!(
                "{} must be a share of the training part in [0, 0.9), got {}",
                Setting::Validation,
                self.validation
            ));
        }
        if !(self.warmup_epochs >= 0.0 && self.warmup_epochs.is_finite()) {
            return Err(format!("{} must be 0 or more, got {}", Setting::WarmupEpochs, self.warmup_epochs));
        }
        if self.patience.is_some() && self.validation == 0.0 {
            return Err(format!(
                "{} needs a validation split: add {}",
                Setting::Patience,
                Setting::Validation.given(0.1)
            ));
        }
        if self.patience == Some(0) {
            return Err(format!("{} must be at least 1 epoch", Setting::Patience));
        }
        Ok(())
    }

    /// The learning rate for (0-based) `step` of a run of `total` steps, `warmup` of them warm-up.
    pub fn learning_rate(&self, base: f64, step: usize, total: usize, warmup: usize) -> f64 {
        let total = total.max(1) as f64;
        let s = step as f64;
        let cos = |t: f64| 0.5 * (1.0 + (std::f64::consts::PI * t.clamp(0.0, 1.0)).cos());
        match self.schedule {
            Schedule::Constant if (step) < warmup => base * (s + 1.0) / warmup as f64,
            Schedule::Constant => base,
            Schedule::Cosine if step < warmup => base * (s + 1.0) / warmup as f64,
            Schedule::Cosine => {
                let t = (s - warmup as f64) / (total - warmup as f64).max(1.0);
                base * (0.01 + 0.99 * cos(t))
            }
            Schedule::Onecycle => {
                let rise = (warmup as f64).max(0.3 * total);
                let (start, end) = (base / 25.0, base / 25.0 / 1000.0);
                if s < rise {
                    base + (start - base) * cos(s / rise)
                } else {
                    end + (base - end) * cos((s - rise) / (total - rise).max(1.0))
                }
            }
        }
    }
}

/// One epoch's figures on the validation split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationRow {
    /// Epochs completed when measured (1 = after the first).
    pub epoch: usize,
    pub loss: f64,
    pub accuracy: f64,
}

/// What the validation split decided, in `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationRecord {
    /// Training images held out.
    pub images: usize,
    pub rows: Vec<ValidationRow>,
    /// The epoch whose weights were kept (1-based), with the best validation accuracy.
    pub best_epoch: usize,
    pub best_accuracy: f64,
    /// Training stopped before `--epochs` because `--patience` epochs brought no improvement.
    pub stopped_early: bool,
}

/// The rows of the training part held out for validation (`share` of `n`, from the seed),
/// and the rest, each ascending.
pub fn validation_split(seed: u64, share: f64, n: usize) -> (Vec<usize>, Vec<usize>) {
    let held = if share > 0.0 { ((n as f64 * share).round() as usize).clamp(1, n.saturating_sub(1)) } else { 0 };
    let order = emnist_data::rng::permutation(n, &mut emnist_data::rng::Rng::derive(seed, 0x7a1d, 0));
    let (mut val, mut train) = (order[..held].to_vec(), order[held..].to_vec());
    val.sort_unstable();
    train.sort_unstable();
    (val, train)
}

/// Per-class loss weights (`--class-weights`; recorded by name in `model.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClassWeights {
    None,
    /// Weight ∝ 1 / class frequency in train, normalised so the weights average 1 over classes.
    InverseFrequency,
}

impl ClassWeights {
    /// Every choice, as `--help` lists them.
    pub const ALL: [ClassWeights; 2] = [ClassWeights::None, ClassWeights::InverseFrequency];

    pub fn name(self) -> &'static str {
        match self {
            ClassWeights::None => "none",
            ClassWeights::InverseFrequency => "inverse-frequency",
        }
    }

    /// One line for `--help`.
    pub fn description(self) -> &'static str {
        match self {
            ClassWeights::None => "every class weighs the same",
            ClassWeights::InverseFrequency => {
                "loss weight per class ∝ 1 / its frequency in train (the seed's remedy for imbalance)"
            }
        }
    }
}

impl std::fmt::Display for ClassWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ClassWeights {
    type Err = String;

    fn from_str(s: &str) -> Result<ClassWeights, String> {
        ClassWeights::ALL.into_iter().find(|c| c.name() == s).ok_or_else(|| {
            format!(
                "`{s}` is not a class weighting; choose one of {}",
                ClassWeights::ALL.map(ClassWeights::name).join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_errors_list_the_choices() {
        for s in Schedule::ALL {
            assert_eq!(s.name().parse::<Schedule>(), Ok(*s));
        }
        assert_eq!("best".parse::<Recipe>(), Ok(Recipe::Best));
        assert!("fast".parse::<Recipe>().unwrap_err().contains("seed, best"));
    }

    #[test]
    fn schedules_warm_up_peak_at_the_base_rate_and_decay() {
        let p = |schedule| Practice { schedule, ..Practice::of(Recipe::Seed) };
        let constant = p(Schedule::Constant);
        assert_eq!(constant.learning_rate(1.0, 0, 100, 0), 1.0);
        assert_eq!(constant.learning_rate(1.0, 4, 100, 10), 0.5);
        let cosine = p(Schedule::Cosine);
        assert_eq!(cosine.learning_rate(1.0, 9, 100, 10), 1.0);
        assert!((cosine.learning_rate(1.0, 10, 100, 10) - 1.0).abs() < 1e-12);
        assert!((cosine.learning_rate(1.0, 100, 100, 10) - 0.01).abs() < 1e-12);
        let one = p(Schedule::Onecycle);
        assert!((one.learning_rate(1.0, 0, 100, 0) - 0.04).abs() < 1e-12);
        assert!((one.learning_rate(1.0, 30, 100, 0) - 1.0).abs() < 1e-12);
        assert!(one.learning_rate(1.0, 99, 100, 0) < 0.01);
        let rates: Vec<f64> = (0..100).map(|s| one.learning_rate(1.0, s, 100, 0)).collect();
        assert!(rates[..30].windows(2).all(|w| w[0] < w[1]) && rates[30..].windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn validation_rows_come_from_train_only_seeded_and_disjoint() {
        let (val, train) = validation_split(3, 0.1, 1000);
        assert_eq!((val.len(), train.len()), (100, 900));
        let mut all: Vec<usize> = val.iter().chain(&train).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(validation_split(3, 0.1, 1000).0, val);
        assert_ne!(validation_split(4, 0.1, 1000).0, val);
        assert_eq!(validation_split(3, 0.0, 1000).0.len(), 0);
    }

    #[test]
    fn settings_are_checked() {
        assert!(Practice::of(Recipe::Best).validate().is_ok());
        let bad = Practice { patience: Some(2), ..Practice::of(Recipe::Seed) };
        assert!(bad.validate().unwrap_err().ends_with(&format!("add {}", Setting::Validation.given(0.1))));
        let bad = Practice { label_smoothing: 1.0, ..Practice::of(Recipe::Seed) };
        assert!(bad.validate().is_err());
    }
}
