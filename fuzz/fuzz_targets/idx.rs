//! Arbitrary bytes as an idx image file, an idx label file (plain and through gzip, as the CLI
//! reads `.gz` files) and an EMNIST mapping file. Errors are expected; panics, hangs and runaway
//! allocations are bugs.

#![no_main]

use std::io::Cursor;

use emnist_data::idx;
use flate2::read::MultiGzDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let on_read = |_: u64| {};
    for transposed in [false, true] {
        let _ = idx::decode_images(Box::new(Cursor::new(data.to_vec())), transposed, &on_read);
        let gz = MultiGzDecoder::new(Cursor::new(data.to_vec()));
        let _ = idx::decode_images(Box::new(gz), transposed, &on_read);
    }
    let _ = idx::decode_labels(&mut &data[..]);
    let _ = idx::decode_labels(&mut MultiGzDecoder::new(data));
    // `read_mapping` reads the file with `read_to_string`: only UTF-8 text reaches the parser.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = idx::parse_mapping(text, "mapping.txt");
    }
});
