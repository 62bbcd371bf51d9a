//! Arbitrary bytes as a whole .mat file: header, every variable, then `dataset` into a Dataset.
//!
//! Mirrors `emnist_data::matlab::load` without the filesystem. Errors are expected; panics,
//! hangs and runaway allocations are bugs.

#![no_main]

use std::io::Cursor;

use emnist_data::mat::{self, ReadOptions};
use emnist_data::{matlab, DatasetInfo, SourceFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let header = &data[..data.len().min(128)];
    // MAT v7.3 files are HDF5 with its signature at offset 512, as `matlab::load` checks.
    let tail = data.get(512..520);
    let Ok(big_endian) = mat::parse_header(header, len, tail) else {
        return;
    };
    // `read_variables` seeks to absolute file offsets: give it the whole file, positioned after the header.
    let mut file = Cursor::new(data);
    file.set_position(128);
    let opts = ReadOptions { column_permutation: Some(matlab::column_major_to_row_major()), ..ReadOptions::default() };
    let Ok(vars) = mat::read_variables(file, len, big_endian, &opts, &|_| {}) else {
        return;
    };
    if let Some((_, dataset)) = vars.into_iter().find(|(name, _)| name == "dataset") {
        let info = DatasetInfo { name: "fuzz".into(), split: None, format: SourceFormat::Matlab, path: None };
        let _ = matlab::from_struct(dataset, info);
    }
});
