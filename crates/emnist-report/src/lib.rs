//! `emnist-report`: what `emnist` draws and writes for people to read. PNG figures of a dataset
//! and of training runs ([`plot`]), the comparison of runs (`emnist compare`, [`compare`]) and the
//! one-page HTML report (`emnist report`, [`report`]). plotters lives here and nowhere else.

pub mod compare;
pub mod plot;
pub mod report;
