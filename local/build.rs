//! Embeds the web app (`web/` at the repository root) in the local server's binary: writes
//! `$OUT_DIR/web_assets.rs`, a table of `(path, bytes)` with one `include_bytes!` per file, so
//! `cargo run -p chatman-local` serves the app with no other tool and no files beside the binary.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let web = manifest.join("..").join("web");
    // A directory here makes cargo rebuild when any file under it changes.
    println!("cargo:rerun-if-changed={}", web.display());
    let mut files = Vec::new();
    collect(&web, &web, &mut files);
    files.sort();
    let mut table = String::from("&[\n");
    for (url_path, file) in files {
        table.push_str(&format!(
            "    ({url_path:?}, include_bytes!({:?}) as &[u8]),\n",
            file.display().to_string()
        ));
    }
    table.push(']');
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("web_assets.rs");
    std::fs::write(out, table).expect("writing web_assets.rs");
}

/// Every file under `dir` as `("/relative/path", absolute path)`, skipping dotfiles and docs.
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".md") {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let url: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let absolute = path.canonicalize().unwrap_or(path.clone());
            files.push((format!("/{}", url.join("/")), absolute));
        }
    }
}
