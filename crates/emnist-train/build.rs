//! Build script: put an rpath to libtorch's folder into `emnist-train` so it runs without
//! `LD_LIBRARY_PATH`, keep libtorch_cuda linked, and record libtorch's version. Nothing else.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // torch-sys's `links` key is `tch`, so its `libtorch_lib` output arrives as DEP_TCH_LIBTORCH_LIB.
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    {
        let mut version = "unknown".to_string();
        if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
            // The PyPI wheel records its version beside lib/: torch/version.py `__version__ = '2.13.0+cu130'`.
            let py = std::path::Path::new(&dir).join("../version.py");
            println!("cargo:rerun-if-changed={}", py.display());
            if let Ok(text) = std::fs::read_to_string(&py) {
                if let Some(v) = text.lines().find_map(|l| l.strip_prefix("__version__ = ")) {
                    version = v.trim_matches(|c| c == '\'' || c == '"').to_string();
                }
            }
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
            // Nothing of ours calls into libtorch_cuda directly, so `--as-needed` would drop it
            // and libtorch would never see a GPU: keep it linked when the libtorch has it.
            if std::path::Path::new(&dir).join("libtorch_cuda.so").exists() {
                println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
            }
        }
        println!("cargo:rustc-env=EMNIST_LIBTORCH_VERSION={version}");
    }
}
